package together_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/hearth-community/hearth/internal/bus"
	"github.com/hearth-community/hearth/internal/community"
	"github.com/hearth-community/hearth/internal/store/storetest"
)

// TestLargeMemberListIsCachedAndInvalidated: a community of 100+ members
// serves its member list from a short cache, which presence/profile
// changes and membership changes drop at once.
func TestLargeMemberListIsCachedAndInvalidated(t *testing.T) {
	t.Parallel()
	db := storetest.OpenSQLite(t)
	e := newNode(t, db, bus.NewLocal())
	owner := e.register("crowdowner")
	srv, _ := e.must(201, "POST", "/servers", owner.access, map[string]any{"name": "Crowd", "is_public": true})
	sid := srv["id"].(string)
	var last user
	for i := range 100 {
		last = e.register(fmt.Sprintf("crowd%03d", i))
		e.must(201, "POST", "/servers/"+sid+"/join", last.access, nil)
	}
	members := func() map[string]map[string]any {
		_, arr := e.must(200, "GET", "/servers/"+sid+"/members", owner.access, nil)
		out := map[string]map[string]any{}
		for _, m := range arr {
			mm := m.(map[string]any)
			out[mm["user_id"].(string)] = mm
		}
		return out
	}
	eventually := func(what string, cond func() bool) {
		t.Helper()
		deadline := time.Now().Add(hangGuard)
		for !cond() {
			if time.Now().After(deadline) {
				t.Fatalf("timed out: %s", what)
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	if got := len(members()); got != 101 {
		t.Fatalf("%d members, want 101", got)
	}
	// A change written behind the surface's back (no event) is not seen
	// while the list is cached: the list really is cached. (A join's event
	// still in flight may drop the first cached copy: try again.)
	cached := false
	for attempt := 0; attempt < 20 && !cached; attempt++ {
		members() // fill the cache
		prof, err := db.Community().Profile(context.Background(), last.id)
		if err != nil {
			t.Fatal(err)
		}
		hidden := fmt.Sprintf("written without an event %d", attempt)
		prof.CustomStatus = &hidden
		if err := db.Community().SaveProfile(context.Background(), prof, community.ProfileCustomStatus); err != nil {
			t.Fatal(err)
		}
		cached = members()[last.id]["custom_status"] != hidden
	}
	if !cached {
		t.Fatal("the member list is never served from the cache")
	}
	// A profile change through the API (a presence event) shows at once.
	shown := "changed through the API"
	e.must(200, "PATCH", "/users/@me", last.access, map[string]any{"custom_status": shown})
	eventually("the profile change in the member list", func() bool { return members()[last.id]["custom_status"] == shown })
	// So does a member leaving (a community event).
	e.must(204, "DELETE", "/servers/"+sid+"/leave", last.access, nil)
	eventually("the member to leave the list", func() bool { _, still := members()[last.id]; return !still })
	if got := len(members()); got != 100 {
		t.Fatalf("%d members after one left, want 100", got)
	}
}
