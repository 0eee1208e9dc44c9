package store_test

import (
	"context"
	"testing"

	"github.com/hearth-community/hearth/internal/store/storetest"
)

// TestSetPresenceTransitions: the presence writes behind Together's
// cluster-wide presence report a change exactly once per transition on
// both engines.
func TestSetPresenceTransitions(t *testing.T) {
	t.Parallel()
	for _, eng := range storetest.Engines() {
		t.Run(eng.Name, func(t *testing.T) {
			t.Parallel()
			db := eng.Open(t)
			ctx := context.Background()
			st := db.Community()
			id := newAccount(t, db, "pres")
			steps := []struct {
				name           string
				online, repair bool
				changed        bool
				status         string
			}{
				{"connect with no profile row", true, false, true, "online"},
				{"offline", false, false, true, "offline"},
				{"offline again (another node)", false, false, false, "offline"},
				{"repair while offline", true, true, true, "online"},
				{"repair while online", true, true, false, "online"},
				{"connect while online still writes", true, false, true, "online"},
			}
			for _, s := range steps {
				changed, err := st.SetPresence(ctx, id, s.online, s.repair)
				if err != nil {
					t.Fatalf("%s: %v", s.name, err)
				}
				if changed != s.changed {
					t.Errorf("%s: changed = %v, want %v", s.name, changed, s.changed)
				}
				p, err := st.Profile(ctx, id)
				if err != nil || p.Status != s.status {
					t.Fatalf("%s: status %v %v, want %s", s.name, p, err, s.status)
				}
			}
		})
	}
}
