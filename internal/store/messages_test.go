package store_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/hearth-community/hearth/internal/fault"
	"github.com/hearth-community/hearth/internal/identity"
	"github.com/hearth-community/hearth/internal/messages"
	"github.com/hearth-community/hearth/internal/store"
	"github.com/hearth-community/hearth/internal/store/storetest"
)

type eventLog struct {
	mu     sync.Mutex
	events []messages.Event
	topics []string
}

func (l *eventLog) Publish(_ context.Context, topic string, data []byte) error {
	var e messages.Event
	if err := json.Unmarshal(data, &e); err != nil {
		return err
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	l.events = append(l.events, e)
	l.topics = append(l.topics, topic)
	return nil
}

func (l *eventLog) types() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := make([]string, len(l.events))
	for i, e := range l.events {
		out[i] = e.Type
	}
	return out
}

func newAccount(t testing.TB, db *store.DB, name string) string {
	t.Helper()
	now := time.Now().UTC()
	a := &identity.Account{ID: identity.NewID(), Kind: identity.Registered, Username: name, CreatedAt: now, UpdatedAt: now}
	if err := db.Identity().CreateAccount(context.Background(), a); err != nil {
		t.Fatal(err)
	}
	return a.ID
}

func ids(ms []*messages.Message) []string {
	out := make([]string, len(ms))
	for i, m := range ms {
		out[i] = m.Body
	}
	return out
}

// newMessageService is the messages service over db's message store, with
// the log of the events it publishes.
func newMessageService(t *testing.T, db *store.DB) (*messages.Service, *eventLog) {
	t.Helper()
	log := &eventLog{}
	svc, err := messages.New(db.Messages(), log, nil)
	if err != nil {
		t.Fatal(err)
	}
	return svc, log
}

// annsMessage is the message service over db, a new account "ann" and a
// channel message of hers.
func annsMessage(t *testing.T, db *store.DB) (*messages.Service, string, *messages.Message) {
	t.Helper()
	svc, _ := newMessageService(t, db)
	ann := newAccount(t, db, "ann")
	m, err := svc.Post(context.Background(), messages.PostInput{ConversationID: identity.NewID(), Kind: messages.KindChannel, AuthorID: ann, Body: "a message"})
	if err != nil {
		t.Fatal(err)
	}
	return svc, ann, m
}

// atOnce runs create(0) … create(n-1) side by side, released together, and
// fails the test for any error but want (the bound refusing some of them).
func atOnce(t *testing.T, what string, n int, create func(i int) error, want error) {
	t.Helper()
	var wg sync.WaitGroup
	start := make(chan struct{})
	errs := make(chan error, n)
	for i := range n {
		wg.Go(func() {
			<-start
			if err := create(i); err != nil && !errors.Is(err, want) {
				errs <- err
			}
		})
	}
	close(start)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Errorf("%s: %v", what, err)
	}
}

// TestMessagesStoreContract runs the message store contract on every engine.
func TestMessagesStoreContract(t *testing.T) {
	t.Parallel()
	for _, eng := range storetest.Engines() {
		t.Run(eng.Name, func(t *testing.T) {
			t.Parallel()
			db := eng.Open(t)
			ctx := context.Background()
			svc, log := newMessageService(t, db)
			ann, bob := newAccount(t, db, "ann"), newAccount(t, db, "bob")
			conv, other := identity.NewID(), identity.NewID()
			var posted []*messages.Message
			for i := range 5 {
				m, err := svc.Post(ctx, messages.PostInput{ConversationID: conv, Kind: messages.KindChannel, AuthorID: ann,
					Body: fmt.Sprintf("m%d", i)})
				if err != nil {
					t.Fatal(err)
				}
				posted = append(posted, m)
			}
			if _, err := svc.Post(ctx, messages.PostInput{ConversationID: other, Kind: messages.KindStage, AuthorID: bob, Body: "elsewhere"}); err != nil {
				t.Fatal(err)
			}
			// Pagination: newest first, before-cursor, limit; oldest-first backlog.
			cases := []struct {
				name string
				q    messages.ListQuery
				want string
			}{
				{"newest", messages.ListQuery{ConversationID: conv, Limit: 2}, "[m4 m3]"},
				{"before", messages.ListQuery{ConversationID: conv, Before: posted[3].ID, Limit: 2}, "[m2 m1]"},
				{"before-first", messages.ListQuery{ConversationID: conv, Before: posted[0].ID, Limit: 2}, "[]"},
				{"after", messages.ListQuery{ConversationID: conv, After: posted[2].ID, Limit: 10}, "[m4 m3]"},
				{"oldest-backlog", messages.ListQuery{ConversationID: conv, Limit: 3, Oldest: true}, "[m2 m3 m4]"},
				{"other", messages.ListQuery{ConversationID: other, Limit: 10}, "[elsewhere]"},
				{"unknown", messages.ListQuery{ConversationID: "nope' OR 1=1 --", Limit: 10}, "[]"},
			}
			for _, c := range cases {
				got, err := svc.List(ctx, c.q)
				if err != nil || fmt.Sprint(ids(got)) != c.want {
					t.Errorf("%s: got %v %v, want %s", c.name, ids(got), err, c.want)
				}
			}
			// Replies and threads.
			if _, err := svc.Post(ctx, messages.PostInput{ConversationID: conv, Kind: messages.KindChannel, AuthorID: bob, Body: "x",
				ReplyTo: posted[0].ID + "0"}); !errors.Is(err, fault.NotFound) {
				t.Errorf("reply to unknown: %v", err)
			}
			if _, err := svc.Post(ctx, messages.PostInput{ConversationID: other, Kind: messages.KindStage, AuthorID: bob, Body: "x",
				ReplyTo: posted[0].ID}); !errors.Is(err, fault.NotFound) {
				t.Errorf("reply across conversations: %v", err)
			}
			reply, err := svc.Post(ctx, messages.PostInput{ConversationID: conv, Kind: messages.KindChannel, AuthorID: bob, Body: "re",
				ReplyTo: posted[1].ID, ThreadID: posted[1].ID, MentionUserIDs: []string{ann}})
			if err != nil || *reply.ReplyTo != posted[1].ID {
				t.Fatalf("thread reply: %v", err)
			}
			if _, err := svc.Post(ctx, messages.PostInput{ConversationID: conv, Kind: messages.KindChannel, AuthorID: bob, Body: "x",
				ThreadID: reply.ID}); !errors.Is(err, fault.Invalid) {
				t.Errorf("thread off a thread reply: %v", err)
			}
			root, _ := svc.Get(ctx, posted[1].ID)
			if root.ThreadReplyCount != 1 {
				t.Errorf("thread count %d", root.ThreadReplyCount)
			}
			top, _ := svc.List(ctx, messages.ListQuery{ConversationID: conv, Limit: 10})
			if fmt.Sprint(ids(top)) != "[m4 m3 m2 m1 m0]" {
				t.Errorf("thread replies leak into the channel: %v", ids(top))
			}
			th, _ := svc.List(ctx, messages.ListQuery{ConversationID: conv, ThreadID: posted[1].ID, Limit: 10})
			if fmt.Sprint(ids(th)) != "[re]" || th[0].MentionUserIDs[0] != ann {
				t.Errorf("thread: %v", ids(th))
			}
			// Edit, delete, hide.
			ed, err := svc.Edit(ctx, posted[4].ID, "Crème brûlée at the café")
			if err != nil || ed.EditedAt == nil || ed.Body != "Crème brûlée at the café" {
				t.Fatalf("edit: %+v %v", ed, err)
			}
			if _, err := svc.Delete(ctx, posted[3].ID); err != nil {
				t.Fatal(err)
			}
			if _, err := svc.Delete(ctx, posted[3].ID); !errors.Is(err, fault.NotFound) {
				t.Errorf("delete twice: %v", err)
			}
			if _, err := svc.Edit(ctx, posted[3].ID, "zombie"); !errors.Is(err, fault.NotFound) {
				t.Errorf("edit deleted: %v", err)
			}
			if ch, err := svc.SetHidden(ctx, conv, []string{posted[2].ID}, true); err != nil || len(ch) != 1 || !ch[0].Hidden {
				t.Fatalf("hide: %v", err)
			}
			if ch, _ := svc.SetHidden(ctx, conv, []string{posted[2].ID}, true); len(ch) != 0 {
				t.Errorf("hiding twice changed %d", len(ch))
			}
			vis, _ := svc.List(ctx, messages.ListQuery{ConversationID: conv, Limit: 10})
			all, _ := svc.List(ctx, messages.ListQuery{ConversationID: conv, Limit: 10, IncludeHidden: true})
			if fmt.Sprint(ids(vis)) != "[Crème brûlée at the café m1 m0]" || len(all) != 4 {
				t.Errorf("visible %v, with hidden %v", ids(vis), ids(all))
			}
			// Pins and reactions.
			if _, err := svc.Pin(ctx, posted[0].ID, bob, true); err != nil {
				t.Fatal(err)
			}
			pins, _ := svc.Pinned(ctx, conv)
			if len(pins) != 1 || !pins[0].Pinned || *pins[0].PinnedBy != bob || pins[0].PinnedAt == nil {
				t.Errorf("pins: %+v", pins)
			}
			for _, r := range []struct {
				who, emoji string
				add, want  bool
			}{{ann, "👍", true, true}, {ann, "👍", true, false}, {bob, "👍", true, true}, {bob, "🎉", true, true}, {bob, "🎉", false, true}, {bob, "🎉", false, false}} {
				if ch, err := svc.React(ctx, posted[0], r.who, r.emoji, r.add); err != nil || ch != r.want {
					t.Errorf("react %+v: %v %v", r, ch, err)
				}
			}
			rs, _ := svc.Reactions(ctx, posted[0].ID, ann)
			if fmt.Sprint(rs) != "[{👍 2 true}]" {
				t.Errorf("reactions: %v", rs)
			}
			// Search: diacritics folded both ways, highlights escaped and marked.
			if _, err := svc.Post(ctx, messages.PostInput{ConversationID: conv, Kind: messages.KindChannel, AuthorID: bob,
				Body: "<b>CAFE</b> is open"}); err != nil {
				t.Fatal(err)
			}
			for _, c := range []struct {
				q     string
				total int
				first string
			}{
				{"cafe", 2, "&lt;b&gt;<mark>CAFE</mark>&lt;/b&gt; is open"},
				{"crème CAFÉ", 1, "<mark>Crème</mark> brûlée at the <mark>café</mark>"},
				{"zzz", 0, ""},
				{"m3", 0, ""},
				{"m2", 0, ""},
			} {
				p, err := svc.Search(ctx, messages.SearchQuery{ConversationIDs: []string{conv, other}, Text: c.q, Limit: 1})
				if err != nil {
					t.Fatalf("search %q: %v", c.q, err)
				}
				if p.Total != c.total || (c.total > 0 && p.Hits[0].Highlight != c.first) || p.HasMore != (c.total > 1) {
					t.Errorf("search %q: total %d has_more %v hits %+v", c.q, p.Total, p.HasMore, p.Hits)
				}
			}
			// Unread and mentions.
			if err := svc.MarkRead(ctx, bob, other); err != nil {
				t.Fatal(err)
			}
			un, err := svc.Unread(ctx, ann, []string{conv, other})
			if err != nil {
				t.Fatal(err)
			}
			if fmt.Sprint(un) != fmt.Sprintf("[{%s 1 0} {%s 1 0}]", conv, other) && fmt.Sprint(un) != fmt.Sprintf("[{%s 1 0} {%s 1 0}]", other, conv) {
				t.Errorf("unread for ann: %v", un)
			}
			want := []string{"created", "created", "created", "created", "created", "created", "created", "updated", "deleted",
				"visibility", "pinned", "reaction_add", "reaction_add", "reaction_add", "reaction_remove", "created"}
			if got := log.types(); fmt.Sprint(got) != fmt.Sprint(want) {
				t.Errorf("events %v", got)
			}
			if log.topics[0] != "messages."+conv {
				t.Errorf("topic %s", log.topics[0])
			}
			// Search pages walk every match once, newest first, by cursor.
			var walk []string
			for i := range 5 {
				m, err := svc.Post(ctx, messages.PostInput{ConversationID: other, Kind: messages.KindChannel, AuthorID: bob,
					Body: fmt.Sprintf("walker %d", i)})
				if err != nil {
					t.Fatal(err)
				}
				walk = append([]string{m.ID}, walk...)
			}
			var got []string
			for before := ""; ; {
				p, err := svc.Search(ctx, messages.SearchQuery{ConversationIDs: []string{conv, other}, Text: "walker", Limit: 2, Before: before})
				if err != nil {
					t.Fatal(err)
				}
				if p.Total != 5 {
					t.Fatalf("walker total %d", p.Total)
				}
				for _, h := range p.Hits {
					got = append(got, h.Message.ID)
				}
				if !p.HasMore || len(got) > 5 {
					break
				}
				before = got[len(got)-1]
			}
			if fmt.Sprint(got) != fmt.Sprint(walk) {
				t.Errorf("search pages: %v, want %v", got, walk)
			}
			if err := svc.DeleteConversation(ctx, conv); err != nil {
				t.Fatal(err)
			}
			if got, _ := svc.List(ctx, messages.ListQuery{ConversationID: conv, IncludeHidden: true}); len(got) != 0 {
				t.Errorf("after DeleteConversation: %v", ids(got))
			}
		})
	}
}

// TestReactionKindsBounded: a message carries at most
// messages.MaxReactionKinds different emoji; joining one already there,
// or making room by removing one, still works, on every engine.
func TestReactionKindsBounded(t *testing.T) {
	t.Parallel()
	for _, eng := range storetest.Engines() {
		t.Run(eng.Name, func(t *testing.T) {
			t.Parallel()
			db := eng.Open(t)
			ctx := context.Background()
			svc, ann, m := annsMessage(t, db)
			bob := newAccount(t, db, "bob")
			for i := range messages.MaxReactionKinds {
				if ch, err := svc.React(ctx, m, ann, fmt.Sprintf("e%d", i), true); err != nil || !ch {
					t.Fatalf("emoji %d: %v %v", i, ch, err)
				}
			}
			if _, err := svc.React(ctx, m, bob, "one-more", true); !errors.Is(err, messages.ErrReactionKinds) {
				t.Fatalf("a new emoji past the bound: %v, want ErrReactionKinds", err)
			}
			if ch, err := svc.React(ctx, m, bob, "e3", true); err != nil || !ch {
				t.Fatalf("joining an emoji already there: %v %v", ch, err)
			}
			if ch, err := svc.React(ctx, m, ann, "e3", true); err != nil || ch {
				t.Fatalf("a repeat: %v %v, want no change and no error", ch, err)
			}
			if _, err := svc.React(ctx, m, ann, "e0", false); err != nil {
				t.Fatal(err)
			}
			if ch, err := svc.React(ctx, m, bob, "one-more", true); err != nil || !ch {
				t.Fatalf("a new emoji once one left: %v %v", ch, err)
			}
			if rs, err := svc.Reactions(ctx, m.ID, bob); err != nil || len(rs) != messages.MaxReactionKinds {
				t.Fatalf("reactions = %d %v, want %d kinds", len(rs), err, messages.MaxReactionKinds)
			}
		})
	}
}

// TestReactionKindsBoundedConcurrently: new emoji added all at once still
// stop at messages.MaxReactionKinds (PostgreSQL's concurrent inserts each
// saw the count before the others: 40 at once left 30 kinds).
func TestReactionKindsBoundedConcurrently(t *testing.T) {
	t.Parallel()
	for _, eng := range storetest.Engines() {
		t.Run(eng.Name, func(t *testing.T) {
			t.Parallel()
			db := eng.Open(t)
			ctx := context.Background()
			svc, ann, m := annsMessage(t, db)
			const n = 2 * messages.MaxReactionKinds
			atOnce(t, "reactions", n, func(i int) error {
				_, err := svc.React(ctx, m, ann, fmt.Sprintf("e%d", i), true)
				return err
			}, messages.ErrReactionKinds)
			if rs, err := svc.Reactions(ctx, m.ID, ann); err != nil || len(rs) != messages.MaxReactionKinds {
				t.Fatalf("kinds after %d at once = %d %v, want %d", n, len(rs), err, messages.MaxReactionKinds)
			}
		})
	}
}

// TestPinsBounded: a conversation holds at most max pinned messages, on
// every engine and when pins arrive all at once; a re-pin, an unpin and a
// deleted pin behave as the bound expects.
func TestPinsBounded(t *testing.T) {
	t.Parallel()
	for _, eng := range storetest.Engines() {
		t.Run(eng.Name, func(t *testing.T) {
			t.Parallel()
			db := eng.Open(t)
			ctx := context.Background()
			svc, _ := newMessageService(t, db)
			ann := newAccount(t, db, "ann")
			st := db.Messages()
			post := func(conv string, n int) []*messages.Message {
				var out []*messages.Message
				for i := range n {
					m, err := svc.Post(ctx, messages.PostInput{ConversationID: conv, Kind: messages.KindChannel, AuthorID: ann, Body: fmt.Sprintf("m%d", i)})
					if err != nil {
						t.Fatal(err)
					}
					out = append(out, m)
				}
				return out
			}
			const max = 3
			pin := func(m *messages.Message) error { return st.SetPinned(ctx, m.ID, true, &ann, time.Now(), max) }
			conv := identity.NewID()
			ms := post(conv, 6)
			for _, m := range ms[:max] {
				if err := pin(m); err != nil {
					t.Fatal(err)
				}
			}
			if err := pin(ms[max]); !errors.Is(err, messages.ErrTooManyPins) {
				t.Fatalf("a pin past the bound: %v, want ErrTooManyPins", err)
			}
			if err := pin(ms[0]); err != nil {
				t.Fatalf("re-pinning a pinned message at the bound: %v", err)
			}
			if err := st.SetPinned(ctx, ms[1].ID, false, nil, time.Now(), max); err != nil {
				t.Fatal(err)
			}
			if err := pin(ms[max]); err != nil {
				t.Fatalf("a pin once one was unpinned: %v", err)
			}
			if _, err := svc.Delete(ctx, ms[2].ID); err != nil {
				t.Fatal(err)
			}
			if err := pin(ms[max+1]); err != nil {
				t.Fatalf("a pin once a pinned message was deleted: %v", err)
			}
			if err := pin(&messages.Message{ID: identity.NewID()}); !errors.Is(err, fault.NotFound) {
				t.Errorf("pinning a missing message: %v, want not found", err)
			}
			// Another conversation has its own bound; all at once, it holds.
			many := post(identity.NewID(), 4*max)
			atOnce(t, "pins", len(many), func(i int) error { return pin(many[i]) }, messages.ErrTooManyPins)
			if pins, err := svc.Pinned(ctx, many[0].ConversationID); err != nil || len(pins) != max {
				t.Fatalf("pins after %d at once = %d %v, want %d", len(many), len(pins), err, max)
			}
		})
	}
}
