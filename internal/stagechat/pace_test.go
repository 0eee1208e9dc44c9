package stagechat_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/hearth-community/hearth/internal/bus"
	"github.com/hearth-community/hearth/internal/fault"
	"github.com/hearth-community/hearth/internal/identity"
	"github.com/hearth-community/hearth/internal/messages"
	"github.com/hearth-community/hearth/internal/ratelimit"
	"github.com/hearth-community/hearth/internal/stagechat"
	"github.com/hearth-community/hearth/internal/store/storetest"
)

// TestPaceIsPerAccount: the chat's pace (Config.FloodRate) is a rule of
// every post into the chat, per author account: a second message inside
// the interval is refused (RateLimited, ErrFlooded, Retry-After the block)
// and the account stays blocked until the block ends, whatever writes for
// it; a message a little under the interval (jitter after a socket's own
// check) is not refused; another account is not held back, a moderator is
// exempt, and spam protection off lifts it.
func TestPaceIsPerAccount(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := storetest.Engines()[0].Open(t)
	idn, err := identity.New(ctx, identity.Config{}, db.Identity(), nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	msgs, err := messages.New(db.Messages(), nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	s, err := stagechat.New(ctx, stagechat.Config{Defaults: stagechat.DefaultSettings(), FloodRate: 1, FloodBlock: 10 * time.Second},
		db.StageChat(), idn, msgs, &capture{got: make(chan struct{}, 1)}, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Presence().Close)
	msgs.AddRules(s)
	var mu sync.Mutex
	now := time.Now()
	s.SetClock(func() time.Time { mu.Lock(); defer mu.Unlock(); return now })
	advance := func(d time.Duration) { mu.Lock(); now = now.Add(d); mu.Unlock() }
	user := func(name string) *stagechat.User {
		t.Helper()
		u, _, err := s.Register(ctx, name, "", nil)
		if err != nil {
			t.Fatal(err)
		}
		return u
	}
	alice, bob, mod := user("alice"), user("bob"), user("mod")
	if _, err := s.SetModerator(ctx, mod.ID, true); err != nil {
		t.Fatal(err)
	}
	if mod, err = s.User(ctx, mod.ID); err != nil {
		t.Fatal(err)
	}
	send := func(u *stagechat.User) error {
		t.Helper()
		_, err := s.Send(ctx, u, "hello")
		return err
	}
	flooded := func(err error, retry time.Duration) bool {
		var fe *fault.Error
		return errors.Is(err, stagechat.ErrFlooded) && errors.As(err, &fe) && fe.Kind == fault.RateLimited &&
			fe.RetryAfter == retry && fault.Message(err) == stagechat.FloodNotice
	}

	if err := send(alice); err != nil {
		t.Fatalf("alice's first message: %v", err)
	}
	if err := send(alice); !flooded(err, 10*time.Second) {
		t.Fatalf("alice's second message at once: %v, want ErrFlooded for 10s", err)
	}
	if err := send(bob); err != nil {
		t.Errorf("bob, held back by alice's pace: %v", err)
	}
	for range 3 {
		if err := send(mod); err != nil {
			t.Errorf("a moderator, paced: %v", err)
		}
	}
	// The message store's rule holds for any writer, not only Send.
	advance(4 * time.Second)
	if _, err := msgs.Post(ctx, messages.PostInput{ConversationID: s.Conversation(), Kind: messages.KindStage, AuthorID: alice.ID, Body: "elsewhere"}); !flooded(err, 6*time.Second) {
		t.Errorf("alice's post while blocked: %v, want ErrFlooded for the 6s left", err)
	}
	advance(6 * time.Second)
	if err := send(alice); err != nil {
		t.Errorf("alice after the block: %v", err)
	}
	// A message a little under the interval after the last (a socket's
	// check passed it at the frame's arrival; jitter since) still goes.
	advance(time.Second - 20*time.Millisecond)
	if err := send(alice); err != nil {
		t.Errorf("alice 20 ms under the interval: %v", err)
	}
	if err := send(alice); !flooded(err, 10*time.Second) {
		t.Errorf("alice's next message at once: %v, want ErrFlooded for 10s", err)
	}
	if err := s.UpdateSettings(ctx, func(st *stagechat.Settings) error { st.ChatSpamProtection = false; return nil }); err != nil {
		t.Fatal(err)
	}
	if err := send(alice); err != nil {
		t.Errorf("alice with spam protection off: %v", err)
	}
}

// TestPaceHoldsAcrossNodes: two nodes of a cluster (two Services on one
// database, their shared limits joined by a bus) keep one pace per account: a
// post let through on node A is charged on node B, so the same account's
// post on B inside the interval is refused, and the block B starts then
// holds on A too. Before, each node kept its own pace and an account
// spread over n nodes posted n times the rate.
func TestPaceHoldsAcrossNodes(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := storetest.Engines()[0].Open(t)
	b := bus.NewLocal()
	t.Cleanup(func() { _ = b.Close() })
	var mu sync.Mutex
	now := time.Now()
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	node := func() *stagechat.Service {
		idn, err := identity.New(ctx, identity.Config{}, db.Identity(), nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		msgs, err := messages.New(db.Messages(), nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		// As the app wires a cluster: the shared limits' charges on the bus.
		limits := ratelimit.NewCluster(func(data []byte) error { return b.Publish(ctx, ratelimit.ClusterTopic, data) },
			func(err error) { t.Errorf("publish a charge: %v", err) })
		sub, err := b.Subscribe(ratelimit.ClusterTopic, func(m bus.Message) { limits.Notice(m.Data) })
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = sub.Unsubscribe() })
		s, err := stagechat.New(ctx, stagechat.Config{Defaults: stagechat.DefaultSettings(), FloodRate: 1, FloodBlock: 10 * time.Second,
			Limits: limits}, db.StageChat(), idn, msgs, b, nil)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(s.Presence().Close)
		msgs.AddRules(s)
		s.SetClock(clock)
		return s
	}
	a, bn := node(), node()
	u, _, err := a.Register(ctx, "spreader", "", nil)
	if err != nil {
		t.Fatal(err)
	}
	waitFor := func(what string, ok func() bool) {
		t.Helper()
		deadline := time.Now().Add(hangGuard)
		for !ok() {
			if time.Now().After(deadline) {
				t.Fatalf("timed out waiting for %s", what)
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	if _, err := a.Send(ctx, u, "on node A"); err != nil {
		t.Fatal(err)
	}
	waitFor("node B to charge node A's post", func() bool { return bn.PaceWait(u.ID) > 0 })
	if a.PaceWait(u.ID) > time.Second {
		t.Fatalf("node A charged its own post twice: waits %v", a.PaceWait(u.ID))
	}
	if _, err := bn.Send(ctx, u, "on node B at once"); !errors.Is(err, stagechat.ErrFlooded) {
		t.Fatalf("the same account on node B inside the interval: %v, want ErrFlooded", err)
	}
	waitFor("node A to hold node B's block", func() bool { return a.PaceWait(u.ID) > 5*time.Second })
	mu.Lock()
	now = now.Add(2 * time.Second) // past the interval, inside the block
	mu.Unlock()
	if _, err := a.Send(ctx, u, "on node A while blocked on B"); !errors.Is(err, stagechat.ErrFlooded) {
		t.Fatalf("node A during node B's block: %v, want ErrFlooded", err)
	}
}
