package sqlite_test

import (
	"path/filepath"
	"testing"

	"github.com/bannin-soc/bannin/internal/store/sqlite"
	"github.com/bannin-soc/bannin/internal/store/sqlstore"
	"github.com/bannin-soc/bannin/internal/store/storetest"
)

// TestConformance runs the store suite on a fresh SQLite file per subtest.
func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) *sqlstore.DB {
		t.Helper()
		db, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "bannin.db"))
		if err != nil {
			t.Fatalf("open: %v", err)
		}
		t.Cleanup(func() {
			if err := db.Close(); err != nil {
				t.Errorf("close: %v", err)
			}
		})
		return db
	})
}
