package voice_test

import (
	"context"
	"errors"
	"testing"

	"github.com/hearth-community/hearth/internal/community"
	"github.com/hearth-community/hearth/internal/fault"
	"github.com/hearth-community/hearth/internal/voice"
)

// goLiveSessions is a voice.GoLiveSessions of function fields.
type goLiveSessions struct {
	goLive func(ctx context.Context, channelID string) (*voice.GoLive, error)
}

func (f goLiveSessions) GoLive(ctx context.Context, channelID string) (*voice.GoLive, error) {
	return f.goLive(ctx, channelID)
}

// channelAccess is a voice.Access of function fields.
type channelAccess struct {
	channelAccess func(ctx context.Context, accountID, channelID string) (*community.ChannelAccess, error)
}

func (f channelAccess) ChannelAccess(ctx context.Context, accountID, channelID string) (*community.ChannelAccess, error) {
	return f.channelAccess(ctx, accountID, channelID)
}

// TestGoLiveSignalRule: a Go Live signal goes only along the channel's
// current Go Live: an offer from the broadcaster while it holds SPEAK, an
// answer to the broadcaster, a candidate from or to it; nothing without a
// session, when the session or the broadcaster's bits cannot be read, or
// for a type that is not offer, answer or candidate.
func TestGoLiveSignalRule(t *testing.T) {
	t.Parallel()
	const channel, bob, carl, ann = "ch", "bob", "carl", "ann"
	live := func(context.Context, string) (*voice.GoLive, error) { return &voice.GoLive{BroadcasterID: bob}, nil }
	none := func(context.Context, string) (*voice.GoLive, error) { return nil, fault.NotFound }
	broken := func(context.Context, string) (*voice.GoLive, error) { return nil, errors.New("database gone") }
	speaks := func(_ context.Context, accountID, channelID string) (*community.ChannelAccess, error) {
		return &community.ChannelAccess{Access: &community.Access{AccountID: accountID}, Channel: &community.Channel{ID: channelID},
			Perms: community.PermViewChannel | community.PermConnectVoice | community.PermSpeak}, nil
	}
	hushed := func(_ context.Context, accountID, channelID string) (*community.ChannelAccess, error) {
		return &community.ChannelAccess{Access: &community.Access{AccountID: accountID}, Channel: &community.Channel{ID: channelID},
			Perms: community.PermViewChannel | community.PermConnectVoice}, nil
	}
	gone := func(context.Context, string, string) (*community.ChannelAccess, error) { return nil, fault.NotFound }
	for _, tc := range []struct {
		name     string
		sessions func(context.Context, string) (*voice.GoLive, error)
		access   func(context.Context, string, string) (*community.ChannelAccess, error)
		from, to string
		typ      string
		want     bool
	}{
		{"broadcaster's offer", live, speaks, bob, carl, "offer", true},
		{"viewer's answer", live, speaks, carl, bob, "answer", true},
		{"viewer's candidate", live, speaks, carl, bob, "candidate", true},
		{"broadcaster's candidate", live, speaks, bob, carl, "candidate", true},
		{"offer from a viewer", live, speaks, carl, ann, "offer", false},
		{"offer to the broadcaster", live, speaks, carl, bob, "offer", false},
		{"offer from a broadcaster without SPEAK", live, hushed, bob, carl, "offer", false},
		{"offer from a broadcaster no longer a member", live, gone, bob, carl, "offer", false},
		{"answer between viewers", live, speaks, carl, ann, "answer", false},
		{"answer from the broadcaster", live, speaks, bob, carl, "answer", false},
		{"candidate between viewers", live, speaks, ann, carl, "candidate", false},
		{"another type from the broadcaster", live, speaks, bob, carl, "pranswer", false},
		{"offer with nobody live", none, speaks, bob, carl, "offer", false},
		{"candidate with nobody live", none, speaks, carl, bob, "candidate", false},
		{"session unreadable", broken, speaks, bob, carl, "offer", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var asked []string
			access := channelAccess{func(ctx context.Context, accountID, channelID string) (*community.ChannelAccess, error) {
				asked = append(asked, accountID+"@"+channelID)
				return tc.access(ctx, accountID, channelID)
			}}
			var read []string
			sessions := goLiveSessions{func(ctx context.Context, channelID string) (*voice.GoLive, error) {
				read = append(read, channelID)
				return tc.sessions(ctx, channelID)
			}}
			r, err := voice.NewGoLiveRules(sessions, access)
			if err != nil {
				t.Fatal(err)
			}
			if got := r.MayRelaySignal(t.Context(), channel, tc.from, tc.to, tc.typ); got != tc.want {
				t.Errorf("%s %s → %s: %v, want %v", tc.typ, tc.from, tc.to, got, tc.want)
			}
			if len(read) != 1 || read[0] != channel {
				t.Errorf("sessions read for %v, want [%s]", read, channel)
			}
			for _, a := range asked {
				if a != bob+"@"+channel {
					t.Errorf("bits asked of %s, want only the broadcaster's in %s", a, channel)
				}
			}
		})
	}
}

func TestNewGoLiveRulesNeedsItsParts(t *testing.T) {
	t.Parallel()
	sessions := goLiveSessions{func(context.Context, string) (*voice.GoLive, error) { return nil, fault.NotFound }}
	access := channelAccess{func(context.Context, string, string) (*community.ChannelAccess, error) { return nil, fault.NotFound }}
	if _, err := voice.NewGoLiveRules(nil, access); err == nil {
		t.Error("no sessions: no error")
	}
	if _, err := voice.NewGoLiveRules(sessions, nil); err == nil {
		t.Error("no access: no error")
	}
}
