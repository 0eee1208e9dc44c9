package together_test

import (
	"context"
	"testing"
	"time"

	"github.com/hearth-community/hearth/internal/bus"
	"github.com/hearth-community/hearth/internal/store/storetest"
	"github.com/hearth-community/hearth/internal/surface/together"
)

// TestPresenceSweepClearsStaleOnline: a node that starts marks offline the
// accounts left "online" with no connection anywhere (a crashed node's
// users), and leaves alone those connected to another running node.
func TestPresenceSweepClearsStaleOnline(t *testing.T) {
	t.Parallel()
	db := storetest.OpenSQLite(t)
	b := bus.NewLocal()
	first := newNode(t, db, b, func(d *together.Deps) { d.PresenceBus = b })
	live, stale := first.register("live"), first.register("stale")
	w, _, err := first.dial("token=" + live.access)
	if err != nil {
		t.Fatal(err)
	}
	w.waitFor("READY")
	// What a crash leaves behind: stored online, connected nowhere.
	if _, err := db.Community().SetPresence(context.Background(), stale.id, true, false); err != nil {
		t.Fatal(err)
	}
	second := newNode(t, db, b, func(d *together.Deps) {
		d.PresenceBus, d.PresenceSweep, d.OfflineGrace = b, 50*time.Millisecond, time.Millisecond
	})
	status := func(u user) string {
		me, _ := second.must(200, "GET", "/users/@me", u.access, nil)
		s, _ := me["status"].(string)
		return s
	}
	deadline := time.Now().Add(hangGuard)
	for status(stale) != "offline" {
		if time.Now().After(deadline) {
			t.Fatal("the stale account was never swept offline")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if s := status(live); s != "online" {
		t.Fatalf("an account connected to the other node was swept: %q", s)
	}
}
