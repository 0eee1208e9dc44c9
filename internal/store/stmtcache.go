package store

import (
	"context"
	"database/sql"
	"sync"
)

// maxCachedStmts bounds the statement cache: queries built at run time (IN
// lists of varying length) must not grow it without limit. Past the bound a
// query simply runs unprepared.
const maxCachedStmts = 1024

// stmtCache keeps one prepared statement per SQL text. modernc's SQLite
// driver prepares (parses and plans) every statement it is handed anew,
// which under load cost more CPU than executing them; database/sql's Stmt
// prepares a statement once per pooled connection and reuses it. pgx caches
// statements per connection itself, so the cache is used for SQLite only.
type stmtCache struct {
	mu    sync.RWMutex
	stmts map[string]*sql.Stmt
}

// stmt returns the cached prepared statement for q, preparing it on first
// use, or nil when q should run unprepared (PostgreSQL, a full cache, or a
// statement that fails to prepare: running it unprepared reports the error).
func (db *DB) stmt(ctx context.Context, q string) *sql.Stmt {
	c := db.stmts
	if c == nil {
		return nil
	}
	c.mu.RLock()
	st := c.stmts[q]
	n := len(c.stmts)
	c.mu.RUnlock()
	if st != nil || n >= maxCachedStmts {
		return st
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if st := c.stmts[q]; st != nil {
		return st
	}
	if c.stmts == nil { // closed
		return nil
	}
	st, err := db.DB.PrepareContext(context.WithoutCancel(ctx), q)
	if err != nil {
		return nil
	}
	c.stmts[q] = st
	return st
}

func (c *stmtCache) close() {
	if c == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, st := range c.stmts {
		_ = st.Close()
	}
	c.stmts = nil
}

// QueryContext runs q through the statement cache where there is one.
func (db *DB) QueryContext(ctx context.Context, q string, args ...any) (*sql.Rows, error) {
	if st := db.stmt(ctx, q); st != nil {
		return st.QueryContext(ctx, args...)
	}
	return db.DB.QueryContext(ctx, q, args...)
}

// QueryRowContext runs q through the statement cache where there is one.
func (db *DB) QueryRowContext(ctx context.Context, q string, args ...any) *sql.Row {
	if st := db.stmt(ctx, q); st != nil {
		return st.QueryRowContext(ctx, args...)
	}
	return db.DB.QueryRowContext(ctx, q, args...)
}

// ExecContext runs q through the statement cache where there is one.
func (db *DB) ExecContext(ctx context.Context, q string, args ...any) (sql.Result, error) {
	if st := db.stmt(ctx, q); st != nil {
		return st.ExecContext(ctx, args...)
	}
	return db.DB.ExecContext(ctx, q, args...)
}

// txExec runs q inside tx through the statement cache where there is one:
// the cached statement is reused on tx's connection (database/sql prepares
// it once per pooled connection), where tx.ExecContext would parse and plan
// q again on every call. Batches (room chat, room saves) run this way.
func (db *DB) txExec(ctx context.Context, tx *sql.Tx, q string, args ...any) (sql.Result, error) {
	if st := db.stmt(ctx, q); st != nil {
		ts := tx.StmtContext(ctx, st)
		defer func() { _ = ts.Close() }()
		return ts.ExecContext(ctx, args...)
	}
	return tx.ExecContext(ctx, q, args...)
}
