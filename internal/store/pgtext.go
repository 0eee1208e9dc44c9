package store

import (
	"context"
	"database/sql/driver"
	"strings"
	"unicode/utf8"

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
// the argument check database/sql runs for each parameter.
type nulFreeConn struct{ *stdlib.Conn }

func (c *nulFreeConn) CheckNamedValue(nv *driver.NamedValue) error {
	v := nv.Value
	if vr, ok := v.(driver.Valuer); ok {
		if vv, err := vr.Value(); err == nil {
			v = vv
		}
	}
	var s string
	switch x := v.(type) {
	case string:
		s = x
	case *string:
		if x != nil {
			s = *x
		}
	}
	if strings.IndexByte(s, 0) >= 0 {
		return fault.ErrNUL
	}
	if !utf8.ValidString(s) {
		return fault.ErrNotUTF8
	}
	return c.Conn.CheckNamedValue(nv)
}
