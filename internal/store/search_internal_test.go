package store

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hearth-community/hearth/internal/messages"
)

// TestSearchPageStopsAtLimit: on SQLite a search page is read from the
// full-text index newest first and stops at its limit. Ordered by id, the
// page query ranked and sorted every match first (a temporary B-tree in the
// plan): one search for a word in each of 131,000 messages took 1.5 s and a
// member could repeat it at will. The plan is the load-independent measure.
func TestSearchPageStopsAtLimit(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db, err := Open(ctx, filepath.Join(t.TempDir(), "s.db"), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := db.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	for _, before := range []string{"", "01a24447-d5a1-7936-bbe7-11b3f9567f28"} {
		q := messages.SearchQuery{ConversationIDs: []string{"c1", "c2"}, Before: before, Limit: 51}
		_, page, args := searchSQL(SQLite, q, []string{"word"})
		rows, err := db.QueryContext(ctx, `EXPLAIN QUERY PLAN `+page, args...)
		if err != nil {
			t.Fatal(err)
		}
		var plan []string
		for rows.Next() {
			var id, parent, notused int
			var detail string
			if err := rows.Scan(&id, &parent, &notused, &detail); err != nil {
				t.Fatal(err)
			}
			plan = append(plan, detail)
		}
		rows.Close()
		joined := strings.Join(plan, "\n")
		if strings.Contains(joined, "TEMP B-TREE") || !strings.Contains(joined, "messages_fts") {
			t.Errorf("before=%q: the page query sorts every match before its limit:\n%s", before, joined)
		}
	}
}
