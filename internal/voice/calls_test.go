package voice_test

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/hearth-community/hearth/internal/community"
	"github.com/hearth-community/hearth/internal/fault"
	"github.com/hearth-community/hearth/internal/store/storetest"
	"github.com/hearth-community/hearth/internal/voice"
)

// heard records what the call rules told one surface.
type heard struct {
	mu      sync.Mutex
	left    []string // account/channel of each leave
	stopped []string // channel/broadcaster of each Go Live that ended
}

func (h *heard) news() voice.CallNews {
	return voice.CallNews{
		Left: func(_ context.Context, v *voice.VoiceState) {
			h.mu.Lock()
			h.left = append(h.left, v.UserID+"/"+v.ChannelID)
			h.mu.Unlock()
		},
		GoLiveStopped: func(_ context.Context, channelID, broadcasterID string) {
			h.mu.Lock()
			h.stopped = append(h.stopped, channelID+"/"+broadcasterID)
			h.mu.Unlock()
		},
	}
}

func (h *heard) got() (left, stopped []string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	return slices.Clone(h.left), slices.Clone(h.stopped)
}

// callWorld is a community whose voice channel has a member in its call,
// broadcasting a Go Live, and the call rules of two nodes over the one
// store, each with a surface listening.
type callWorld struct {
	*world
	m      string // the member in the call
	nodes  [2]*voice.Calls
	heards [2]*heard
}

func newCallWorld(t *testing.T, eng storetest.Engine) *callWorld {
	t.Helper()
	w := &callWorld{world: newWorldOn(t, eng.Open(t))}
	ctx := testCtx(t)
	w.m = w.member("m")
	st := w.db.TogetherExtras()
	if _, err := st.SetVoice(ctx, &voice.VoiceState{UserID: w.m, ChannelID: w.voice, CommunityID: w.c.ID, Username: "m",
		JoinedAt: time.Now().UTC().Truncate(time.Microsecond)}); err != nil {
		t.Fatal(err)
	}
	if err := st.StartGoLive(ctx, w.voice, &voice.GoLive{BroadcasterID: w.m, Quality: voice.DefaultQuality,
		StartedAt: time.Now().UTC().Truncate(time.Microsecond)}); err != nil {
		t.Fatal(err)
	}
	for i := range w.nodes {
		calls, err := voice.NewCalls(voice.CallsConfig{Store: st, Access: w.comm, Channels: w.db.Community()})
		if err != nil {
			t.Fatal(err)
		}
		w.heards[i] = &heard{}
		calls.Listen(w.heards[i].news())
		w.nodes[i] = calls
	}
	return w
}

// everyNode runs the event through both nodes' rules at once, as the bus
// delivers it to every node.
func (w *callWorld) everyNode(ctx context.Context, e *community.Event) {
	var wg sync.WaitGroup
	for _, n := range w.nodes {
		wg.Go(func() { n.OnCommunityEvent(ctx, e) })
	}
	wg.Wait()
}

// told is what the surfaces of both nodes were told, together.
func (w *callWorld) told() (left, stopped []string) {
	for _, h := range w.heards {
		l, s := h.got()
		left, stopped = append(left, l...), append(stopped, s...)
	}
	return left, stopped
}

// TestCallRules: what a community event does to a member's call and Go
// Live, decided by the voice domain alone; whichever node's delete wins,
// the leave and the Go Live's end are told exactly once.
func TestCallRules(t *testing.T) {
	t.Parallel()
	// deny gives the member a role whose override on the call's channel
	// denies bits, and returns the event that change publishes.
	deny := func(bits int64) func(ctx context.Context, t *testing.T, w *callWorld) *community.Event {
		return func(ctx context.Context, t *testing.T, w *callWorld) *community.Event {
			name := "hushed"
			r, err := w.comm.CreateRole(ctx, w.owner, w.c.ID, community.RoleInput{Name: &name})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := w.comm.SetOverride(ctx, w.owner, w.voice, &community.Override{RoleID: &r.ID, Deny: bits}); err != nil {
				t.Fatal(err)
			}
			if err := w.comm.SetMemberRole(ctx, w.owner, w.c.ID, w.m, r.ID, true); err != nil {
				t.Fatal(err)
			}
			return &community.Event{Type: community.EvMemberRoleAdded, CommunityID: w.c.ID, AccountID: w.m, RoleID: r.ID}
		}
	}
	// unadmin makes the member an administrator, whose own override on the
	// call's channel (denying CONNECT) therefore does not bind, then takes
	// ADMINISTRATOR from the role (or deletes the role): a role change
	// that leaves the member without CONNECT.
	unadmin := func(del bool) func(ctx context.Context, t *testing.T, w *callWorld) *community.Event {
		return func(ctx context.Context, t *testing.T, w *callWorld) *community.Event {
			name, admin, none := "admins", community.PermAdministrator, int64(0)
			r, err := w.comm.CreateRole(ctx, w.owner, w.c.ID, community.RoleInput{Name: &name, Permissions: &admin})
			if err != nil {
				t.Fatal(err)
			}
			if err := w.comm.SetMemberRole(ctx, w.owner, w.c.ID, w.m, r.ID, true); err != nil {
				t.Fatal(err)
			}
			if _, err := w.comm.SetOverride(ctx, w.owner, w.voice, &community.Override{AccountID: &w.m, Deny: community.PermConnectVoice}); err != nil {
				t.Fatal(err)
			}
			if del {
				if err := w.comm.DeleteRole(ctx, w.owner, w.c.ID, r.ID); err != nil {
					t.Fatal(err)
				}
				return &community.Event{Type: community.EvRoleDeleted, CommunityID: w.c.ID, RoleID: r.ID}
			}
			if _, err := w.comm.UpdateRole(ctx, w.owner, w.c.ID, r.ID, community.RoleInput{Permissions: &none}); err != nil {
				t.Fatal(err)
			}
			return &community.Event{Type: community.EvRoleUpdated, CommunityID: w.c.ID, Role: r}
		}
	}
	cases := []struct {
		name   string
		change func(ctx context.Context, t *testing.T, w *callWorld) *community.Event
		leaves bool // the member's state goes (and with it the Go Live)
		stops  bool // the member's Go Live ends
	}{
		{"a role denying CONNECT", deny(community.PermConnectVoice), true, true},
		{"a role denying VIEW_CHANNEL", deny(community.PermViewChannel), true, true},
		{"a role denying SPEAK keeps the call, ends the Go Live", deny(community.PermSpeak), false, true},
		{"a role denying nothing of a call", deny(community.PermAttachFiles), false, false},
		{"a role losing ADMINISTRATOR", unadmin(false), true, true},
		{"a role deleted", unadmin(true), true, true},
		{"an override denying CONNECT", func(ctx context.Context, t *testing.T, w *callWorld) *community.Event {
			o, err := w.comm.SetOverride(ctx, w.owner, w.voice, &community.Override{AccountID: &w.m, Deny: community.PermConnectVoice})
			if err != nil {
				t.Fatal(err)
			}
			return &community.Event{Type: community.EvOverrideUpdated, CommunityID: w.c.ID, Override: o}
		}, true, true},
		{"kicked", func(ctx context.Context, t *testing.T, w *callWorld) *community.Event {
			if err := w.comm.Kick(ctx, w.owner, w.c.ID, w.m, nil); err != nil {
				t.Fatal(err)
			}
			return &community.Event{Type: community.EvMemberKicked, CommunityID: w.c.ID, AccountID: w.m}
		}, true, true},
		{"banned", func(ctx context.Context, t *testing.T, w *callWorld) *community.Event {
			if err := w.comm.Ban(ctx, w.owner, w.c.ID, w.m, nil); err != nil {
				t.Fatal(err)
			}
			return &community.Event{Type: community.EvMemberBanned, CommunityID: w.c.ID, AccountID: w.m}
		}, true, true},
		{"left", func(ctx context.Context, t *testing.T, w *callWorld) *community.Event {
			if err := w.comm.Leave(ctx, w.m, w.c.ID); err != nil {
				t.Fatal(err)
			}
			return &community.Event{Type: community.EvMemberLeft, CommunityID: w.c.ID, AccountID: w.m}
		}, true, true},
		{"another community's member left", func(ctx context.Context, t *testing.T, w *callWorld) *community.Event {
			return &community.Event{Type: community.EvMemberLeft, CommunityID: "elsewhere", AccountID: w.m}
		}, false, false},
	}
	for _, eng := range storetest.Engines() {
		for _, tc := range cases {
			t.Run(eng.Name+"/"+tc.name, func(t *testing.T) {
				t.Parallel()
				w := newCallWorld(t, eng)
				ctx := testCtx(t)
				w.everyNode(ctx, tc.change(ctx, t, w))
				st := w.db.TogetherExtras()
				_, err := st.Voice(ctx, w.m)
				if gone := errors.Is(err, fault.NotFound); gone != tc.leaves || (err != nil && !gone) {
					t.Fatalf("after the change, the member's voice state: err %v; want gone %v", err, tc.leaves)
				}
				_, err = st.GoLive(ctx, w.voice)
				if ended := errors.Is(err, fault.NotFound); ended != tc.stops || (err != nil && !ended) {
					t.Fatalf("after the change, the member's Go Live: err %v; want ended %v", err, tc.stops)
				}
				left, stopped := w.told()
				var wantLeft, wantStopped []string
				if tc.leaves {
					wantLeft = []string{w.m + "/" + w.voice}
				}
				if tc.stops {
					wantStopped = []string{w.voice + "/" + w.m}
				}
				if !slices.Equal(left, wantLeft) || !slices.Equal(stopped, wantStopped) {
					t.Fatalf("the two nodes told leaves %v and Go Live ends %v; want %v and %v, once each", left, stopped, wantLeft, wantStopped)
				}
			})
		}
	}
}

// TestCallRulesDisconnected: an account connected nowhere leaves its call
// and every Go Live it holds ends, told once whichever node runs it; and
// a leave the surface made itself ends the Go Live in that channel.
func TestCallRulesDisconnected(t *testing.T) {
	t.Parallel()
	for _, eng := range storetest.Engines() {
		t.Run(eng.Name, func(t *testing.T) {
			t.Parallel()
			w := newCallWorld(t, eng)
			ctx := testCtx(t)
			var wg sync.WaitGroup
			for _, n := range w.nodes {
				wg.Go(func() { n.Disconnected(ctx, w.m) })
			}
			wg.Wait()
			left, stopped := w.told()
			if !slices.Equal(left, []string{w.m + "/" + w.voice}) || !slices.Equal(stopped, []string{w.voice + "/" + w.m}) {
				t.Fatalf("told leaves %v and Go Live ends %v; want one of each", left, stopped)
			}
			if _, err := w.db.TogetherExtras().Voice(ctx, w.m); !errors.Is(err, fault.NotFound) {
				t.Fatalf("voice state after Disconnected: %v", err)
			}
			if _, err := w.nodes[0].Leave(ctx, w.m, ""); !errors.Is(err, fault.NotFound) {
				t.Fatalf("leaving again: %v, want NotFound", err)
			}
		})
	}
}
