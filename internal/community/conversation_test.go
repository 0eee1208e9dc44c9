package community_test

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/hearth-community/hearth/internal/community"
	"github.com/hearth-community/hearth/internal/fault"
	"github.com/hearth-community/hearth/internal/identity"
	"github.com/hearth-community/hearth/internal/messages"
	"github.com/hearth-community/hearth/internal/store/storetest"
)

// chat is a community with one text channel, wired as the app wires it:
// the message service enforces the community's rules. Every post in these
// tests goes to messages.Service directly, as a writer that is not the
// Together surface would.
type chat struct {
	t       *testing.T
	msgs    *messages.Service
	comm    *community.Service
	c       *community.Community
	channel string
	acct    map[string]string
}

// now is the one clock of both services, so windows are exact.
var now = time.Date(2026, 12, 4, 12, 0, 0, 0, time.UTC)

func newChat(t *testing.T, e storetest.Engine) *chat {
	t.Helper()
	ctx := context.Background()
	db := e.Open(t)
	msgs, err := messages.New(db.Messages(), nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	comm, err := community.New(db.Community(), nil, msgs, nil)
	if err != nil {
		t.Fatal(err)
	}
	comm.SetModeration(db.TogetherExtras())
	msgs.SetRules(comm)
	msgs.SetClock(func() time.Time { return now })
	comm.SetClock(func() time.Time { return now })
	ch := &chat{t: t, msgs: msgs, comm: comm, acct: map[string]string{}}
	for _, n := range []string{"owner", "alice", "bob", "muted", "outsider"} {
		a := &identity.Account{ID: identity.NewID(), Kind: identity.Registered, Username: n, CreatedAt: now, UpdatedAt: now}
		if err := db.Identity().CreateAccount(ctx, a); err != nil {
			t.Fatal(err)
		}
		ch.acct[n] = a.ID
	}
	ch.c, err = comm.Create(ctx, ch.acct["owner"], community.CreateInput{Name: "rules", IsPublic: true,
		Channels: []*community.Channel{{Name: "general", Kind: community.KindText}}})
	if err != nil {
		t.Fatal(err)
	}
	chans, err := comm.Channels(ctx, ch.acct["owner"], ch.c.ID)
	if err != nil || len(chans) != 1 {
		t.Fatalf("channels: %v %v", chans, err)
	}
	ch.channel = chans[0].ID
	for _, n := range []string{"alice", "bob", "muted"} {
		if _, err := comm.Join(ctx, ch.acct[n], ch.c.ID); err != nil {
			t.Fatal(err)
		}
	}
	// bob may read but not write.
	bob := ch.acct["bob"]
	if _, err := comm.SetOverride(ctx, ch.acct["owner"], ch.channel, &community.Override{AccountID: &bob, Deny: community.PermSendMessages}); err != nil {
		t.Fatal(err)
	}
	if _, err := comm.Timeout(ctx, ch.acct["owner"], ch.c.ID, ch.acct["muted"], time.Hour, nil); err != nil {
		t.Fatal(err)
	}
	return ch
}

func (ch *chat) post(who, body string) (*messages.Message, error) {
	return ch.msgs.Post(context.Background(), messages.PostInput{ConversationID: ch.channel, Kind: messages.KindChannel,
		AuthorID: ch.acct[who], Body: body})
}

func (ch *chat) automod(p community.AutomodPatch, words ...string) {
	ch.t.Helper()
	ctx := context.Background()
	on := true
	p.Enabled = &on
	if _, err := ch.comm.UpdateAutomod(ctx, ch.acct["owner"], ch.c.ID, p); err != nil {
		ch.t.Fatal(err)
	}
	for _, w := range words {
		if _, err := ch.comm.AddWord(ctx, ch.acct["owner"], ch.c.ID, w); err != nil {
			ch.t.Fatal(err)
		}
	}
}

func yes() *bool           { b := true; return &b }
func str(s string) *string { return &s }

// wantRefused checks err's kind and the exact message Together shows.
func wantRefused(t *testing.T, err error, kind fault.Kind, msg string) {
	t.Helper()
	if !errors.Is(err, kind) || fault.Message(err) != msg {
		t.Fatalf("err = %v (kind %v), want %v %q", err, fault.KindOf(err), kind, msg)
	}
}

// TestPostEnforcesChannelRules posts through messages.Service directly:
// each rule of a community conversation holds without any surface.
func TestPostEnforcesChannelRules(t *testing.T) {
	t.Parallel()
	for _, e := range storetest.Engines() {
		t.Run(e.Name, func(t *testing.T) {
			t.Parallel()
			for _, tc := range []struct {
				name string
				run  func(t *testing.T, ch *chat)
			}{
				{"member posts", func(t *testing.T, ch *chat) {
					if _, err := ch.post("alice", "hello"); err != nil {
						t.Fatal(err)
					}
				}},
				{"no SEND_MESSAGES", func(t *testing.T, ch *chat) {
					_, err := ch.post("bob", "hello")
					wantRefused(t, err, fault.Forbidden, "You don't have permission to send messages in this channel")
				}},
				{"not a member", func(t *testing.T, ch *chat) {
					_, err := ch.post("outsider", "hello")
					wantRefused(t, err, fault.NotFound, "Channel not found")
				}},
				{"timed out", func(t *testing.T, ch *chat) {
					_, err := ch.post("muted", "hello")
					wantRefused(t, err, fault.Forbidden, "User is timed out")
				}},
				{"timeout over", func(t *testing.T, ch *chat) {
					ch.comm.SetClock(func() time.Time { return now.Add(2 * time.Hour) })
					if _, err := ch.post("muted", "hello"); err != nil {
						t.Fatal(err)
					}
				}},
				{"word filter, logged and acted on", func(t *testing.T, ch *chat) {
					ch.automod(community.AutomodPatch{WordFilterEnabled: yes(), WordFilterAction: str("timeout")}, "Heck")
					_, err := ch.post("alice", "what the HECK")
					wantRefused(t, err, fault.Forbidden, "Message blocked by word filter")
					ls, err := ch.comm.AutomodLogs(context.Background(), ch.acct["owner"], ch.c.ID)
					if err != nil || len(ls) != 1 || ls[0].RuleType != "word_filter" || *ls[0].Username != "alice" || *ls[0].MatchedTerm != "heck" {
						t.Fatalf("automod log = %+v, %v", ls, err)
					}
					// The action: alice is now timed out.
					_, err = ch.post("alice", "sorry")
					wantRefused(t, err, fault.Forbidden, "User is timed out")
				}},
				{"owner is exempt from automod", func(t *testing.T, ch *chat) {
					ch.automod(community.AutomodPatch{WordFilterEnabled: yes()}, "heck")
					if _, err := ch.post("owner", "heck"); err != nil {
						t.Fatal(err)
					}
				}},
				{"automod off", func(t *testing.T, ch *chat) {
					if _, err := ch.comm.AddWord(context.Background(), ch.acct["owner"], ch.c.ID, "heck"); err != nil {
						t.Fatal(err)
					}
					if _, err := ch.post("alice", "heck"); err != nil {
						t.Fatal(err)
					}
				}},
				{"duplicate", func(t *testing.T, ch *chat) {
					ch.automod(community.AutomodPatch{DuplicateEnabled: yes()})
					if _, err := ch.post("alice", "same"); err != nil {
						t.Fatal(err)
					}
					_, err := ch.post("alice", "same")
					wantRefused(t, err, fault.Forbidden, "Duplicate message blocked")
					if _, err := ch.post("alice", "different"); err != nil {
						t.Fatal(err)
					}
				}},
				{"spam", func(t *testing.T, ch *chat) {
					two := 2
					ch.automod(community.AutomodPatch{SpamEnabled: yes(), SpamMaxMessages: &two})
					for _, b := range []string{"one", "two"} {
						if _, err := ch.post("alice", b); err != nil {
							t.Fatal(err)
						}
					}
					_, err := ch.post("alice", "three")
					wantRefused(t, err, fault.Forbidden, "Slow down: message blocked as spam")
					// Past the window (5 s by default) alice may post again.
					ch.comm.SetClock(func() time.Time { return now.Add(6 * time.Second) })
					if _, err := ch.post("alice", "three"); err != nil {
						t.Fatal(err)
					}
				}},
				{"mentions are parsed from the body", func(t *testing.T, ch *chat) {
					m, err := ch.msgs.Post(context.Background(), messages.PostInput{ConversationID: ch.channel, Kind: messages.KindChannel,
						AuthorID: ch.acct["alice"], Body: "hi @Bob and @everyone, not @nobody", MentionUserIDs: []string{ch.acct["outsider"]}})
					if err != nil {
						t.Fatal(err)
					}
					if !slices.Equal(m.MentionUserIDs, []string{ch.acct["bob"]}) || !m.MentionEveryone {
						t.Fatalf("mentions = %v everyone=%v", m.MentionUserIDs, m.MentionEveryone)
					}
					ed, err := ch.msgs.Edit(context.Background(), m.ID, "now @alice only")
					if err != nil {
						t.Fatal(err)
					}
					if !slices.Equal(ed.MentionUserIDs, []string{ch.acct["alice"]}) || ed.MentionEveryone {
						t.Fatalf("edited mentions = %v everyone=%v", ed.MentionUserIDs, ed.MentionEveryone)
					}
				}},
				{"thread replies pass the rules", func(t *testing.T, ch *chat) {
					root, err := ch.post("alice", "root")
					if err != nil {
						t.Fatal(err)
					}
					_, err = ch.msgs.Post(context.Background(), messages.PostInput{ConversationID: ch.channel, Kind: messages.KindChannel,
						AuthorID: ch.acct["bob"], Body: "reply", ThreadID: root.ID})
					wantRefused(t, err, fault.Forbidden, "You don't have permission to send messages in this channel")
				}},
				{"a stage chat posted through a channel", func(t *testing.T, ch *chat) {
					_, err := ch.msgs.Post(context.Background(), messages.PostInput{ConversationID: identity.NewID(), Kind: messages.KindStage,
						AuthorID: ch.acct["bob"], Body: "hello", ViaChannel: ch.channel})
					wantRefused(t, err, fault.Forbidden, "You don't have permission to send messages in this channel")
				}},
				{"polls and events: permission only", func(t *testing.T, ch *chat) {
					ch.automod(community.AutomodPatch{WordFilterEnabled: yes()}, "poll")
					if _, err := ch.msgs.Post(context.Background(), messages.PostInput{ConversationID: ch.channel, Kind: messages.KindChannel,
						AuthorID: ch.acct["alice"], Body: "📊 **Poll**: x", Meta: `{"poll":"p"}`}); err != nil {
						t.Fatal(err)
					}
					_, err := ch.msgs.Post(context.Background(), messages.PostInput{ConversationID: ch.channel, Kind: messages.KindChannel,
						AuthorID: ch.acct["bob"], Body: "📊 **Poll**: x", Meta: `{"poll":"p"}`})
					wantRefused(t, err, fault.Forbidden, "You don't have permission to send messages in this channel")
				}},
				{"system messages and other conversations", func(t *testing.T, ch *chat) {
					if _, err := ch.msgs.Post(context.Background(), messages.PostInput{ConversationID: ch.channel, Kind: messages.KindChannel,
						Body: "welcome"}); err != nil {
						t.Fatal(err)
					}
					if _, err := ch.msgs.Post(context.Background(), messages.PostInput{ConversationID: identity.NewID(), Kind: messages.KindStage,
						AuthorID: ch.acct["bob"], Body: "stage chat"}); err != nil {
						t.Fatal(err)
					}
				}},
			} {
				t.Run(tc.name, func(t *testing.T) {
					t.Parallel()
					tc.run(t, newChat(t, e))
				})
			}
		})
	}
}

// TestAutomodSettingsOwnerOnly: the moderation settings are the owner's.
func TestAutomodSettingsOwnerOnly(t *testing.T) {
	t.Parallel()
	ch := newChat(t, storetest.Engines()[0])
	ctx := context.Background()
	_, err := ch.comm.UpdateAutomod(ctx, ch.acct["alice"], ch.c.ID, community.AutomodPatch{Enabled: yes()})
	wantRefused(t, err, fault.Forbidden, "Only the server owner can manage automod")
	_, err = ch.comm.AuditLogs(ctx, ch.acct["alice"], ch.c.ID, community.AuditQuery{Limit: 10})
	wantRefused(t, err, fault.Forbidden, "Only the server owner can view the audit log")
	bad := 0
	_, err = ch.comm.UpdateAutomod(ctx, ch.acct["owner"], ch.c.ID, community.AutomodPatch{SpamMaxMessages: &bad})
	wantRefused(t, err, fault.Invalid, "spam_max_messages must be between 1 and 50")
	_, err = ch.comm.AddWord(ctx, ch.acct["owner"], ch.c.ID, "  ")
	wantRefused(t, err, fault.Invalid, "word cannot be empty")
	_, err = ch.comm.Automod(ctx, ch.acct["owner"], ch.c.ID)
	wantRefused(t, err, fault.NotFound, "no automod config")
}
