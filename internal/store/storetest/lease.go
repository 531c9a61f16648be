package storetest

import (
	"context"
	"testing"
	"time"

	"github.com/bannin-soc/bannin/internal/store/sqlstore"
)

// testPollLease: of two takers of one lease only one holds it (on
// PostgreSQL; SQLite is one node and always grants it), and a released lease
// can be taken again.
func testPollLease(t *testing.T, db *sqlstore.DB) {
	ctx := t.Context()
	l1, ok, err := db.TryLease(ctx, "poll:a/falcon")
	if err != nil || !ok {
		t.Fatalf("first TryLease = %v, %v; want granted", ok, err)
	}
	_, ok2, err := db.TryLease(ctx, "poll:a/falcon")
	if err != nil {
		t.Fatal(err)
	}
	if pg := db.Dialect().Name == sqlstore.Postgres.Name; ok2 == pg {
		t.Errorf("second TryLease granted = %v on %s; want %v", ok2, db.Dialect().Name, !pg)
	}
	if other, ok, err := db.TryLease(ctx, "poll:a/other"); err != nil || !ok {
		t.Errorf("another source's lease = %v, %v; want granted", ok, err)
	} else {
		other.Release()
	}
	if err := l1.Alive(ctx); err != nil {
		t.Errorf("held lease not alive: %v", err)
	}
	l1.Release()
	l3, ok, err := db.TryLease(context.WithoutCancel(ctx), "poll:a/falcon")
	if err != nil || !ok {
		t.Fatalf("TryLease after release = %v, %v; want granted", ok, err)
	}
	l3.Release()
}

// testPrevalenceWith: the judged alert counts once, whether or not its host
// and day are already among the sightings.
func testPrevalenceWith(t *testing.T, db *sqlstore.DB) {
	day := 24 * time.Hour
	insertAlert(t, db, 0, newAlert("a", "w1", "web01", hashA, t0))
	insertAlert(t, db, 0, newAlert("a", "w2", "web02", hashA, t0.Add(day)))
	probe := newAlert("a", "", "any", hashA, t0)
	pattern := probe.Pattern()
	for _, c := range []struct {
		name        string
		host        string
		at          time.Time
		hosts, days int
	}{
		{"known host and day", "web01", t0.Add(time.Hour), 2, 2},
		{"new host, known day", "web03", t0, 3, 2},
		{"known host, new day", "web02", t0.Add(2 * day), 2, 3},
	} {
		inTx(t, db, func(ctx context.Context, tx *sqlstore.Tx) error {
			hosts, days, err := tx.PrevalenceWith(ctx, "a", pattern, t0.Add(-day), c.host, c.at)
			if hosts != c.hosts || days != c.days {
				t.Errorf("%s: PrevalenceWith = %d hosts, %d days; want %d, %d", c.name, hosts, days, c.hosts, c.days)
			}
			return err
		})
	}
}
