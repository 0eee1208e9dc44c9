package store

import (
	"context"
	"database/sql"
	"fmt"
	"path/filepath"
	"testing"
)

func TestStatementCache(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db, err := Open(ctx, filepath.Join(t.TempDir(), "c.db"), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.ExecContext(ctx, `CREATE TABLE kv (k TEXT PRIMARY KEY, v INTEGER)`); err != nil {
		t.Fatal(err)
	}
	cached := func() int {
		db.stmts.mu.RLock()
		defer db.stmts.mu.RUnlock()
		return len(db.stmts.stmts)
	}
	base := cached()
	for i := range 3 {
		if _, err := db.ExecContext(ctx, `INSERT INTO kv (k, v) VALUES ($1, $2)`, fmt.Sprint("k", i), i); err != nil {
			t.Fatal(err)
		}
	}
	var sum int
	if err := db.QueryRowContext(ctx, `SELECT SUM(v) FROM kv WHERE v >= $1`, 0).Scan(&sum); err != nil || sum != 3 {
		t.Fatalf("sum = %d, %v", sum, err)
	}
	if got := cached() - base; got != 2 {
		t.Fatalf("%d statements cached for 2 distinct queries run 4 times", got)
	}
	// A statement that does not prepare reports its error and is not cached.
	if _, err := db.QueryContext(ctx, `SELEKT nonsense`); err == nil {
		t.Fatal("bad SQL ran without error")
	}
	if got := cached() - base; got != 2 {
		t.Fatalf("bad SQL was cached (%d)", got)
	}
	// The cache is bounded: queries built at run time stop being cached at
	// the bound but still run.
	for i := range maxCachedStmts + 10 {
		var v int
		if err := db.QueryRowContext(ctx, fmt.Sprintf(`SELECT %d`, i)).Scan(&v); err != nil || v != i {
			t.Fatalf("query %d: %d, %v", i, v, err)
		}
	}
	if got := cached(); got != maxCachedStmts {
		t.Fatalf("cache holds %d statements, bound is %d", got, maxCachedStmts)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := db.ExecContext(ctx, `INSERT INTO kv (k, v) VALUES ($1, $2)`, "late", 1); err == nil {
		t.Fatal("exec after Close succeeded")
	}
}

// TestPoolKeepsIdleConnections: connections opened under concurrency stay
// open when released. database/sql keeps two idle connections by default;
// closing the others threw away their prepared statements, and every new
// SQLite connection parses the whole schema again.
func TestPoolKeepsIdleConnections(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db, err := Open(ctx, filepath.Join(t.TempDir(), "p.db"), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for range 3 {
		conns := make([]*sql.Conn, 8)
		for i := range conns {
			if conns[i], err = db.DB.Conn(ctx); err != nil {
				t.Fatal(err)
			}
		}
		for _, c := range conns {
			if err := c.Close(); err != nil {
				t.Fatal(err)
			}
		}
	}
	st := db.DB.Stats()
	if st.MaxIdleClosed != 0 || st.OpenConnections != 8 {
		t.Fatalf("pool closed %d connections for exceeding the idle limit, holds %d open", st.MaxIdleClosed, st.OpenConnections)
	}
}
