// Package store is Hearth's persistence: one DB handle over either embedded
// SQLite (modernc.org/sqlite, the default) or PostgreSQL (pgx), chosen by the
// DSN alone. Schema lives in per-engine goose migrations embedded in the
// binary (migrations/sqlite, migrations/postgres) and runs at start and by
// `hearth migrate`.
//
// Queries are hand-written SQL in this package, one file per domain store,
// using $N placeholders, which both drivers bind by number. Where the engines
// differ (full-text search, a few DDL types) the code branches on DB.Engine.
// Every domain store runs the same contract suite against both engines
// (package storetest).
package store

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"embed"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

//go:embed migrations
var migrations embed.FS

// Engine names a database engine.
type Engine string

// The engines Hearth runs on.
const (
	SQLite   Engine = "sqlite"
	Postgres Engine = "postgres"
)

// ErrNotFound is returned by lookups that match no row.
var ErrNotFound = errors.New("store: not found")

// ErrConflict is returned when a write breaks a uniqueness rule.
var ErrConflict = errors.New("store: conflict")

// DB is an open, migrated database.
type DB struct {
	*sql.DB
	Engine Engine
	lock   *os.File // SQLite only: exclusive lock on <db>.lock
	log    *slog.Logger
	stmts  *stmtCache // SQLite only: prepared statements by SQL text
}

// Open opens the database named by dsn (a SQLite file path or a postgres://
// URL) without migrating it. Errors are one line and never contain a password.
func Open(ctx context.Context, dsn string, logger *slog.Logger) (*DB, error) {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	if isPostgres(dsn) {
		return openPostgres(ctx, dsn, logger)
	}
	return openSQLite(ctx, dsn, logger)
}

func openSQLite(ctx context.Context, path string, logger *slog.Logger) (*DB, error) {
	if dir := filepath.Dir(path); dir != "" {
		if err := os.MkdirAll(dir, 0o750); err != nil {
			return nil, fmt.Errorf("database %s: %w", path, err)
		}
	}
	// One process owns a SQLite database: a second Hearth on the same file
	// would double every background job. flock is released by the kernel when
	// the process dies, so kill -9 never leaves a stale lock.
	lf, err := os.OpenFile(path+".lock", os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, fmt.Errorf("database %s: %w", path, err)
	}
	if err := lockWithin(lf, lockWait); err != nil {
		lf.Close()
		return nil, fmt.Errorf("database %s is locked by another process (is another hearth running on this data directory?)", path)
	}
	// WAL + synchronous=NORMAL: a committed transaction survives a crash of
	// the process (kill -9); only an OS crash or power loss may lose the last
	// transactions. _txlock=immediate takes the write lock at BEGIN, so two
	// writers never deadlock upgrading read locks.
	q := url.Values{}
	for _, p := range []string{"journal_mode(WAL)", "synchronous(NORMAL)", "busy_timeout(10000)", "foreign_keys(1)"} {
		q.Add("_pragma", p)
	}
	q.Set("_txlock", "immediate")
	sqldb := sql.OpenDB(sqliteConnector{dsn: "file:" + path + "?" + q.Encode()})
	// As many idle connections as open ones: database/sql keeps only two by
	// default, so under concurrency the others were closed and reopened, and
	// every new SQLite connection parses the whole schema again and loses
	// its prepared statements (10 % of the server's CPU under load).
	sqldb.SetMaxOpenConns(8)
	sqldb.SetMaxIdleConns(8)
	sqldb.SetConnMaxIdleTime(5 * time.Minute)
	var mode string
	if err := sqldb.QueryRowContext(ctx, "PRAGMA journal_mode").Scan(&mode); err != nil {
		_ = sqldb.Close()
		lf.Close()
		return nil, fmt.Errorf("database %s: %w", path, sqliteErr(err))
	}
	if !strings.EqualFold(mode, "wal") {
		_ = sqldb.Close()
		lf.Close()
		return nil, fmt.Errorf("database %s: could not enable WAL mode (got %q)", path, mode)
	}
	return &DB{DB: sqldb, Engine: SQLite, lock: lf, log: logger, stmts: &stmtCache{stmts: map[string]*sql.Stmt{}}}, nil
}

// lockWait is how long a node waits for the database's lock before it
// gives up: the lock of a process that just closed the database can
// outlive the close for a moment when a child process (ffmpeg) was forked
// while the lock's descriptor was open (the child holds a copy until its
// exec closes it), so a restart in place must not fail on the first try.
const lockWait = 3 * time.Second

// lockWithin takes an exclusive flock on f, trying again for up to wait.
func lockWithin(f *os.File, wait time.Duration) error {
	deadline := time.Now().Add(wait)
	for {
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if err == nil || time.Now().After(deadline) {
			return err
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func sqliteErr(err error) error {
	var se *sqlite.Error
	if errors.As(err, &se) && (se.Code()&0xff == sqlite3.SQLITE_BUSY || se.Code()&0xff == sqlite3.SQLITE_LOCKED) {
		return errors.New("database is locked by another process")
	}
	return err
}

func openPostgres(ctx context.Context, dsn string, logger *slog.Logger) (*DB, error) {
	u, err := url.Parse(dsn)
	if err != nil {
		return nil, errors.New("database: invalid PostgreSQL URL")
	}
	shown := u.Redacted()
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		return nil, fmt.Errorf("database %s: %s", shown, oneLine(err))
	}
	sqldb := sql.OpenDB(nulFreeConnector{stdlib.GetConnector(*cfg)})
	sqldb.SetMaxOpenConns(20)
	sqldb.SetMaxIdleConns(20) // see openSQLite: pgx's statement cache is per connection
	sqldb.SetConnMaxIdleTime(5 * time.Minute)
	pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if err := sqldb.PingContext(pctx); err != nil {
		_ = sqldb.Close()
		return nil, fmt.Errorf("database %s: cannot connect: %s", shown, oneLine(err))
	}
	return &DB{DB: sqldb, Engine: Postgres, log: logger}, nil
}

func oneLine(err error) string {
	return strings.Join(strings.Fields(err.Error()), " ")
}

// Migrate brings the schema up to date. Safe to run from several nodes at
// once on PostgreSQL (an advisory lock serialises them).
func (db *DB) Migrate(ctx context.Context) error {
	dir := "migrations/" + string(db.Engine)
	sub, err := fs.Sub(migrations, dir)
	if err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	dialect := goose.DialectSQLite3
	// Surfaces add migrations in their own number ranges, so a database may
	// see a lower version after a higher one.
	opts := []goose.ProviderOption{goose.WithAllowOutofOrder(true), goose.WithGoMigrations(cleanNamesMigration(), nameKeysMigration(), ipBanNetsMigration())}
	if db.Engine == Postgres {
		dialect = goose.DialectPostgres
		locker, err := lock.NewPostgresSessionLocker()
		if err != nil {
			return fmt.Errorf("migrate: %w", err)
		}
		opts = append(opts, goose.WithSessionLocker(locker))
	}
	p, err := goose.NewProvider(dialect, db.DB, sub, opts...)
	if err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	res, err := p.Up(ctx)
	if err != nil {
		return fmt.Errorf("migrate: %s", oneLine(sqliteErr(err)))
	}
	for _, r := range res {
		if r.Source.Path == "" { // a Go migration (cleanNamesMigration, nameKeysMigration, ipBanNetsMigration)
			db.log.Info("migration applied", "version", r.Source.Version, "go", true)
			continue
		}
		db.log.Info("migration applied", "version", r.Source.Version, "file", filepath.Base(r.Source.Path))
	}
	return nil
}

// MigrationsDigest is a hex SHA-256 of every embedded migration file of
// both engines: a test server keeps migrated template databases under it
// (storetest), so a changed migration never reuses an old template.
func MigrationsDigest() string {
	h := sha256.New()
	_ = fs.WalkDir(migrations, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := fs.ReadFile(migrations, p)
		if err != nil {
			return err
		}
		fmt.Fprintf(h, "%s %d\n", p, len(b))
		h.Write(b)
		return nil
	})
	return hex.EncodeToString(h.Sum(nil))
}

// Close closes the database and releases the SQLite file lock.
func (db *DB) Close() error {
	db.stmts.close()
	err := db.DB.Close()
	if db.lock != nil {
		db.lock.Close()
	}
	return err
}

// IsUniqueViolation reports whether err is a unique-constraint violation on
// either engine.
func IsUniqueViolation(err error) bool {
	var se *sqlite.Error
	if errors.As(err, &se) {
		return se.Code() == sqlite3.SQLITE_CONSTRAINT_UNIQUE || se.Code() == sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY
	}
	var pe *pgconn.PgError
	return errors.As(err, &pe) && pe.Code == "23505"
}

// Micros is the storage form of a time: microseconds since the Unix epoch, a
// BIGINT on both engines (so the same SQL sorts and compares on both).
func Micros(t time.Time) int64 { return t.UnixMicro() }

// FromMicros turns a stored time back into a UTC time.Time.
func FromMicros(us int64) time.Time { return time.UnixMicro(us).UTC() }

// NullMicros stores an optional time.
func NullMicros(t *time.Time) sql.NullInt64 {
	if t == nil {
		return sql.NullInt64{}
	}
	return sql.NullInt64{Int64: t.UnixMicro(), Valid: true}
}

// TimePtr turns a stored optional time back into *time.Time.
func TimePtr(n sql.NullInt64) *time.Time {
	if !n.Valid {
		return nil
	}
	t := FromMicros(n.Int64)
	return &t
}

// InTx runs fn in a transaction, committing when fn returns nil.
func (db *DB) InTx(ctx context.Context, fn func(tx *sql.Tx) error) error {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	if err := fn(tx); err != nil {
		_ = tx.Rollback()
		return err
	}
	return tx.Commit()
}

// lockRow holds the row of table with id until tx ends, on PostgreSQL, so
// a count of its children taken next stays true until tx inserts one
// (concurrent inserts would each see the count before the others'). On
// SQLite it does nothing: its transactions take the write lock at BEGIN
// (_txlock=immediate), so they already run one at a time. table is one
// of the schema's names, never input.
func (db *DB) lockRow(ctx context.Context, tx *sql.Tx, table, id string) error {
	if db.Engine != Postgres {
		return nil
	}
	_, err := tx.ExecContext(ctx, `SELECT 1 FROM `+table+` WHERE id=$1 FOR UPDATE`, id)
	return err
}

// underBound holds the row of table with id (lockRow) and answers full
// when count, a query of that row's children taking id as $1 (and args
// as $2…), has reached max already: the count stays true until tx inserts.
func (db *DB) underBound(ctx context.Context, tx *sql.Tx, table, id, count string, max int, full error, args ...any) error {
	if err := db.lockRow(ctx, tx, table, id); err != nil {
		return err
	}
	var n int
	if err := tx.QueryRowContext(ctx, count, append([]any{id}, args...)...).Scan(&n); err != nil {
		return err
	}
	if n >= max {
		return full
	}
	return nil
}

// Ping checks the database answers (for /healthz).
func (db *DB) Ping(ctx context.Context) error { return db.PingContext(ctx) }

// isPostgres reports whether dsn names a PostgreSQL database (the same
// rule as config.IsPostgres; the adapter does not import config).
func isPostgres(dsn string) bool {
	return strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://")
}
