package community_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/hearth-community/hearth/internal/community"
	"github.com/hearth-community/hearth/internal/fault"
	"github.com/hearth-community/hearth/internal/identity"
	"github.com/hearth-community/hearth/internal/store/storetest"
)

func wantErr(t *testing.T, err, want error) {
	t.Helper()
	if !errors.Is(err, want) || fault.KindOf(err) != fault.KindOf(want) {
		t.Fatalf("err = %v, want %v", err, want)
	}
}

// TestPollAndEventRules: polls and events are checked in the domain, in
// Together's order (text, then the channel's send permission), whoever
// posts them.
func TestPollAndEventRules(t *testing.T) {
	t.Parallel()
	ch := newChat(t, storetest.Engines()[0])
	ctx := context.Background()
	alice := ch.acct["alice"]
	_, err := ch.comm.NewPoll(ctx, alice, ch.channel, " ", []string{"a", "b"})
	wantErr(t, err, community.ErrPollQuestion)
	_, err = ch.comm.NewPoll(ctx, alice, ch.channel, strings.Repeat("q", 501), []string{"a", "b"})
	wantErr(t, err, community.ErrPollQuestion)
	_, err = ch.comm.NewPoll(ctx, alice, ch.channel, "q", []string{"a"})
	wantErr(t, err, community.ErrPollOptionCount)
	_, err = ch.comm.NewPoll(ctx, alice, ch.channel, "q", []string{"a", strings.Repeat("o", 201)})
	wantErr(t, err, community.ErrPollOptionText)
	// The options are stored as JSON, where the store's own NUL check
	// cannot see one: a poll was posted with it.
	_, err = ch.comm.NewPoll(ctx, alice, ch.channel, "q", []string{"a", "b\x00"})
	wantErr(t, err, fault.ErrNUL)
	if _, err := ch.comm.NewPoll(ctx, ch.acct["bob"], ch.channel, "q", []string{"a", "b"}); !errors.Is(err, fault.Forbidden) {
		t.Fatalf("bob (no send permission) made a poll: %v", err)
	}
	if _, err := ch.comm.NewPoll(ctx, ch.acct["outsider"], ch.channel, "q", []string{"a", "b"}); err == nil {
		t.Fatal("a non-member made a poll")
	}
	p, err := ch.comm.NewPoll(ctx, alice, ch.channel, "q", []string{"a", "b"})
	if err != nil || len(p.Options) != 2 || p.ID == "" || p.MessageID == "" || !p.CreatedAt.Equal(now) {
		t.Fatalf("poll %+v %v", p, err)
	}
	voter, err := ch.comm.ChannelAccess(ctx, alice, ch.channel)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.CheckVote(voter, p.Options[1].ID); err != nil {
		t.Fatal(err)
	}
	wantErr(t, p.CheckVote(voter, "nope"), community.ErrPollNoSuchOption)
	muted, err := ch.comm.ChannelAccess(ctx, ch.acct["muted"], ch.channel)
	if err != nil {
		t.Fatal(err)
	}
	wantErr(t, p.CheckVote(muted, p.Options[1].ID), community.ErrTimedOut)

	at := now.Add(time.Hour)
	_, err = ch.comm.NewEvent(ctx, alice, ch.c.ID, ch.channel, "", nil, at)
	wantErr(t, err, community.ErrEventName)
	_, err = ch.comm.NewEvent(ctx, alice, ch.c.ID, ch.channel, "e", str(strings.Repeat("d", 2001)), at)
	wantErr(t, err, community.ErrEventDescription)
	if _, err := ch.comm.NewEvent(ctx, ch.acct["muted"], ch.c.ID, ch.channel, "e", nil, at); err == nil {
		t.Fatal("a timed-out member made an event")
	}
	ev, err := ch.comm.NewEvent(ctx, alice, ch.c.ID, ch.channel, "e", str(""), at)
	if err != nil || ev.Description != nil || *ev.CreatedBy != alice || !ev.StartsAt.Equal(at) || ev.CommunityID != ch.c.ID {
		t.Fatalf("event %+v %v", ev, err)
	}
}

// TestBotRules: only a person's own session manages bots; a bot is its
// maker's alone; names and descriptions are checked; a revoked bot gets no
// new token.
func TestBotRules(t *testing.T) {
	t.Parallel()
	db := storetest.OpenSQLite(t)
	ctx := context.Background()
	ids, err := identity.New(ctx, identity.Config{Secret: strings.Repeat("s", 40),
		Argon2: identity.Argon2Params{Memory: 1024, Time: 1, Threads: 1}}, db.Identity(), nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	bots, err := community.NewBots(db.TogetherBots(), ids)
	if err != nil {
		t.Fatal(err)
	}
	owner, err := ids.Register(ctx, identity.RegisterInput{Username: "owner", Password: "password1"})
	if err != nil {
		t.Fatal(err)
	}
	if err := community.CanManageBots(&identity.Principal{Account: owner}); err != nil {
		t.Fatal(err)
	}
	wantErr(t, community.CanManageBots(&identity.Principal{Account: owner, Token: &identity.Token{}}), community.ErrBotsHumansOnly)
	_, _, err = bots.Create(ctx, owner.ID, " ", nil)
	wantErr(t, err, community.ErrBotName)
	_, _, err = bots.Create(ctx, owner.ID, "b", str(strings.Repeat("d", 513)))
	wantErr(t, err, community.ErrBotDescription)
	b, raw, err := bots.Create(ctx, owner.ID, "Deploy Bot!", str(""))
	if err != nil || raw == "" || b.Description != nil || b.CreatedBy != owner.ID {
		t.Fatalf("create %+v %q %v", b, raw, err)
	}
	botAcct, err := ids.Account(ctx, b.AccountID)
	if err != nil || botAcct.Kind != identity.Bot || !strings.HasPrefix(botAcct.Username, "deploy-bot-bot-") {
		t.Fatalf("bot account %+v %v", botAcct, err)
	}
	wantErr(t, community.CanManageBots(&identity.Principal{Account: botAcct}), community.ErrBotsHumansOnly)
	if _, err := bots.Get(ctx, "someone-else", b.ID); !errors.Is(err, community.ErrBotNotFound) {
		t.Fatalf("another account sees the bot: %v", err)
	}
	if _, err := bots.Get(ctx, owner.ID, "not-a-uuid"); !errors.Is(err, community.ErrBotNotFound) {
		t.Fatalf("bad id: %v", err)
	}
	wantErr(t, bots.Update(ctx, b, str(strings.Repeat("n", 65)), nil), community.ErrBotName)
	if err := bots.Update(ctx, b, str("Renamed"), str("")); err != nil || b.Name != "Renamed" || b.Description != nil {
		t.Fatalf("update %+v %v", b, err)
	}
	if raw2, err := bots.Regenerate(ctx, b); err != nil || raw2 == raw {
		t.Fatalf("regenerate %q %v", raw2, err)
	}
	if err := bots.Revoke(ctx, b); err != nil || b.RevokedAt == nil {
		t.Fatalf("revoke %v", err)
	}
	_, err = bots.Regenerate(ctx, b)
	wantErr(t, err, community.ErrBotRevoked)
	if got, err := bots.Get(ctx, owner.ID, b.ID); err != nil || got.RevokedAt == nil || got.Name != "Renamed" {
		t.Fatalf("stored %+v %v", got, err)
	}
}

// TestModerationReasonRefusesNUL: a kick, ban or timeout reason holding
// a NUL is refused (fault.ErrNUL, Together's 400) before anything is
// done. A timeout's and a kick's reason are kept only in the audit log's
// JSON details, where the store's own NUL check cannot see one: a timeout
// with one was set (200) and logged with it.
func TestModerationReasonRefusesNUL(t *testing.T) {
	t.Parallel()
	ch := newChat(t, storetest.Engines()[0])
	ctx := context.Background()
	owner, alice := ch.acct["owner"], ch.acct["alice"]
	nul := str("spam\x00")
	_, err := ch.comm.Timeout(ctx, owner, ch.c.ID, alice, time.Hour, nul)
	wantErr(t, err, fault.ErrNUL)
	wantErr(t, ch.comm.Kick(ctx, owner, ch.c.ID, alice, nul), fault.ErrNUL)
	wantErr(t, ch.comm.Ban(ctx, owner, ch.c.ID, alice, nul), fault.ErrNUL)
	if _, err := ch.comm.Timeout(ctx, owner, ch.c.ID, alice, time.Hour, str("spam")); err != nil {
		t.Fatalf("a timeout with a plain reason: %v (alice must still be a member)", err)
	}
}
