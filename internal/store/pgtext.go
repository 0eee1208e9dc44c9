package store

import (
	"context"
	"database/sql/driver"
	"errors"
	"strings"
	"unicode/utf8"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/stdlib"

	"github.com/hearth-community/hearth/internal/fault"
)

// nulFreeConnector hands out PostgreSQL connections that refuse text
// parameters holding a NUL (fault.ErrNUL) or bytes that are not UTF-8
// (fault.ErrNotUTF8), bad requests, before they reach the server.
// PostgreSQL cannot store either in a text column ("invalid byte sequence
// for encoding UTF8"), so without it a room title with "\u0000" in it, or
// a search for "%ff", was a 500 on PostgreSQL where SQLite stored it.
type nulFreeConnector struct{ driver.Connector }

func (c nulFreeConnector) Connect(ctx context.Context) (driver.Conn, error) {
	conn, err := c.Connector.Connect(ctx)
	if sc, ok := conn.(*stdlib.Conn); ok && err == nil {
		return &nulFreeConn{sc}, nil
	}
	return conn, err
}

// nulFreeConn is pgx's connection (every method of it, promoted) with
// the argument check database/sql runs for each parameter, and with a
// value too large for where it is stored answered as bad input
// (fault.ErrTooLong) rather than as a server error: PostgreSQL refuses an
// index entry past its row size ("index row requires 10024 bytes, maximum
// size is 8191"), which SQLite has no bound for, so a long value in an
// indexed column no domain bounds (an account link's subject, say) was a
// 500 on PostgreSQL only.
type nulFreeConn struct{ *stdlib.Conn }

func (c *nulFreeConn) ExecContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Result, error) {
	r, err := c.Conn.ExecContext(ctx, query, args)
	return r, tooLong(err)
}

// QueryContext covers INSERT … RETURNING too: pgx's stdlib reads the
// first row before it returns, so a refused write fails here.
func (c *nulFreeConn) QueryContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Rows, error) {
	r, err := c.Conn.QueryContext(ctx, query, args)
	return r, tooLong(err)
}

// tooLong maps PostgreSQL's program_limit_exceeded (SQLSTATE 54000, a
// value past an index row, a tsvector or a string's limit) to
// fault.ErrTooLong; any other error is returned as it is.
func tooLong(err error) error {
	var pe *pgconn.PgError
	if errors.As(err, &pe) && pe.Code == "54000" {
		return fault.ErrTooLong
	}
	return err
}

func (c *nulFreeConn) CheckNamedValue(nv *driver.NamedValue) error {
	s := textOf(nv)
	if strings.IndexByte(s, 0) >= 0 {
		return fault.ErrNUL
	}
	if !utf8.ValidString(s) {
		return fault.ErrNotUTF8
	}
	return c.Conn.CheckNamedValue(nv)
}

// textOf is the text a parameter carries (a string, a *string or a
// Valuer's string), or "" for any other value.
func textOf(nv *driver.NamedValue) string {
	v := nv.Value
	if vr, ok := v.(driver.Valuer); ok {
		if vv, err := vr.Value(); err == nil {
			v = vv
		}
	}
	switch x := v.(type) {
	case string:
		return x
	case *string:
		if x != nil {
			return *x
		}
	}
	return ""
}
