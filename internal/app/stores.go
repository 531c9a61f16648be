package app

import (
	"context"

	"github.com/bannin-soc/bannin/internal/response"
	"github.com/bannin-soc/bannin/internal/store/sqlstore"
)

// The domain packages declare the transactions they work in with their own
// Tx interfaces; these adapters begin a store transaction and hand it on
// as that interface. *sqlstore.Tx implements each (checked in sqlstore).

type responseStore struct{ db *sqlstore.DB }

func (s responseStore) InTx(ctx context.Context, fn func(response.Tx) error) error {
	return s.db.InTx(ctx, func(tx *sqlstore.Tx) error { return fn(tx) })
}
