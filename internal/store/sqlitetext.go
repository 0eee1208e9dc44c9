package store

import (
	"context"
	"database/sql/driver"
	"strings"

	"modernc.org/sqlite"

	"github.com/hearth-community/hearth/internal/fault"
)

// sqliteConnector opens SQLite connections that refuse a text parameter
// holding a NUL (fault.ErrNUL), as PostgreSQL's do (nulFreeConnector):
// SQLite would store it, so a name with "\u0000" in it was kept on the
// default engine and refused on PostgreSQL, and clients were handed text
// that ends early in C strings and many displays.
type sqliteConnector struct{ dsn string }

func (c sqliteConnector) Connect(context.Context) (driver.Conn, error) {
	conn, err := (&sqlite.Driver{}).Open(c.dsn)
	if err != nil {
		return nil, err
	}
	if sc, ok := conn.(sqliteConn); ok {
		return nulFreeSQLite{sc}, nil
	}
	return conn, nil
}

func (sqliteConnector) Driver() driver.Driver { return &sqlite.Driver{} }

// sqliteConn is every interface of the driver's connection that
// database/sql uses; nulFreeSQLite keeps them all by embedding it.
type sqliteConn interface {
	driver.Conn
	driver.ConnBeginTx
	driver.ConnPrepareContext
	driver.ExecerContext
	driver.QueryerContext
	driver.Pinger
	driver.SessionResetter
	driver.Validator
}

type nulFreeSQLite struct{ sqliteConn }

// CheckNamedValue refuses a string (or a Valuer's string) holding a NUL
// and leaves every value to database/sql's default conversion.
func (nulFreeSQLite) CheckNamedValue(nv *driver.NamedValue) error {
	if strings.IndexByte(textOf(nv), 0) >= 0 {
		return fault.ErrNUL
	}
	return driver.ErrSkip
}
