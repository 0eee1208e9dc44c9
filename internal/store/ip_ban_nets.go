package store

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/pressly/goose/v3"

	"github.com/hearth-community/hearth/internal/stagechat"
)

// ipBanNetsVersion numbers the Go migration that gives the Owncast chat IP
// bans made before 02800 their net (stagechat.BanNet), so that an IPv6
// address banned then covers its /64 as a ban made now does.
const ipBanNetsVersion = 2801

func ipBanNetsMigration() *goose.Migration {
	return goose.NewGoMigration(ipBanNetsVersion, &goose.GoFunc{RunTx: netIPBans}, nil)
}

func netIPBans(ctx context.Context, tx *sql.Tx) error {
	rows, err := tx.QueryContext(ctx, `SELECT ip FROM owncast_ip_bans WHERE net = ''`)
	if err != nil {
		return fmt.Errorf("ip ban nets: %w", err)
	}
	var ips []string
	for rows.Next() {
		var ip string
		if err := rows.Scan(&ip); err != nil {
			rows.Close()
			return err
		}
		ips = append(ips, ip)
	}
	if err := rows.Close(); err != nil {
		return err
	}
	if err := rows.Err(); err != nil {
		return err
	}
	for _, ip := range ips {
		if _, err := tx.ExecContext(ctx, `UPDATE owncast_ip_bans SET net=$1 WHERE ip=$2`, stagechat.BanNet(ip), ip); err != nil {
			return fmt.Errorf("ip ban nets: %w", err)
		}
	}
	return nil
}
