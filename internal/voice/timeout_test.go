package voice_test

import (
	"errors"
	"testing"
	"time"

	"github.com/hearth-community/hearth/internal/community"
	"github.com/hearth-community/hearth/internal/voice"
)

// TestSFUTimeoutDisconnects: a timeout refused only messages, so a
// timed-out member joined a call and one already in it went on talking.
// Now, as Discord's timeout, the SFU refuses their join (community's
// ErrTimedOut, Together's "User is timed out") and, on the community's
// event, takes them out of the call they are in ("removed: timed out");
// the moderator who timed them out and the others stay, and once the
// timeout is lifted they join again.
func TestSFUTimeoutDisconnects(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	ctx := testCtx(t)
	mod, timed, stays := w.moderators("mod")[0], w.member("timed"), w.member("stays")
	peers := map[string]*peer{}
	for _, id := range []string{mod, timed, stays} {
		peers[id] = w.join(ctx, id)
	}
	if _, err := w.comm.Timeout(ctx, mod, w.c.ID, timed, time.Hour, nil); err != nil {
		t.Fatal(err)
	}
	w.sfu.OnCommunityEvent(ctx, &community.Event{Type: community.EvMemberTimeout, CommunityID: w.c.ID, AccountID: timed})
	p := peers[timed]
	p.until(ctx, "told it was removed", func() bool { return p.closed != "" })
	p.mu.Lock()
	reason := p.closed
	p.mu.Unlock()
	if reason != "removed: timed out" {
		t.Errorf("removed with %q, want %q", reason, "removed: timed out")
	}
	members := map[string]bool{}
	for _, m := range w.sfu.Members(w.voice) {
		members[m.AccountID] = true
	}
	if len(members) != 2 || !members[mod] || !members[stays] {
		t.Fatalf("members after the timeout: %v, want the moderator and the other member", members)
	}
	if _, err := w.sfu.Join(ctx, timed, w.voice, func(voice.Notice) {}); !errors.Is(err, community.ErrTimedOut) {
		t.Fatalf("a timed-out member's join: %v, want %v", err, community.ErrTimedOut)
	}
	if _, err := w.comm.Timeout(ctx, mod, w.c.ID, timed, 0, nil); err != nil {
		t.Fatal(err)
	}
	w.join(ctx, timed)
}
