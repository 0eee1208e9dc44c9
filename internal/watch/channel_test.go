package watch

import (
	"context"
	"errors"
	"sync"
	"testing"

	"github.com/hearth-community/hearth/internal/fault"
)

// fakeChannels is a community with one set of viewers per channel and a
// map from room name to channel for rooms stored before links were.
type fakeChannels struct {
	mu      sync.Mutex
	viewers map[string]map[string]bool // channel → account → can view
	rooms   map[string][2]string       // room name → {channel, title}
	mute    map[string]map[string]bool // channel → account → may not send
	asked   int
}

func (f *fakeChannels) CanViewChannel(_ context.Context, account, channel string) (bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.asked++
	return f.viewers[channel][account], nil
}

func (f *fakeChannels) MaySend(_ context.Context, account, channel, _, _ string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.mute[channel][account] {
		return fault.New(fault.Forbidden, "You don't have permission to send messages in this channel")
	}
	return nil
}

func (f *fakeChannels) ChannelOfRoom(_ context.Context, name string) (string, string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	c := f.rooms[name]
	return c[0], c[1], nil
}

func (f *fakeChannels) set(channel, account string, ok bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.viewers[channel] == nil {
		f.viewers[channel] = map[string]bool{}
	}
	f.viewers[channel][account] = ok
}

func newChannelEnv(t *testing.T) (*env, *fakeChannels) {
	t.Helper()
	e := newEnv(t)
	fc := &fakeChannels{viewers: map[string]map[string]bool{}, rooms: map[string][2]string{}, mute: map[string]map[string]bool{}}
	e.svc.SetChannels(fc)
	fc.set("chan-1", "member", true)
	return e, fc
}

func (e *env) channelRoom(name, channel string) *Room {
	e.t.Helper()
	r, err := e.svc.Ensure(context.Background(), CreateInput{Name: name, Title: "general", Channel: channel})
	if err != nil {
		e.t.Fatal(err)
	}
	return r
}

func TestChannelRoomAdmitsOnlyThoseWhoSeeTheChannel(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	cases := []struct {
		name  string
		actor Actor
		ok    bool
	}{
		{"member", registered("member"), true},
		{"non-member", registered("stranger"), false},
		{"guest with a member's id", anon("member"), false},
		{"no account", Actor{}, false},
		{"hearth", hearth, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			e, _ := newChannelEnv(t)
			r := e.channelRoom("chanroom", "chan-1")
			_, openErr := e.svc.Open(ctx, "chanroom", c.actor)
			joinErr := r.Join(c.actor, "c1")
			chatErr := e.do(r, c.actor, "", Request{Type: ReqChat, Text: ptr("hi")})
			for what, err := range map[string]error{"open": openErr, "join": joinErr, "chat": chatErr} {
				if c.ok && err != nil {
					t.Errorf("%s: %v", what, err)
				}
				if !c.ok && !errors.Is(err, ErrRoomNotFound) {
					t.Errorf("%s: got %v, want room not found", what, err)
				}
			}
		})
	}
}

func TestPlainRoomIgnoresChannels(t *testing.T) {
	t.Parallel()
	e, fc := newChannelEnv(t)
	e.room("plainroom", "")
	if _, err := e.svc.Open(context.Background(), "plainroom", anon("guest")); err != nil {
		t.Fatal(err)
	}
	if fc.asked != 0 {
		t.Fatalf("the community was asked %d times about a plain room", fc.asked)
	}
}

func TestChannelRoomSettingsFollowTheChannel(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e, fc := newChannelEnv(t)
	r := e.channelRoom("chanroom", "chan-1")
	snap := r.Snapshot()
	if snap.Visibility != Unlisted || snap.HasOwner || snap.IsTemporary || snap.Grants != ChannelGrants() {
		t.Fatalf("new channel room: %+v", snap)
	}
	fc.set("chan-1", "admin", true)
	admin := registered("admin")
	r.mu.Lock()
	r.userRoles = map[string]Role{"admin": RoleAdministrator}
	r.mu.Unlock()
	for _, body := range []string{`{"title":"mine"}`, `{"visibility":"public"}`, `{"grants":[[1, 134217727]]}`} {
		err := e.svc.ApplySettings(ctx, r, admin, settings(t, body))
		if CodeOf(err) != CodePermissionDenied {
			t.Errorf("%s: got %v, want permission denied", body, err)
		}
	}
	if err := e.svc.Claim(ctx, r, registered("member")); CodeOf(err) != CodePermissionDenied {
		t.Errorf("claim: %v", err)
	}
	if err := e.svc.Delete(ctx, r, admin); CodeOf(err) != CodePermissionDenied {
		t.Errorf("delete: %v", err)
	}
	if err := e.svc.Retitle(ctx, "chanroom", "renamed"); err != nil {
		t.Fatalf("retitle by the community: %v", err)
	}
	if snap := r.Snapshot(); snap.Title != "renamed" || snap.Visibility != Unlisted {
		t.Fatalf("after retitle: %q %q", snap.Title, snap.Visibility)
	}
	// A member may still play, queue and chat.
	e.must(r, registered("member"), "", Request{Type: ReqChat, Text: ptr("hello")})
}

func TestChannelRoomIsNeverListed(t *testing.T) {
	t.Parallel()
	e, _ := newChannelEnv(t)
	e.channelRoom("chanroom", "chan-1")
	e.room("plainroom", "owner")
	for _, all := range []bool{false, true} {
		rooms, err := e.svc.ListRooms(context.Background(), all)
		if err != nil {
			t.Fatal(err)
		}
		for _, l := range rooms {
			if l.Name == "chanroom" {
				t.Fatalf("listed (all=%v): %+v", all, l)
			}
		}
	}
}

func TestOldChannelRoomIsFixedWhenLoaded(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e, fc := newChannelEnv(t)
	// A room made before rooms knew their channel: OTT's default grants,
	// an owner, and since made public.
	r := e.room("oldroom", "creator")
	if err := e.svc.ApplySettings(ctx, r, registered("creator"), settings(t, `{"visibility":"public"}`)); err != nil {
		t.Fatal(err)
	}
	e.svc.Unload(r, CloseShutdown)
	fc.rooms["oldroom"] = [2]string{"chan-1", "general"}

	if _, err := e.svc.Open(ctx, "oldroom", registered("creator")); !errors.Is(err, ErrRoomNotFound) {
		t.Fatalf("the old owner, not a member, opened it: %v", err)
	}
	r, err := e.svc.Open(ctx, "oldroom", registered("member"))
	if err != nil {
		t.Fatal(err)
	}
	snap := r.Snapshot()
	if snap.Visibility != Unlisted || snap.HasOwner || snap.Title != "general" || snap.Grants != ChannelGrants() {
		t.Fatalf("loaded old room: %+v", snap)
	}
	rec, err := e.st.RoomByName(ctx, "oldroom")
	if err != nil {
		t.Fatal(err)
	}
	if rec.Visibility != Unlisted || rec.OwnerID != "" {
		t.Fatalf("the fix was not stored: %+v", rec)
	}
}

func TestRecheckClosesSocketsOfThoseWhoLostTheChannel(t *testing.T) {
	t.Parallel()
	e, fc := newChannelEnv(t)
	fc.set("chan-1", "other", true)
	r := e.channelRoom("chanroom", "chan-1")
	plain := e.room("plainroom", "owner")
	for c, a := range map[string]Actor{"m1": registered("member"), "m2": registered("member"), "o1": registered("other")} {
		if err := r.Join(a, c); err != nil {
			t.Fatal(err)
		}
	}
	if err := plain.Join(registered("member"), "p1"); err != nil {
		t.Fatal(err)
	}
	e.rec.take()
	fc.set("chan-1", "member", false) // banned
	e.svc.Recheck(context.Background(), []string{"chan-1"}, "member")
	closed := map[string]bool{}
	for _, p := range e.rec.take() {
		if p.ev.Type == EvClose {
			closed[p.topic] = true
			if p.ev.Close != CloseKicked {
				t.Errorf("close reason %q", p.ev.Close)
			}
		}
	}
	want := map[string]bool{ClientTopic(r.Key(), "m1"): true, ClientTopic(r.Key(), "m2"): true}
	if len(closed) != len(want) || !closed[ClientTopic(r.Key(), "m1")] || !closed[ClientTopic(r.Key(), "m2")] {
		t.Fatalf("closed %v, want %v", closed, want)
	}
	// Later requests from the member's remaining connection are refused.
	if err := e.do(r, registered("member"), "m1", Request{Type: ReqChat, Text: ptr("still here?")}); !errors.Is(err, ErrRoomNotFound) {
		t.Fatalf("chat after the ban: %v", err)
	}
}

func TestChannelRoomFailsClosedWithoutCommunity(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	r, err := e.svc.Create(context.Background(), CreateInput{Name: "chanroom", Channel: "chan-1"})
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Join(registered("member"), "c"); !errors.Is(err, ErrRoomNotFound) {
		t.Fatalf("join without a community to ask: %v", err)
	}
}

func TestCreatingAChannelsRoomLinksIt(t *testing.T) {
	t.Parallel()
	e, fc := newChannelEnv(t)
	fc.rooms["chanroom"] = [2]string{"chan-1", "general"}
	r, err := e.svc.Create(context.Background(), CreateInput{Name: "chanroom", Title: "mine", Visibility: Public, OwnerID: "stranger"})
	if err != nil {
		t.Fatal(err)
	}
	if snap := r.Snapshot(); r.Channel() != "chan-1" || snap.Visibility != Unlisted || snap.HasOwner || snap.Title != "general" {
		t.Fatalf("a client-created channel room: channel %q %+v", r.Channel(), snap)
	}
	if _, err := e.svc.Open(context.Background(), "chanroom", registered("stranger")); !errors.Is(err, ErrRoomNotFound) {
		t.Fatalf("its creator, not a member, opened it: %v", err)
	}
}

// Room chat in a channel's room is the channel's chat: a member who may
// see the channel but not post in it (SEND_MESSAGES denied, timed out)
// watches, queues and plays, but its chat is refused and reaches no one.
func TestChannelRoomChatNeedsSendMessages(t *testing.T) {
	t.Parallel()
	e, fc := newChannelEnv(t)
	fc.set("chan-1", "muted", true)
	fc.mu.Lock()
	fc.mute["chan-1"] = map[string]bool{"muted": true}
	fc.mu.Unlock()
	r := e.channelRoom("chatroom", "chan-1")
	plain := e.room("plainchat", "owner")
	muted, member := registered("muted"), registered("member")
	for _, x := range []struct {
		r *Room
		a Actor
		c string
	}{{r, muted, "mu"}, {r, member, "me"}, {plain, muted, "pm"}} {
		if err := x.r.Join(x.a, x.c); err != nil {
			t.Fatal(err)
		}
	}
	e.rec.take()
	err := e.do(r, muted, "mu", Request{Type: ReqChat, Text: ptr("hello")})
	if CodeOf(err) != CodePermissionDenied || !errors.Is(err, fault.Forbidden) {
		t.Fatalf("chat by a member who may not send: %v", err)
	}
	for _, p := range e.rec.take() {
		if p.ev.Type == EvChat {
			t.Fatalf("the refused chat was broadcast: %+v", p.ev.Chat)
		}
	}
	// The rest of the room stays open to it, and others chat.
	e.must(r, muted, "mu", Request{Type: ReqPlayback, State: ptr(true)})
	e.must(r, member, "me", Request{Type: ReqChat, Text: ptr("hi")})
	// A room of no channel follows its grants alone.
	e.must(plain, muted, "pm", Request{Type: ReqChat, Text: ptr("hi")})
}

// TestSignedOutConnectionActsAsItsGuest: a connection whose session signed
// out (its members renamed to the session's guest) acts as the guest,
// whatever account the socket looked up when it connected: a channel's
// room is closed to it, and the account's mute no longer speaks for it.
func TestSignedOutConnectionActsAsItsGuest(t *testing.T) {
	t.Parallel()
	e, _ := newChannelEnv(t)
	r := e.channelRoom("signout", "chan-1")
	member := registered("member")
	if err := r.Join(member, "me"); err != nil {
		t.Fatal(err)
	}
	e.must(r, member, "me", Request{Type: ReqChat, Text: ptr("before")})
	r.RenameSession(member.SessionID, Actor{AccountID: "guest-of-member", SessionID: member.SessionID, Name: "calm cyan"})
	// The socket still holds the account it connected as.
	if err := e.do(r, member, "me", Request{Type: ReqChat, Text: ptr("after")}); !errors.Is(err, ErrRoomNotFound) {
		t.Fatalf("chat after the sign-out: %v, want room not found", err)
	}
	if err := e.do(r, member, "me", Request{Type: ReqPlayback, State: ptr(true)}); !errors.Is(err, ErrRoomNotFound) {
		t.Fatalf("playback after the sign-out: %v, want room not found", err)
	}
}
