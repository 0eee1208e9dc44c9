// Package storetest opens fresh, migrated databases for tests on every
// engine that is available: SQLite always, PostgreSQL when
// HEARTH_TEST_POSTGRES_URL is set (each test gets its own database, a copy
// of a migrated template, dropped at cleanup). Domain contract suites loop
// over Engines so the same assertions run on both adapters.
package storetest

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

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
// It starts as a copy of this process's first migrated database (see
// SeedSQLite) and is migrated again, which finds nothing to do.
func OpenSQLite(t testing.TB) *store.DB {
	t.Helper()
	path := filepath.Join(t.TempDir(), "hearth.db")
	SeedSQLite(t, path)
	db, err := store.Open(context.Background(), path, nil)
	if err != nil {
		t.Fatalf("open sqlite: %v", err)
	}
	t.Cleanup(func() { _ = db.Close() })
	if err := db.Migrate(context.Background()); err != nil {
		t.Fatalf("migrate sqlite: %v", err)
	}
	return db
}

// SeedSQLite writes a freshly migrated SQLite database at path (which must
// not exist), for a test that opens the file itself (a node's data
// directory). Migrating from nothing costs most of a second of CPU under the
// race detector (goose parses every migration, on each database), so the
// process migrates one database once and each test gets a copy of its file.
// The first database of every test process is still migrated from nothing.
func SeedSQLite(t testing.TB, path string) {
	t.Helper()
	b, err := sqliteTemplate()
	if err != nil {
		t.Fatalf("migrated sqlite template: %v", err)
	}
	f, err := os.OpenFile(path, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
	if err != nil {
		t.Fatalf("seed sqlite: %v", err)
	}
	_, err = f.Write(b)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		t.Fatalf("seed sqlite: %v", err)
	}
}

// SeedNode seeds a node's SQLite database before the node first starts
// (SeedSQLite): dsn is what the node opens (config.DatabaseDSN). A
// PostgreSQL DSN or a file that exists (a node started again) is left alone.
func SeedNode(t testing.TB, dsn string) {
	t.Helper()
	if strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://") {
		return
	}
	if _, err := os.Stat(dsn); !errors.Is(err, fs.ErrNotExist) {
		return
	}
	SeedSQLite(t, dsn)
}

// sqliteTemplate is the file of a database migrated from nothing, closed
// (its write-ahead log checkpointed into it).
var sqliteTemplate = sync.OnceValues(func() ([]byte, error) {
	dir, err := os.MkdirTemp("", "hearth-storetest-")
	if err != nil {
		return nil, err
	}
	defer func() { _ = os.RemoveAll(dir) }()
	path := filepath.Join(dir, "hearth.db")
	ctx := context.Background()
	db, err := store.Open(ctx, path, nil)
	if err != nil {
		return nil, err
	}
	if err := db.Migrate(ctx); err != nil {
		_ = db.Close()
		return nil, err
	}
	if err := db.Close(); err != nil {
		return nil, err
	}
	if _, err := os.Stat(path + "-wal"); err == nil {
		return nil, errors.New("write-ahead log left after close")
	}
	return os.ReadFile(path)
})

// PostgresDSN creates a database on the test server, a copy of a migrated
// template (CREATE DATABASE … TEMPLATE), and returns its DSN; the database
// is dropped at cleanup. Migrating a database from nothing costs about a
// second under the race detector (goose parses every migration each time,
// and the server runs some fifty DDL transactions); a copy is a few tens of
// milliseconds. The template is made once per set of migrations
// (store.MigrationsDigest) and shared by every test process.
func PostgresDSN(t testing.TB) string {
	t.Helper()
	return newDatabase(t, "")
}

// EmptyPostgresDSN creates an empty database on the test server (for a test
// of migrating from nothing) and returns its DSN; it is dropped at cleanup.
func EmptyPostgresDSN(t testing.TB) string {
	t.Helper()
	return newDatabase(t, "template0")
}

// newDatabase creates a database on the test server from template (""
// for the migrated one), drops it at cleanup, and returns its DSN.
func newDatabase(t testing.TB, template string) string {
	t.Helper()
	if PostgresURL() == "" {
		t.Skip("HEARTH_TEST_POSTGRES_URL not set")
	}
	tp, err := pgTemplate()
	if err != nil {
		t.Fatalf("postgres template: %v", err)
	}
	if template == "" {
		template = tp.name
	}
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	name := "hearth_t_" + hex.EncodeToString(b)
	if _, err := tp.admin.Exec(`CREATE DATABASE ` + name + ` TEMPLATE ` + template); err != nil {
		t.Fatalf("create database: %v", err)
	}
	t.Cleanup(func() { _, _ = tp.admin.Exec(`DROP DATABASE IF EXISTS ` + name + ` WITH (FORCE)`) })
	return withDatabase(PostgresURL(), name)
}

// templateKeep is how long a template database for other migrations is
// kept (pgTemplate).
const templateKeep = 6 * time.Hour

// pgTemplate returns a connection to the test server's maintenance database
// and the name of the migrated template database for this build's
// migrations, making the template if no process has (under an advisory lock,
// as test processes run side by side). When a new one is made, templates
// for other migrations made over templateKeep ago are dropped: dropping one
// at once failed every test of another branch's run still copying it.
var pgTemplate = sync.OnceValues(func() (pgTmpl, error) {
	admin, err := sql.Open("pgx", PostgresURL())
	if err != nil {
		return pgTmpl{}, err
	}
	digest := store.MigrationsDigest()
	name := "hearth_tmpl_" + digest[:16]
	ctx := context.Background()
	conn, err := admin.Conn(ctx)
	if err != nil {
		return pgTmpl{}, err
	}
	defer func() { _ = conn.Close() }()
	if _, err := conn.ExecContext(ctx, `SELECT pg_advisory_lock(4877201)`); err != nil {
		return pgTmpl{}, err
	}
	defer func() { _, _ = conn.ExecContext(ctx, `SELECT pg_advisory_unlock(4877201)`) }()
	var n int
	if err := conn.QueryRowContext(ctx, `SELECT count(*) FROM pg_database WHERE datname = $1`, name).Scan(&n); err != nil {
		return pgTmpl{}, err
	}
	if n == 1 {
		return pgTmpl{admin, name}, nil
	}
	// Made under another name and renamed when migrated, so a process
	// killed halfway leaves no template that looks finished.
	const building = "hearth_tmpl_building"
	rows, err := conn.QueryContext(ctx, `SELECT datname, coalesce(shobj_description(oid, 'pg_database'), '') FROM pg_database
		WHERE datname LIKE 'hearth\_tmpl\_%'`)
	if err != nil {
		return pgTmpl{}, err
	}
	var old []string
	for rows.Next() {
		var d, made string
		if err := rows.Scan(&d, &made); err != nil {
			rows.Close()
			return pgTmpl{}, err
		}
		// Another set of migrations' template (another branch's test run
		// may still be copying it) goes once it is older than
		// templateKeep; one left by a process killed while building, at
		// once (the lock is ours).
		if at, err := strconv.ParseInt(made, 10, 64); d == building || err != nil || time.Since(time.Unix(at, 0)) > templateKeep {
			old = append(old, d)
		}
	}
	rows.Close()
	for _, d := range old {
		if _, err := conn.ExecContext(ctx, `DROP DATABASE IF EXISTS `+d+` WITH (FORCE)`); err != nil {
			return pgTmpl{}, err
		}
	}
	if _, err := conn.ExecContext(ctx, `CREATE DATABASE `+building+` TEMPLATE template0`); err != nil {
		return pgTmpl{}, err
	}
	db, err := store.Open(ctx, withDatabase(PostgresURL(), building), nil)
	if err != nil {
		return pgTmpl{}, err
	}
	err = db.Migrate(ctx)
	if cerr := db.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return pgTmpl{}, err
	}
	if _, err := conn.ExecContext(ctx, `COMMENT ON DATABASE `+building+` IS '`+strconv.FormatInt(time.Now().Unix(), 10)+`'`); err != nil {
		return pgTmpl{}, err
	}
	if _, err := conn.ExecContext(ctx, `ALTER DATABASE `+building+` RENAME TO `+name); err != nil {
		return pgTmpl{}, err
	}
	return pgTmpl{admin, name}, nil
})

type pgTmpl struct {
	admin *sql.DB
	name  string
}

// withDatabase is base naming database name instead.
func withDatabase(base, name string) string {
	u, err := url.Parse(base)
	if err != nil {
		return base
	}
	u.Path = "/" + name
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
