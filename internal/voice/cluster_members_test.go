package voice_test

import (
	"slices"
	"testing"

	"github.com/hearth-community/hearth/internal/voice"
)

// TestSFUClusterProxyNodeKeepsNewestMembers: a node with two proxies of
// one room on another node hears the room's members by several paths (the
// join's answer, each proxy's notices), so a list can come late. The list
// the node answers (the joined reply's participants, read at once after
// the join) is the newest whichever proxy's came last. Before, a late list
// of an older proxy, which lacked who joined since, replaced its newer one
// and the node answered either proxy's list at random: a member who had
// just joined through the node was missing from their own joined reply,
// so the web app did not see that it may not speak.
func TestSFUClusterProxyNodeKeepsNewestMembers(t *testing.T) {
	t.Parallel()
	w, nodeA, nodeB := twoNodes(t)
	ctx := testCtx(t)
	alice, carol, bob := w.owner, w.member("carol"), w.member("bob")

	w.joinOn(ctx, nodeA.sfu, alice)       // the room runs on A
	cp := w.joinOn(ctx, nodeB.sfu, carol) // a proxy on B
	pc, err := nodeB.sfu.Participant(carol)
	if err != nil {
		t.Fatal(err)
	}
	stale, staleVer := voice.ProxyMembers(pc)
	if len(stale) != 2 || staleVer == 0 {
		t.Fatalf("carol's proxy keeps %+v at version %d", stale, staleVer)
	}
	w.joinOn(ctx, nodeB.sfu, bob) // a second proxy on B
	has := func(ms []voice.ParticipantInfo, who string) bool {
		return slices.ContainsFunc(ms, func(m voice.ParticipantInfo) bool { return m.AccountID == who })
	}
	// carol's proxy hears bob's join (and tells carol), then the list from
	// before it, late.
	cp.until(ctx, "carol told of bob", func() bool { return has(cp.members, bob) })
	voice.DeliverNotice(nodeB.sfu, pc, voice.Notice{Type: "participants", Participants: stale, MembersVer: staleVer})
	if ms, _ := voice.ProxyMembers(pc); !has(ms, bob) {
		t.Fatalf("carol's proxy took the late list over the newer one: %+v", ms)
	}
	for range 32 { // the node's proxies are kept in a map: any may be asked first
		if ms := nodeB.sfu.Members(w.voice); len(ms) != 3 || !has(ms, bob) {
			t.Fatalf("node B lists %+v for the room of alice, carol and bob", ms)
		}
	}
}
