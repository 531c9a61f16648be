package sqlite

import (
	"database/sql"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pressly/goose/v3"
)

// TestRollupsWithoutRowid migrates a store holding rollup rows from 00012
// to 00013 and checks every row survived into the WITHOUT ROWID tables.
func TestRollupsWithoutRowid(t *testing.T) {
	ctx := t.Context()
	db, err := sql.Open("sqlite", "file:"+filepath.Join(t.TempDir(), "old.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	p, err := goose.NewProvider(goose.DialectSQLite3, db, mustSub(migrations, "migrations"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.UpTo(ctx, 12); err != nil {
		t.Fatal(err)
	}
	rows := map[string]string{
		"incident_keys": `('t1','fp','abc',7,100),('t1','host','pc-1',7,200),('t2','fp','abc',9,300)`,
		"pattern_hosts": `('t1','p1','pc-1',100),('t1','p1','pc-2',150)`,
		"pattern_days":  `('t1','p1',20000,100),('t1','p1',20001,150)`,
		"hash_hosts":    `('t1','ab12','pc-1',7,100)`,
	}
	want := map[string]int{}
	for table, values := range rows {
		if _, err := db.ExecContext(ctx, "INSERT INTO "+table+" VALUES "+values); err != nil {
			t.Fatalf("%s: %v", table, err)
		}
		want[table] = strings.Count(values, "(")
	}
	if _, err := p.Up(ctx); err != nil {
		t.Fatal(err)
	}
	for table, n := range want {
		var got int
		if err := db.QueryRowContext(ctx, "SELECT COUNT(*) FROM "+table).Scan(&got); err != nil {
			t.Fatal(err)
		}
		if got != n {
			t.Errorf("%s: %d rows after the migration, want %d", table, got, n)
		}
		var ddl string
		if err := db.QueryRowContext(ctx, "SELECT sql FROM sqlite_master WHERE type='table' AND name=$1", table).Scan(&ddl); err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(ddl, "WITHOUT ROWID") {
			t.Errorf("%s is not WITHOUT ROWID: %s", table, ddl)
		}
	}
	var latest int64
	if err := db.QueryRowContext(ctx, "SELECT latest FROM incident_keys WHERE tenant='t1' AND kind='host' AND key='pc-1' AND incident_id=7").Scan(&latest); err != nil || latest != 200 {
		t.Errorf("incident_keys row: latest %d, %v; want 200", latest, err)
	}
	var idx int
	if err := db.QueryRowContext(ctx, "SELECT COUNT(*) FROM sqlite_master WHERE type='index' AND name='pattern_hosts_recent'").Scan(&idx); err != nil || idx != 1 {
		t.Errorf("pattern_hosts_recent: %d, %v", idx, err)
	}
}
