package store

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/pressly/goose/v3"

	"github.com/hearth-community/hearth/internal/identity"
)

// nameKeysVersion numbers the Go migration that keys the names stored
// before a name was held by identity.NameKey: accounts' display_name_key
// (the column 02600 adds) and chat users' name_key (which was lower case
// alone, and SQL's lower() on SQLite for rows the 1300 migration cleaned).
const nameKeysVersion = 2601

func nameKeysMigration() *goose.Migration {
	return goose.NewGoMigration(nameKeysVersion, &goose.GoFunc{RunTx: keyNames}, nil)
}

func keyNames(ctx context.Context, tx *sql.Tx) error {
	for _, f := range []struct{ query, update string }{
		{`SELECT id, display_name FROM accounts`, `UPDATE accounts SET display_name_key=$1 WHERE id=$2`},
		{`SELECT account_id, display_name FROM owncast_chat_users`, `UPDATE owncast_chat_users SET name_key=$1 WHERE account_id=$2`},
	} {
		rows, err := tx.QueryContext(ctx, f.query)
		if err != nil {
			return fmt.Errorf("key names: %q: %w", f.query, err)
		}
		type change struct{ id, key string }
		var changes []change
		for rows.Next() {
			var id, name string
			if err := rows.Scan(&id, &name); err != nil {
				rows.Close()
				return err
			}
			changes = append(changes, change{id, identity.NameKey(name)})
		}
		if err := rows.Close(); err != nil {
			return err
		}
		if err := rows.Err(); err != nil {
			return err
		}
		for _, c := range changes {
			if _, err := tx.ExecContext(ctx, f.update, c.key, c.id); err != nil {
				return fmt.Errorf("key names: %w", err)
			}
		}
	}
	return nil
}
