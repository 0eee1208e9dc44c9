package store

import (
	"context"
	"database/sql/driver"
	"strings"

	"github.com/jackc/pgx/v5/stdlib"

	"github.com/hearth-community/hearth/internal/fault"
)

// nulFreeConnector hands out PostgreSQL connections that refuse text
// parameters holding a NUL with fault.ErrNUL, a bad request, before they
// reach the server. PostgreSQL cannot store NUL in a text column ("invalid
// byte sequence for encoding UTF8: 0x00"), so without it a room title or a
// bio with "\u0000" in it was a 500 on PostgreSQL where SQLite stored it.
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
	return c.Conn.CheckNamedValue(nv)
}
