package live_test

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"

	"github.com/hearth-community/hearth/internal/community"
	"github.com/hearth-community/hearth/internal/fault"
	"github.com/hearth-community/hearth/internal/identity"
	"github.com/hearth-community/hearth/internal/live"
)

// fakeStages is StageLinks in memory.
type fakeStages struct {
	mu      sync.Mutex
	def     string
	stages  map[string]bool
	binding map[string]string // channel → stage
	deleted []string
	viewers []live.ViewerSession // WHEP sessions of signed-in viewers
	ended   []string
}

func newFakeStages() *fakeStages {
	def := identity.NewID()
	return &fakeStages{def: def, stages: map[string]bool{def: true}, binding: map[string]string{}}
}

func (f *fakeStages) EnsureStage(_ context.Context, id, name string) (*live.Stage, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.stages[id] = true
	return &live.Stage{ID: id, Name: name}, nil
}

func (f *fakeStages) DeleteStage(_ context.Context, id string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if !f.stages[id] {
		return fault.New(fault.NotFound, "stage not found")
	}
	delete(f.stages, id)
	f.deleted = append(f.deleted, id)
	return nil
}

func (f *fakeStages) StageForChannel(_ context.Context, ch string) (string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if id, ok := f.binding[ch]; ok {
		return id, nil
	}
	return ch, nil
}

func (f *fakeStages) BindChannel(_ context.Context, ch, stage string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if stage == "" || stage == ch {
		delete(f.binding, ch)
	} else {
		f.binding[ch] = stage
	}
	return nil
}

func (f *fakeStages) ChannelsOfStage(_ context.Context, stage string) ([]string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []string
	for ch, st := range f.binding {
		if st == stage {
			out = append(out, ch)
		}
	}
	return out, nil
}

func (f *fakeStages) Stages(context.Context) ([]*live.Stage, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []*live.Stage
	for id := range f.stages {
		out = append(out, &live.Stage{ID: id, Default: id == f.def})
	}
	return out, nil
}

func (f *fakeStages) DefaultStageID() string { return f.def }

func (f *fakeStages) ViewerSessions() []live.ViewerSession {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]live.ViewerSession(nil), f.viewers...)
}

func (f *fakeStages) EndSession(stage, id string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	for i, v := range f.viewers {
		if v.ID == id && v.StageID == stage {
			f.viewers = append(f.viewers[:i], f.viewers[i+1:]...)
			f.ended = append(f.ended, id)
			return nil
		}
	}
	return fault.New(fault.NotFound, "no such session")
}

func (f *fakeStages) has(id string) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.stages[id]
}

// fakeCommunity answers ChannelAccess from a table and counts the calls.
type fakeCommunity struct {
	mu     sync.Mutex
	chans  map[string]*community.Channel
	comms  map[string]*community.Community
	access map[[2]string]*community.ChannelAccess // account, channel
	admins map[string]bool                        // instance admins who may act
	calls  int
}

// InstanceAdmin is live.InstanceAdmins: the accounts in admins.
func (f *fakeCommunity) InstanceAdmin(_ context.Context, account string) (bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.admins[account], nil
}

func (f *fakeCommunity) ChannelAccess(_ context.Context, account, channel string) (*community.ChannelAccess, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls++
	if ca, ok := f.access[[2]string{account, channel}]; ok {
		return ca, nil
	}
	return nil, fault.New(fault.NotFound, "Unknown Channel")
}

func (f *fakeCommunity) Channel(_ context.Context, id string) (*community.Channel, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if ch, ok := f.chans[id]; ok {
		return ch, nil
	}
	return nil, fault.New(fault.NotFound, "Unknown Channel")
}

func (f *fakeCommunity) Community(_ context.Context, id string) (*community.Community, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if c, ok := f.comms[id]; ok {
		return c, nil
	}
	return nil, fault.New(fault.NotFound, "Unknown Guild")
}

func (f *fakeCommunity) set(account string, ca *community.ChannelAccess) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if ca == nil {
		for k := range f.access {
			if k[0] == account {
				delete(f.access, k)
			}
		}
		return
	}
	f.access[[2]string{account, ca.Channel.ID}] = ca
}

func (f *fakeCommunity) callCount() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.calls
}

type stageFixture struct {
	sc     *live.StageChannels
	stages *fakeStages
	comm   *fakeCommunity
	ch     *community.Channel
}

func newStageFixture(t *testing.T) *stageFixture {
	t.Helper()
	st := newFakeStages()
	ch := &community.Channel{ID: identity.NewID(), CommunityID: identity.NewID(), Kind: community.KindStage, Name: "Main"}
	comm := &fakeCommunity{chans: map[string]*community.Channel{ch.ID: ch}, access: map[[2]string]*community.ChannelAccess{}}
	sc, err := live.NewStageChannels(st, comm, comm, nil)
	if err != nil {
		t.Fatal(err)
	}
	return &stageFixture{sc: sc, stages: st, comm: comm, ch: ch}
}

func (f *stageFixture) member(account string, serverPerms, channelPerms int64, owner bool) {
	f.comm.set(account, &community.ChannelAccess{Access: &community.Access{AccountID: account, IsOwner: owner, Perms: serverPerms},
		Channel: f.ch, Perms: channelPerms})
}

// TestStageChannelsAccess: who may view a stage channel's stage and who may
// manage its key.
func TestStageChannelsAccess(t *testing.T) {
	t.Parallel()
	view := community.PermViewChannel
	for _, tc := range []struct {
		name               string
		owner, admin       bool
		server, chanPerms  int64
		member             bool
		manage, defaultSet bool
		want               fault.Kind
	}{
		{name: "member views", member: true, chanPerms: view},
		{name: "not a member", want: fault.NotFound},
		{name: "hidden by overrides", member: true, chanPerms: 0, want: fault.NotFound},
		{name: "member cannot manage", member: true, chanPerms: view, manage: true, want: fault.Forbidden},
		{name: "manage channels manages", member: true, server: community.PermManageChannels, chanPerms: view, manage: true},
		{name: "owner manages", member: true, owner: true, chanPerms: view, manage: true},
		{name: "default stage key: owner is not enough", member: true, owner: true, chanPerms: view, manage: true, defaultSet: true, want: fault.Forbidden},
		{name: "default stage key: instance admin", member: true, owner: true, admin: true, chanPerms: view, manage: true, defaultSet: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := newStageFixture(t)
			ctx := context.Background()
			acct := &identity.Account{ID: identity.NewID(), Kind: identity.Registered, IsAdmin: tc.admin}
			if tc.member {
				f.member(acct.ID, tc.server, tc.chanPerms, tc.owner)
			}
			if tc.defaultSet {
				if err := f.sc.BindStage(ctx, &identity.Principal{Account: &identity.Account{ID: identity.NewID(), IsAdmin: true}}, f.ch.ID, live.DefaultStageRef); err != nil {
					t.Fatal(err)
				}
			}
			got, err := f.sc.StageOf(ctx, acct, f.ch.ID, tc.manage)
			if tc.want != fault.Internal {
				if !errors.Is(err, tc.want) {
					t.Fatalf("err = %v, want %s", err, tc.want)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			want := f.ch.ID
			if tc.defaultSet {
				want = f.stages.DefaultStageID()
			}
			if got != want {
				t.Fatalf("stage = %s, want %s", got, want)
			}
			if !tc.defaultSet && !f.stages.has(f.ch.ID) {
				t.Fatal("the channel's own stage was not created on first use")
			}
		})
	}
	t.Run("signed out", func(t *testing.T) {
		t.Parallel()
		f := newStageFixture(t)
		if _, err := f.sc.StageOf(context.Background(), nil, f.ch.ID, false); !errors.Is(err, fault.Unauthorized) {
			t.Fatalf("err = %v, want Unauthorized", err)
		}
	})
}

// TestStageChannelsViewerLosesHLS: a viewer's answer is cached for the HLS
// routes, and a ban (or any event that changes who may view) ends it on
// the next request.
func TestStageChannelsViewerLosesHLS(t *testing.T) {
	t.Parallel()
	for _, ev := range []string{community.EvMemberBanned, community.EvMemberKicked, community.EvMemberLeft,
		community.EvOverrideUpdated, community.EvMemberRoleRemoved, community.EvRoleUpdated} {
		t.Run(ev, func(t *testing.T) {
			t.Parallel()
			f := newStageFixture(t)
			ctx := context.Background()
			acct := identity.NewID()
			f.member(acct, 0, community.PermViewChannel, false)
			for range 3 {
				if got, err := f.sc.StageForViewer(ctx, f.ch.ID, acct); err != nil || got != f.ch.ID {
					t.Fatalf("StageForViewer = %q, %v", got, err)
				}
			}
			if n := f.comm.callCount(); n != 1 {
				t.Fatalf("access checked %d times for 3 requests, want 1 (cached)", n)
			}
			f.comm.set(acct, nil) // banned: no longer a member
			f.sc.OnCommunityEvent(ctx, &community.Event{Type: ev, CommunityID: f.ch.CommunityID, AccountID: acct})
			if _, err := f.sc.StageForViewer(ctx, f.ch.ID, acct); !errors.Is(err, fault.NotFound) {
				t.Fatalf("after %s: err = %v, want NotFound", ev, err)
			}
		})
	}
}

// TestStageChannelsLifecycle: a stage channel's stage follows the channel,
// and a bound channel's messages live in the default stage's chat.
func TestStageChannelsLifecycle(t *testing.T) {
	t.Parallel()
	f := newStageFixture(t)
	ctx := context.Background()
	text := &community.Channel{ID: identity.NewID(), Kind: community.KindText}
	f.sc.OnCommunityEvent(ctx, &community.Event{Type: community.EvChannelCreated, Channel: text})
	if f.stages.has(text.ID) {
		t.Fatal("a text channel got a stage")
	}
	f.sc.OnCommunityEvent(ctx, &community.Event{Type: community.EvChannelCreated, Channel: f.ch})
	if !f.stages.has(f.ch.ID) {
		t.Fatal("a stage channel got no stage")
	}
	if id, stage := f.sc.ChatOf(ctx, f.ch.ID); id != f.ch.ID || stage {
		t.Fatalf("ChatOf unbound = %s, %v", id, stage)
	}

	admin := &identity.Principal{Account: &identity.Account{ID: identity.NewID(), IsAdmin: true}}
	user := &identity.Principal{Account: &identity.Account{ID: identity.NewID()}}
	if err := f.sc.BindStage(ctx, user, f.ch.ID, live.DefaultStageRef); !errors.Is(err, fault.Forbidden) {
		t.Fatalf("non-admin bind: err = %v, want Forbidden", err)
	}
	if err := f.sc.BindStage(ctx, admin, f.ch.ID, "elsewhere"); !errors.Is(err, fault.Invalid) {
		t.Fatalf("bad ref: err = %v, want Invalid", err)
	}
	f.comm.chans[text.ID] = text
	if err := f.sc.BindStage(ctx, admin, text.ID, live.DefaultStageRef); !errors.Is(err, fault.Invalid) {
		t.Fatalf("text channel: err = %v, want Invalid", err)
	}
	if err := f.sc.BindStage(ctx, admin, f.ch.ID, live.DefaultStageRef); err != nil {
		t.Fatal(err)
	}
	def := f.stages.DefaultStageID()
	if id, stage := f.sc.ChatOf(ctx, f.ch.ID); id != def || !stage {
		t.Fatalf("ChatOf bound = %s, %v; want the default stage", id, stage)
	}
	if got := f.sc.ChannelsOfChat(ctx, def); len(got) != 1 || got[0] != f.ch.ID {
		t.Fatalf("ChannelsOfChat = %v", got)
	}
	if err := f.sc.BindStage(ctx, admin, f.ch.ID, ""); err != nil {
		t.Fatal(err)
	}
	if id, _ := f.sc.ChatOf(ctx, f.ch.ID); id != f.ch.ID {
		t.Fatalf("unbound again: ChatOf = %s", id)
	}

	f.sc.OnCommunityEvent(ctx, &community.Event{Type: community.EvChannelDeleted, Channel: f.ch})
	if f.stages.has(f.ch.ID) {
		t.Fatal("the stage outlived its channel")
	}

	// A community deleted while this node ran takes its channels without
	// one event each: the sweep finds their stages.
	orphan := identity.NewID()
	if _, err := f.stages.EnsureStage(ctx, orphan, "gone"); err != nil {
		t.Fatal(err)
	}
	f.sc.OnCommunityEvent(ctx, &community.Event{Type: community.EvCommunityDeleted, CommunityID: f.ch.CommunityID})
	if f.stages.has(orphan) {
		t.Fatal("sweep kept an orphan stage")
	}
	if !f.stages.has(def) {
		t.Fatal("sweep deleted the default stage")
	}
}

// TestStageChannelsViewerLosesWebRTC: a WHEP session is checked when it
// starts only, so a community event that changes who may view a stage
// channel ends the WebRTC sessions of the viewers who lost it (a ban, a
// kick, a hiding override), on every node, also a session opened through a
// stage channel bound to the default stage (checked against that channel,
// as its HLS is); others, and the default stage's (public) viewers, keep
// watching.
func TestStageChannelsViewerLosesWebRTC(t *testing.T) {
	t.Parallel()
	for _, ev := range []string{community.EvMemberBanned, community.EvMemberKicked, community.EvMemberLeft,
		community.EvOverrideUpdated, community.EvMemberRoleRemoved, community.EvRoleUpdated} {
		t.Run(ev, func(t *testing.T) {
			t.Parallel()
			f := newStageFixture(t)
			ctx := context.Background()
			gone, stays := identity.NewID(), identity.NewID()
			for _, a := range []string{gone, stays} {
				f.member(a, 0, community.PermViewChannel, false)
			}
			f.stages.viewers = []live.ViewerSession{{ID: "s-gone", StageID: f.ch.ID, AccountID: gone},
				{ID: "s-stays", StageID: f.ch.ID, AccountID: stays}, {ID: "s-default", StageID: f.stages.def, AccountID: gone},
				{ID: "s-bound", StageID: f.stages.def, AccountID: gone, Channel: f.ch.ID},
				{ID: "s-bound-stays", StageID: f.stages.def, AccountID: stays, Channel: f.ch.ID}}
			f.comm.set(gone, nil) // banned: no longer a member
			f.sc.OnCommunityEvent(ctx, &community.Event{Type: ev, CommunityID: f.ch.CommunityID, AccountID: gone})
			f.stages.mu.Lock()
			defer f.stages.mu.Unlock()
			if !slices.Equal(f.stages.ended, []string{"s-gone", "s-bound"}) {
				t.Fatalf("after %s: ended %v, want the sessions of the viewer who lost the channel (its own stage's and "+
					"the default stage's it came to through the channel)", ev, f.stages.ended)
			}
		})
	}
}

// TestStageChannelsAdminKeepsWebRTC: the WHEP routes let an instance
// admin watch any stage channel, a member of its community or not, but the
// recheck on community events asked only the community, which does not
// know instance admins, and ended the admin's sessions on the next role or
// channel change. The recheck now applies the rule the session opened
// under: the admin keeps watching (on the channel's own stage and through
// a channel bound to the default stage) while the channel exists, and
// stops once they are no admin who may act (disabled) or the channel is
// gone.
func TestStageChannelsAdminKeepsWebRTC(t *testing.T) {
	t.Parallel()
	f := newStageFixture(t)
	ctx := context.Background()
	admin, gone := identity.NewID(), identity.NewID()
	f.comm.admins = map[string]bool{admin: true}
	f.member(gone, 0, community.PermViewChannel, false)
	f.stages.viewers = []live.ViewerSession{{ID: "s-admin", StageID: f.ch.ID, AccountID: admin},
		{ID: "s-admin-bound", StageID: f.stages.def, AccountID: admin, Channel: f.ch.ID},
		{ID: "s-gone", StageID: f.ch.ID, AccountID: gone}}
	f.comm.set(gone, nil)
	ended := func() []string {
		f.stages.mu.Lock()
		defer f.stages.mu.Unlock()
		return slices.Clone(f.stages.ended)
	}
	for _, e := range []*community.Event{{Type: community.EvRoleUpdated}, {Type: community.EvOverrideUpdated, AccountID: admin},
		{Type: community.EvChannelUpdated, Channel: f.ch}} {
		e.CommunityID = f.ch.CommunityID
		f.sc.OnCommunityEvent(ctx, e)
	}
	if got := ended(); !slices.Equal(got, []string{"s-gone"}) {
		t.Fatalf("ended %v, want only the member's who lost the channel: the instance admin keeps watching", got)
	}

	// A disabled admin is no admin who may act, and no member.
	f.comm.mu.Lock()
	f.comm.admins[admin] = false
	f.comm.mu.Unlock()
	f.sc.AccountDisabled(ctx, admin)
	if got := ended(); len(got) != 3 {
		t.Fatalf("ended %v, want the disabled admin's sessions too", got)
	}

	// The channel gone: an admin's session through it ends.
	f.comm.mu.Lock()
	f.comm.admins[admin] = true
	delete(f.comm.chans, f.ch.ID)
	f.comm.mu.Unlock()
	f.stages.mu.Lock()
	f.stages.viewers = []live.ViewerSession{{ID: "s-admin-bound-2", StageID: f.stages.def, AccountID: admin, Channel: f.ch.ID}}
	f.stages.mu.Unlock()
	f.sc.OnCommunityEvent(ctx, &community.Event{Type: community.EvChannelDeleted, CommunityID: f.ch.CommunityID, Channel: f.ch})
	if got := ended(); len(got) != 4 || got[3] != "s-admin-bound-2" {
		t.Fatalf("ended %v, want the admin's session through the deleted channel", got)
	}
}

// TestStageChannelsAccountDisabled: disabling an account is no community
// event, so AccountDisabled forgets its cached HLS access and ends its
// WHEP sessions on stage channels (Communities counting it as no member
// from then on); other viewers, and the default stage's, keep watching.
func TestStageChannelsAccountDisabled(t *testing.T) {
	t.Parallel()
	f := newStageFixture(t)
	ctx := context.Background()
	gone, stays := identity.NewID(), identity.NewID()
	for _, a := range []string{gone, stays} {
		f.member(a, 0, community.PermViewChannel, false)
		if _, err := f.sc.StageForViewer(ctx, f.ch.ID, a); err != nil {
			t.Fatal(err)
		}
	}
	f.stages.viewers = []live.ViewerSession{{ID: "s-gone", StageID: f.ch.ID, AccountID: gone},
		{ID: "s-stays", StageID: f.ch.ID, AccountID: stays}, {ID: "s-default", StageID: f.stages.def, AccountID: gone},
		{ID: "s-bound", StageID: f.stages.def, AccountID: gone, Channel: f.ch.ID}}
	f.comm.set(gone, nil) // disabled: Communities counts it as no member
	f.sc.AccountDisabled(ctx, gone)
	if _, err := f.sc.StageForViewer(ctx, f.ch.ID, gone); !errors.Is(err, fault.NotFound) {
		t.Fatalf("disabled account's HLS: err = %v, want NotFound", err)
	}
	if _, err := f.sc.StageForViewer(ctx, f.ch.ID, stays); err != nil {
		t.Fatalf("another viewer's HLS: %v", err)
	}
	f.stages.mu.Lock()
	defer f.stages.mu.Unlock()
	if !slices.Equal(f.stages.ended, []string{"s-gone", "s-bound"}) {
		t.Fatalf("ended %v, want the disabled account's stage channel sessions", f.stages.ended)
	}
}

// TestMayBindStage: the rule of binding a stage channel, asked before the
// channel is created or updated: an instance admin, a stage channel, and
// the default stage or the channel's own, refused in that order.
func TestMayBindStage(t *testing.T) {
	t.Parallel()
	sc := newStageFixture(t).sc
	admin := &identity.Principal{Account: &identity.Account{ID: identity.NewID(), IsAdmin: true}}
	user := &identity.Principal{Account: &identity.Account{ID: identity.NewID()}}
	def, other := live.DefaultStageRef, "5"
	for _, c := range []struct {
		name string
		p    *identity.Principal
		kind string
		ref  *string
		want error
	}{
		{"admin, default", admin, community.KindStage, &def, nil},
		{"admin, own", admin, community.KindStage, nil, nil},
		{"no one", nil, community.KindStage, &def, live.ErrBindAdmin},
		{"a member, on a text channel with a bad ref", user, community.KindText, &other, live.ErrBindAdmin},
		{"admin, text channel, bad ref", admin, community.KindText, &other, live.ErrBindKind},
		{"admin, voice channel", admin, community.KindVoice, nil, live.ErrBindKind},
		{"admin, another stage", admin, community.KindStage, &other, live.ErrStageRef},
	} {
		if err := sc.MayBindStage(c.p, c.kind, c.ref); !errors.Is(err, c.want) || (c.want == nil && err != nil) {
			t.Errorf("%s: %v, want %v", c.name, err, c.want)
		}
	}
}

// TestStageChannelsPublicStage: a stage channel of a community open to all
// (public, no invite needed) plays for anyone, signed in or not; one of a
// private community, a channel that is not a stage, and an unknown id do
// not, all answered alike. A cached answer is forgotten when the community
// changes (it may have turned private).
func TestStageChannelsPublicStage(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := newStageFixture(t)
	open := &community.Community{ID: f.ch.CommunityID, IsPublic: true}
	text := &community.Channel{ID: identity.NewID(), CommunityID: open.ID, Kind: community.KindText, Name: "general"}
	f.comm.mu.Lock()
	f.comm.comms = map[string]*community.Community{open.ID: open}
	f.comm.chans[text.ID] = text
	f.comm.mu.Unlock()
	if got, err := f.sc.PublicStage(ctx, f.ch.ID); err != nil || got != f.ch.ID {
		t.Fatalf("PublicStage of an open community's stage channel = %q, %v", got, err)
	}
	var unknown error
	if _, unknown = f.sc.PublicStage(ctx, identity.NewID()); !errors.Is(unknown, fault.NotFound) {
		t.Fatalf("an unknown channel: %v, want NotFound", unknown)
	}
	if _, err := f.sc.PublicStage(ctx, text.ID); !errors.Is(err, fault.NotFound) || err.Error() != unknown.Error() {
		t.Errorf("a text channel: %v, want %v", err, unknown)
	}
	for _, c := range []struct {
		name            string
		public, invites bool
	}{{"invite needed", true, true}, {"not public", false, false}} {
		f.comm.mu.Lock()
		open.IsPublic, open.RequireInvite = c.public, c.invites
		f.comm.mu.Unlock()
		f.sc.OnCommunityEvent(ctx, &community.Event{Type: community.EvCommunityUpdated, CommunityID: open.ID})
		if _, err := f.sc.PublicStage(ctx, f.ch.ID); !errors.Is(err, fault.NotFound) || err.Error() != unknown.Error() {
			t.Errorf("%s: %v, want %v", c.name, err, unknown)
		}
	}
}
