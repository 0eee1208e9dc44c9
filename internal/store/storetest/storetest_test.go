package storetest_test

import (
	"context"
	"database/sql"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/hearth-community/hearth/internal/store"
	"github.com/hearth-community/hearth/internal/store/storetest"
)

// A test's database is a copy of the process's template: it must hold what
// a migration from nothing makes, and copies must not share rows.
func TestCopiesAreFreshAndSeparate(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	for _, eng := range storetest.Engines() {
		t.Run(eng.Name, func(t *testing.T) {
			t.Parallel()
			a, b := eng.Open(t), eng.Open(t)
			if _, err := a.ExecContext(ctx, `INSERT INTO goose_db_version (version_id, is_applied) VALUES (999999, true)`); err != nil {
				t.Fatal(err)
			}
			var n int
			if err := b.QueryRowContext(ctx, `SELECT count(*) FROM goose_db_version WHERE version_id = 999999`).Scan(&n); err != nil || n != 0 {
				t.Fatalf("a row written in one copy shows in another: %d %v", n, err)
			}

			// A database migrated from nothing, not from the template.
			var scratch *store.DB
			var err error
			if eng.Name == "sqlite" {
				scratch, err = store.Open(ctx, filepath.Join(t.TempDir(), "scratch.db"), nil)
			} else {
				scratch, err = store.Open(ctx, storetest.EmptyPostgresDSN(t), nil)
			}
			if err != nil {
				t.Fatal(err)
			}
			defer scratch.Close()
			if err := scratch.Migrate(ctx); err != nil {
				t.Fatal(err)
			}
			if got, want := schema(t, b), schema(t, scratch); !reflect.DeepEqual(got, want) {
				t.Fatalf("a copy's schema differs from a migration from nothing:\ncopy:    %v\nscratch: %v", got, want)
			}
		})
	}
}

// schema lists the tables, columns, indexes and applied migrations.
func schema(t *testing.T, db *store.DB) []string {
	t.Helper()
	q := `SELECT m.name || '.' || p.name || ' ' || p.type FROM sqlite_master m, pragma_table_info(m.name) p WHERE m.type = 'table'
		UNION ALL SELECT 'index ' || name || ' ' || COALESCE(sql, '') FROM sqlite_master WHERE type = 'index'
		UNION ALL SELECT 'migration ' || version_id FROM goose_db_version WHERE is_applied
		ORDER BY 1`
	if db.Engine == store.Postgres {
		q = `SELECT table_name || '.' || column_name || ' ' || data_type FROM information_schema.columns WHERE table_schema = 'public'
			UNION ALL SELECT 'index ' || indexname || ' ' || indexdef FROM pg_indexes WHERE schemaname = 'public'
			UNION ALL SELECT 'migration ' || version_id FROM goose_db_version WHERE is_applied
			ORDER BY 1`
	}
	rows, err := db.QueryContext(context.Background(), q)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var s sql.NullString
		if err := rows.Scan(&s); err != nil {
			t.Fatal(err)
		}
		out = append(out, s.String)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	if len(out) < 50 {
		t.Fatalf("schema of %d lines: %v", len(out), out)
	}
	return out
}
