package voice_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/hearth-community/hearth/internal/community"
	"github.com/hearth-community/hearth/internal/fault"
	"github.com/hearth-community/hearth/internal/voice"
)

// goLiveSessions is a voice.GoLiveSessions of function fields.
type goLiveSessions struct {
	voice       func(ctx context.Context, accountID string) (*voice.VoiceState, error)
	startGoLive func(ctx context.Context, channelID string, g *voice.GoLive) error
	goLive      func(ctx context.Context, channelID string) (*voice.GoLive, error)
	stopGoLive  func(ctx context.Context, channelID, broadcasterID string) error
}

func (f goLiveSessions) Voice(ctx context.Context, accountID string) (*voice.VoiceState, error) {
	return f.voice(ctx, accountID)
}

func (f goLiveSessions) StartGoLive(ctx context.Context, channelID string, g *voice.GoLive) error {
	return f.startGoLive(ctx, channelID, g)
}

func (f goLiveSessions) GoLive(ctx context.Context, channelID string) (*voice.GoLive, error) {
	return f.goLive(ctx, channelID)
}

func (f goLiveSessions) StopGoLive(ctx context.Context, channelID, broadcasterID string) error {
	return f.stopGoLive(ctx, channelID, broadcasterID)
}

// memSessions keeps calls (account → channel) and sessions (channel →
// session) in memory, with the store's contract: one session a channel,
// a stop only by the broadcaster still holding it.
func memSessions(calls map[string]string, sessions map[string]*voice.GoLive) goLiveSessions {
	var mu sync.Mutex
	return goLiveSessions{
		voice: func(_ context.Context, accountID string) (*voice.VoiceState, error) {
			mu.Lock()
			defer mu.Unlock()
			ch, ok := calls[accountID]
			if !ok {
				return nil, fault.NotFound
			}
			return &voice.VoiceState{UserID: accountID, ChannelID: ch}, nil
		},
		startGoLive: func(_ context.Context, channelID string, g *voice.GoLive) error {
			mu.Lock()
			defer mu.Unlock()
			if sessions[channelID] != nil {
				return fault.Conflict
			}
			c := *g
			sessions[channelID] = &c
			return nil
		},
		goLive: func(_ context.Context, channelID string) (*voice.GoLive, error) {
			mu.Lock()
			defer mu.Unlock()
			g := sessions[channelID]
			if g == nil {
				return nil, fault.NotFound
			}
			c := *g
			return &c, nil
		},
		stopGoLive: func(_ context.Context, channelID, broadcasterID string) error {
			mu.Lock()
			defer mu.Unlock()
			if g := sessions[channelID]; g == nil || g.BroadcasterID != broadcasterID {
				return fault.NotFound
			}
			delete(sessions, channelID)
			return nil
		},
	}
}

// channelAccess is a voice.Access of function fields.
type channelAccess struct {
	channelAccess func(ctx context.Context, accountID, channelID string) (*community.ChannelAccess, error)
}

func (f channelAccess) ChannelAccess(ctx context.Context, accountID, channelID string) (*community.ChannelAccess, error) {
	return f.channelAccess(ctx, accountID, channelID)
}

// bits is accountID's access to channelID with the channel bits perms.
func bits(accountID, channelID string, perms int64) *community.ChannelAccess {
	return &community.ChannelAccess{Access: &community.Access{AccountID: accountID}, Channel: &community.Channel{ID: channelID}, Perms: perms}
}

const (
	member = community.PermViewChannel | community.PermConnectVoice
	talker = member | community.PermSpeak
)

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
		return bits(accountID, channelID, talker), nil
	}
	hushed := func(_ context.Context, accountID, channelID string) (*community.ChannelAccess, error) {
		return bits(accountID, channelID, member), nil
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
			sessions := goLiveSessions{goLive: func(ctx context.Context, channelID string) (*voice.GoLive, error) {
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

// TestGoLiveStart: only a member of the channel's call goes live, with
// SPEAK, at 480p, 720p (the default) or 1080p, one broadcaster a channel;
// starting again replaces one's own session. A refused start leaves the
// channel's session as it was.
func TestGoLiveStart(t *testing.T) {
	t.Parallel()
	const ch, other = "ch", "other"
	at := time.Date(2026, 12, 7, 5, 0, 0, 123456789, time.FixedZone("x", 3600))
	q := func(s string) *string { return &s }
	for _, tc := range []struct {
		name    string
		calls   map[string]string
		live    *voice.GoLive // the channel's session before
		perms   int64
		quality *string
		want    *voice.GoLive // the session after
		err     error
	}{
		{"default quality", map[string]string{"bob": ch}, nil, talker, nil,
			&voice.GoLive{BroadcasterID: "bob", Quality: "720p", StartedAt: at.UTC().Truncate(time.Microsecond)}, nil},
		{"named quality", map[string]string{"bob": ch}, nil, talker, q("1080p"),
			&voice.GoLive{BroadcasterID: "bob", Quality: "1080p", StartedAt: at.UTC().Truncate(time.Microsecond)}, nil},
		{"in no call", map[string]string{}, nil, talker, nil, nil, voice.ErrNotInCall},
		{"in another channel's call", map[string]string{"bob": other}, nil, talker, nil, nil, voice.ErrNotInCall},
		{"in no call and without SPEAK", map[string]string{}, nil, member, nil, nil, voice.ErrNotInCall},
		{"without SPEAK", map[string]string{"bob": ch}, nil, member, nil, nil, community.ErrGoLive},
		{"without SPEAK at a bad quality", map[string]string{"bob": ch}, nil, member, q("4k"), nil, community.ErrGoLive},
		{"empty quality", map[string]string{"bob": ch}, nil, talker, q(""), nil, voice.ErrQuality},
		{"unknown quality", map[string]string{"bob": ch}, nil, talker, q("4k"), nil, voice.ErrQuality},
		{"another broadcaster", map[string]string{"bob": ch, "ann": ch}, &voice.GoLive{BroadcasterID: "ann", Quality: "480p"}, talker, nil,
			&voice.GoLive{BroadcasterID: "ann", Quality: "480p"}, voice.ErrBroadcasting},
		{"again, a new quality", map[string]string{"bob": ch}, &voice.GoLive{BroadcasterID: "bob", Quality: "480p"}, talker, q("1080p"),
			&voice.GoLive{BroadcasterID: "bob", Quality: "1080p", StartedAt: at.UTC().Truncate(time.Microsecond)}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			sessions := map[string]*voice.GoLive{}
			if tc.live != nil {
				sessions[ch] = tc.live
			}
			r, err := voice.NewGoLiveRules(memSessions(tc.calls, sessions), channelAccess{})
			if err != nil {
				t.Fatal(err)
			}
			voice.SetGoLiveClock(r, func() time.Time { return at })
			g, err := r.Start(t.Context(), bits("bob", ch, tc.perms), tc.quality)
			if !errors.Is(err, tc.err) || (err == nil) != (tc.err == nil) {
				t.Fatalf("err %v, want %v", err, tc.err)
			}
			if err == nil && *g != *tc.want {
				t.Errorf("started %+v, want %+v", *g, *tc.want)
			}
			switch got := sessions[ch]; {
			case tc.want == nil && got != nil:
				t.Errorf("session %+v after a refused start", *got)
			case tc.want != nil && (got == nil || *got != *tc.want):
				t.Errorf("session %+v, want %+v", got, *tc.want)
			}
		})
	}
}

// TestGoLiveStartReadFails: a voice state that cannot be read refuses the
// start with that error, not as "not in the call".
func TestGoLiveStartReadFails(t *testing.T) {
	t.Parallel()
	gone := errors.New("database gone")
	s := memSessions(nil, map[string]*voice.GoLive{})
	s.voice = func(context.Context, string) (*voice.VoiceState, error) { return nil, gone }
	r, err := voice.NewGoLiveRules(s, channelAccess{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.Start(t.Context(), bits("bob", "ch", talker), nil); !errors.Is(err, gone) {
		t.Errorf("err %v, want %v", err, gone)
	}
}

// ranked is accountID's standing in a community: the owner, or a member
// whose one role sits at pos (-1: no role).
func ranked(accountID string, owner bool, pos int) *community.Access {
	a := &community.Access{AccountID: accountID, IsOwner: owner, Roles: map[string]*community.Role{}}
	if pos >= 0 {
		a.RoleIDs = []string{"r"}
		a.Roles["r"] = &community.Role{ID: "r", Position: pos}
	}
	return a
}

// TestGoLiveStop: the broadcaster, or a holder of MUTE_MEMBERS above it in
// the role hierarchy, ends the channel's Go Live and gets the session ended;
// anyone else (a member without the bit; a moderator stopping the owner's or
// an equal's, which the authorization sweep of session 31 saw a moderator
// do) is refused and the session stays; with none there is nothing to stop.
func TestGoLiveStop(t *testing.T) {
	t.Parallel()
	const ch = "ch"
	bob := &voice.GoLive{BroadcasterID: "bob", Quality: "720p"}
	mod := member | community.PermMuteMembers
	for _, tc := range []struct {
		name    string
		live    *voice.GoLive
		account string
		perms   int64
		actor   *community.Access // nil: a member with no role
		bob     *community.Access // the broadcaster's standing; nil: a member with no role
		err     error
	}{
		{"by the broadcaster", bob, "bob", member, nil, nil, nil},
		{"by a moderator", bob, "ann", mod, ranked("ann", false, 2), nil, nil},
		{"by a member", bob, "carl", talker, nil, nil, community.ErrStopGoLive},
		{"none live", nil, "bob", talker, nil, nil, fault.NotFound},
		{"the owner's, by a moderator", bob, "ann", mod, ranked("ann", false, 2), ranked("bob", true, -1), fault.Forbidden},
		{"an equal's, by a moderator", bob, "ann", mod, ranked("ann", false, 2), ranked("bob", false, 2), fault.Forbidden},
		{"a higher moderator's, by a moderator", bob, "ann", mod, ranked("ann", false, 2), ranked("bob", false, 3), fault.Forbidden},
		{"a moderator's, by the owner", bob, "ann", mod, ranked("ann", true, -1), ranked("bob", false, 3), nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			sessions := map[string]*voice.GoLive{}
			if tc.live != nil {
				c := *tc.live
				sessions[ch] = &c
			}
			access := channelAccess{channelAccess: func(_ context.Context, accountID, channelID string) (*community.ChannelAccess, error) {
				if accountID != "bob" || channelID != ch {
					return nil, fault.NotFound
				}
				a := tc.bob
				if a == nil {
					a = ranked("bob", false, -1)
				}
				return &community.ChannelAccess{Access: a, Channel: &community.Channel{ID: ch}, Perms: talker}, nil
			}}
			r, err := voice.NewGoLiveRules(memSessions(nil, sessions), access)
			if err != nil {
				t.Fatal(err)
			}
			ca := bits(tc.account, ch, tc.perms)
			if tc.actor != nil {
				ca.Access = tc.actor
			}
			g, err := r.Stop(t.Context(), ca)
			if !errors.Is(err, tc.err) || (err == nil) != (tc.err == nil) {
				t.Fatalf("err %v, want %v", err, tc.err)
			}
			if err == nil && *g != *tc.live {
				t.Errorf("stopped %+v, want %+v", *g, *tc.live)
			}
			if stays := sessions[ch] != nil; stays != (err != nil && tc.live != nil) {
				t.Errorf("session stays: %v after err %v", stays, err)
			}
		})
	}
}

// TestGoLiveStopEndedMeanwhile: a session that ends between the read and
// the stop (another node stopped it) is NotFound, and a newer one by
// someone else is not ended in its place.
func TestGoLiveStopEndedMeanwhile(t *testing.T) {
	t.Parallel()
	sessions := map[string]*voice.GoLive{"ch": {BroadcasterID: "bob"}}
	s := memSessions(nil, sessions)
	read := s.goLive
	s.goLive = func(ctx context.Context, channelID string) (*voice.GoLive, error) {
		g, err := read(ctx, channelID)
		sessions["ch"] = &voice.GoLive{BroadcasterID: "ann"} // bob stopped and ann went live through another node
		return g, err
	}
	r, err := voice.NewGoLiveRules(s, channelAccess{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.Stop(t.Context(), bits("bob", "ch", talker)); !errors.Is(err, fault.NotFound) {
		t.Errorf("err %v, want NotFound", err)
	}
	if g := sessions["ch"]; g == nil || g.BroadcasterID != "ann" {
		t.Errorf("session %+v, want ann's", g)
	}
}

func TestNewGoLiveRulesNeedsItsParts(t *testing.T) {
	t.Parallel()
	if _, err := voice.NewGoLiveRules(nil, channelAccess{}); err == nil {
		t.Error("no sessions: no error")
	}
	if _, err := voice.NewGoLiveRules(goLiveSessions{}, nil); err == nil {
		t.Error("no access: no error")
	}
}
