package voice_test

import (
	"errors"
	"testing"

	"github.com/hearth-community/hearth/internal/community"
	"github.com/hearth-community/hearth/internal/fault"
)

// TestSFUWatchChannel: a community's watch channel holds a call as a voice
// channel does (watch together on camera): two members joined to its room
// receive each other's microphone and camera through the SFU, and the
// voice bits apply: a member denied CONNECT_VOICE in the watch channel is
// refused, one denied SPEAK may join but not send.
func TestSFUWatchChannel(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	ctx := testCtx(t)
	name := "Movie night"
	ch, err := w.comm.CreateChannel(ctx, w.owner, w.c.ID, community.ChannelInput{Name: &name, Kind: community.KindWatch})
	if err != nil {
		t.Fatal(err)
	}
	w.voice = ch.ID // the world's peers join w.voice: here, the watch channel

	ann := w.join(ctx, w.member("ann"))
	ben := w.join(ctx, w.member("ben"))
	for _, p := range []*peer{ann, ben} {
		if err := p.publish(ctx, true, true); err != nil {
			t.Fatalf("%s publish: %v", p.acct, err)
		}
	}
	for _, pair := range [][2]*peer{{ann, ben}, {ben, ann}} {
		p, o := pair[0], pair[1]
		p.until(ctx, "the other's microphone and camera", func() bool {
			return p.count(o.acct, "mic") >= 5 && p.count(o.acct, "cam") >= 5
		})
	}
	if got := len(w.sfu.Members(ch.ID)); got != 2 {
		t.Fatalf("members of the watch channel's room = %d, want 2", got)
	}

	barred, mute := w.member("barred"), w.member("mute")
	for id, deny := range map[string]int64{barred: community.PermConnectVoice, mute: community.PermSpeak} {
		if _, err := w.comm.SetOverride(ctx, w.owner, ch.ID, &community.Override{AccountID: &id, Deny: deny}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := w.sfu.Join(ctx, barred, ch.ID, nil); !errors.Is(err, fault.Forbidden) {
		t.Fatalf("join a watch channel's call without CONNECT_VOICE: %v, want forbidden", err)
	}
	if _, err := w.sfu.Join(ctx, w.account("outsider"), ch.ID, nil); !errors.Is(err, fault.NotFound) {
		t.Fatalf("outsider join: %v, want not found", err)
	}
	m := w.join(ctx, mute)
	if err := m.publish(ctx, false, true); !errors.Is(err, fault.Forbidden) {
		t.Fatalf("camera in a watch channel without SPEAK: %v, want forbidden", err)
	}
}
