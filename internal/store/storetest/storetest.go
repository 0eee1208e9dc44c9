// Package storetest opens fresh, migrated databases for tests on every
// engine that is available: SQLite always, PostgreSQL when
// HEARTH_TEST_POSTGRES_URL is set (each test gets its own schema, dropped at
// cleanup). Domain contract suites loop over Engines so the same assertions
// run on both adapters.
package storetest

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"net/url"
	"os"
	"path/filepath"
	"testing"

	_ "github.com/jackc/pgx/v5/stdlib" // "pgx" driver for schema setup

	"github.com/hearth-community/hearth/internal/store"
)

// Engine is a way to get a fresh database.
type Engine struct {
	Name string
	Open func(t testing.TB) *store.DB
}

// PostgresURL is the test PostgreSQL server, or "" when none is configured.
func PostgresURL() string { return os.Getenv("HEARTH_TEST_POSTGRES_URL") }

// Engines lists the engines to test on.
func Engines() []Engine {
	e := []Engine{{Name: "sqlite", Open: OpenSQLite}}
	if PostgresURL() != "" {
		e = append(e, Engine{Name: "postgres", Open: OpenPostgres})
	}
	return e
}

// OpenSQLite returns a migrated SQLite database in a temporary directory.
func OpenSQLite(t testing.TB) *store.DB {
	t.Helper()
	db, err := store.Open(context.Background(), filepath.Join(t.TempDir(), "hearth.db"), nil)
	if err != nil {
		t.Fatalf("open sqlite: %v", err)
	}
	t.Cleanup(func() { _ = db.Close() })
	if err := db.Migrate(context.Background()); err != nil {
		t.Fatalf("migrate sqlite: %v", err)
	}
	return db
}

// PostgresDSN creates an empty schema on the test server and returns a DSN
// whose search_path points at it; the schema is dropped at cleanup.
func PostgresDSN(t testing.TB) string {
	t.Helper()
	base := PostgresURL()
	if base == "" {
		t.Skip("HEARTH_TEST_POSTGRES_URL not set")
	}
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	schema := "t_" + hex.EncodeToString(b)
	admin, err := sql.Open("pgx", base)
	if err != nil {
		t.Fatalf("postgres: %v", err)
	}
	if _, err := admin.Exec(`CREATE SCHEMA ` + schema); err != nil {
		_ = admin.Close()
		t.Fatalf("create schema: %v", err)
	}
	t.Cleanup(func() {
		_, _ = admin.Exec(`DROP SCHEMA ` + schema + ` CASCADE`)
		_ = admin.Close()
	})
	u, err := url.Parse(base)
	if err != nil {
		t.Fatalf("postgres url: %v", err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String()
}

// OpenPostgres returns a migrated PostgreSQL database in a fresh schema.
func OpenPostgres(t testing.TB) *store.DB {
	t.Helper()
	db, err := store.Open(context.Background(), PostgresDSN(t), nil)
	if err != nil {
		t.Fatalf("open postgres: %v", err)
	}
	t.Cleanup(func() { _ = db.Close() })
	if err := db.Migrate(context.Background()); err != nil {
		t.Fatalf("migrate postgres: %v", err)
	}
	return db
}
