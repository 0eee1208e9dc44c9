package app

import (
	"context"
	"log/slog"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hearth-community/hearth/internal/bus"
	"github.com/hearth-community/hearth/internal/community"
	"github.com/hearth-community/hearth/internal/fault"
	"github.com/hearth-community/hearth/internal/identity"
	"github.com/hearth-community/hearth/internal/messages"
	"github.com/hearth-community/hearth/internal/store/storetest"
	"github.com/hearth-community/hearth/internal/watch"
)

// watchChannelFixture is a community with a watch channel "films" that
// alice has joined, over one SQLite store and a local bus, with the real
// community and watch services; the access list's cache follows the
// community's events, and waitFor blocks until an event of a type has been
// handled. access, when set, replaces the list's community read.
type watchChannelFixture struct {
	comm    *community.Service
	l       *watch.CommunityChannels
	ids     map[string]string // account ids: owner, alice
	c       *community.Community
	ch      *community.Channel
	handled chan string
}

func newWatchChannelFixture(t *testing.T, access func(ctx context.Context, acct, ch string) (*community.ChannelAccess, error)) *watchChannelFixture {
	t.Helper()
	ctx := context.Background()
	db := storetest.OpenSQLite(t)
	b := bus.NewLocal()
	t.Cleanup(func() { _ = b.Close() })
	a := &App{Bus: b, Log: slog.New(slog.DiscardHandler)}
	a.startLife(ctx)
	t.Cleanup(func() { _ = a.Close() })
	msgs, err := messages.New(db.Messages(), b, nil)
	if err != nil {
		t.Fatal(err)
	}
	comm, err := community.New(db.Community(), b, msgs, nil)
	if err != nil {
		t.Fatal(err)
	}
	w, err := watch.New(watch.Config{}, db.Watch(), b, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	f := &watchChannelFixture{comm: comm, l: watch.NewCommunityChannels(w, comm, a.Log), ids: map[string]string{}, handled: make(chan string, 16)}
	if access != nil {
		f.l.Access = access
	}
	w.SetChannels(f.l)
	if err := a.onCommunityEvents("test", func(ctx context.Context, e *community.Event) {
		f.l.OnCommunityEvent(ctx, e)
		f.handled <- e.Type
	}); err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC()
	for _, n := range []string{"owner", "alice"} {
		acct := &identity.Account{ID: identity.NewID(), Kind: identity.Registered, Username: n, CreatedAt: now, UpdatedAt: now}
		if err := db.Identity().CreateAccount(ctx, acct); err != nil {
			t.Fatal(err)
		}
		f.ids[n] = acct.ID
	}
	if f.c, err = comm.Create(ctx, f.ids["owner"], community.CreateInput{Name: "w", IsPublic: true}); err != nil {
		t.Fatal(err)
	}
	name := "films"
	if f.ch, err = comm.CreateChannel(ctx, f.ids["owner"], f.c.ID, community.ChannelInput{Name: &name, Kind: community.KindWatch}); err != nil {
		t.Fatal(err)
	}
	if _, err := comm.Join(ctx, f.ids["alice"], f.c.ID); err != nil {
		t.Fatal(err)
	}
	return f
}

// waitFor blocks until a community event of type typ has been handled.
func (f *watchChannelFixture) waitFor(typ string) {
	for got := range f.handled {
		if got == typ {
			return
		}
	}
}

// TestWatchChannelAccessCache: who may open a watch channel's room is read
// from the community once and then answered from the cache, and a
// permission change (an override hiding the channel, then a ban) empties
// the cache through the community event, so the next answer is the new one.
func TestWatchChannelAccessCache(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	var reads atomic.Int32
	var f *watchChannelFixture
	f = newWatchChannelFixture(t, func(ctx context.Context, acct, ch string) (*community.ChannelAccess, error) {
		reads.Add(1)
		return f.comm.ChannelAccess(ctx, acct, ch)
	})
	comm, l, ids, c, ch, waitFor := f.comm, f.l, f.ids, f.c, f.ch, f.waitFor
	can := func() bool {
		t.Helper()
		ok, err := l.CanViewChannel(ctx, ids["alice"], ch.ID)
		if err != nil {
			t.Fatal(err)
		}
		return ok
	}
	if !can() || !can() || !can() {
		t.Fatal("a member cannot view the watch channel")
	}
	if n := reads.Load(); n != 1 {
		t.Fatalf("%d community reads for three answers, want 1 (the rest from the cache)", n)
	}

	alice := ids["alice"]
	o, err := comm.SetOverride(ctx, ids["owner"], ch.ID, &community.Override{AccountID: &alice, Deny: community.PermViewChannel})
	if err != nil {
		t.Fatal(err)
	}
	waitFor(community.EvOverrideUpdated)
	if can() {
		t.Fatal("an override hiding the channel is not seen")
	}
	if err := comm.DeleteOverride(ctx, ids["owner"], ch.ID, o.ID); err != nil {
		t.Fatal(err)
	}
	waitFor(community.EvOverrideDeleted)
	if !can() {
		t.Fatal("the channel is not visible again after the override went")
	}
	if err := comm.Ban(ctx, ids["owner"], c.ID, alice, nil); err != nil {
		t.Fatal(err)
	}
	waitFor(community.EvMemberBanned)
	if can() {
		t.Fatal("a ban is not seen")
	}
}

// TestWatchChannelChatFollowsSendMessages: chat in a watch channel's room
// follows the community's rule for posting in the channel, with the real
// community service: a member denied SEND_MESSAGES by an override, or timed
// out, may not chat there, and may again once the override goes; the cache
// sees each change through the community event.
func TestWatchChannelChatFollowsSendMessages(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := newWatchChannelFixture(t, nil)
	comm, l, ids, c, ch, waitFor := f.comm, f.l, f.ids, f.c, f.ch, f.waitFor
	alice := ids["alice"]
	if err := l.MaySend(ctx, alice, ch.ID, "", ""); err != nil {
		t.Fatalf("a member may not chat: %v", err)
	}
	o, err := comm.SetOverride(ctx, ids["owner"], ch.ID, &community.Override{AccountID: &alice, Deny: community.PermSendMessages})
	if err != nil {
		t.Fatal(err)
	}
	waitFor(community.EvOverrideUpdated)
	if err := l.MaySend(ctx, alice, ch.ID, "", ""); fault.KindOf(err) != fault.Forbidden {
		t.Fatalf("denied SEND_MESSAGES: %v, want Forbidden", err)
	}
	if ok, err := l.CanViewChannel(ctx, alice, ch.ID); err != nil || !ok {
		t.Fatalf("denying SEND_MESSAGES hid the room: %v %v", ok, err)
	}
	if err := comm.DeleteOverride(ctx, ids["owner"], ch.ID, o.ID); err != nil {
		t.Fatal(err)
	}
	waitFor(community.EvOverrideDeleted)
	if err := l.MaySend(ctx, alice, ch.ID, "", ""); err != nil {
		t.Fatalf("after the override went: %v", err)
	}
	if _, err := comm.Timeout(ctx, ids["owner"], c.ID, alice, time.Hour, nil); err != nil {
		t.Fatal(err)
	}
	waitFor(community.EvMemberTimeout)
	if err := l.MaySend(ctx, alice, ch.ID, "", ""); fault.KindOf(err) != fault.Forbidden {
		t.Fatalf("timed out: %v, want Forbidden", err)
	}
}
