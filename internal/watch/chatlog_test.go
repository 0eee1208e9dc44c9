package watch

import (
	"context"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hearth-community/hearth/internal/fault"
)

// blockingSink is a ChatSink whose calls wait until released, so a test
// can hold the store "behind" and see what piles up.
type blockingSink struct {
	mu      sync.Mutex
	entered chan struct{} // one value per call that started
	release chan struct{}
	got     map[string][]string
	calls   []int // messages per call
}

func newBlockingSink() *blockingSink {
	return &blockingSink{entered: make(chan struct{}, 1000), release: make(chan struct{}), got: map[string][]string{}}
}

func (b *blockingSink) sink(_ context.Context, batch []RoomChat) {
	b.entered <- struct{}{}
	<-b.release
	b.mu.Lock()
	b.calls = append(b.calls, len(batch))
	for _, c := range batch {
		b.got[c.Room] = append(b.got[c.Room], c.Text)
	}
	b.mu.Unlock()
}

func (b *blockingSink) kept(room string) []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]string(nil), b.got[room]...)
}

// TestChatSinkIsBoundedWhenStoreFallsBehind: while the message store is
// stuck, room chat is still broadcast and accepted at once, at most one
// write per writer is in flight, at most ChatQueue messages wait, the rest
// are counted as dropped, and what is kept is in the room's order. What
// waited is kept in one call (one transaction), not one call per message.
func TestChatSinkIsBoundedWhenStoreFallsBehind(t *testing.T) {
	t.Parallel()
	const queue, sent = 4, 20
	st, rec := &memStore{rooms: map[string]Record{}}, &recorder{}
	svc, err := New(Config{AllowTemp: true, SyncDelay: time.Hour, SaveDelay: time.Hour, ChatWriters: 1, ChatQueue: queue}, st, rec, fakeMedia{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	bs := newBlockingSink()
	svc.SetChatSink(bs.sink)
	ctx, cancel := context.WithCancel(context.Background())
	runDone := make(chan error, 1)
	go func() { runDone <- svc.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		<-runDone
	})

	r, err := svc.Create(ctx, CreateInput{Name: "chatty", OwnerID: "owner"})
	if err != nil {
		t.Fatal(err)
	}
	a := registered("u")
	if err := r.Join(a, "c"); err != nil {
		t.Fatal(err)
	}
	chat := func(i int) {
		t.Helper()
		if err := svc.Handle(ctx, r, a, "c", Request{Type: ReqChat, Text: ptr("m" + strconv.Itoa(i))}); err != nil {
			t.Fatalf("chat %d: %v", i, err)
		}
	}
	chat(0)
	<-bs.entered // the writer now holds m0 and is stuck in the store
	for i := 1; i < sent; i++ {
		chat(i)
	}
	broadcast := 0
	for _, p := range rec.take() {
		if p.ev.Type == EvChat {
			broadcast++
		}
	}
	if broadcast != sent {
		t.Fatalf("broadcast %d chat events, want %d: the live room must not wait for the store", broadcast, sent)
	}
	if got, want := svc.ChatDropped(), int64(sent-1-queue); got != want {
		t.Fatalf("dropped %d, want %d (one in flight, %d queued)", got, want, queue)
	}
	close(bs.release)
	want := []string{"m0", "m1", "m2", "m3", "m4"}
	<-bs.entered // m1…m4, queued while m0 was written
	// Stop Run: the writer returns only after what was queued is written,
	// so nothing more can arrive after this.
	cancel()
	if err := <-runDone; err != nil {
		t.Fatal(err)
	}
	runDone <- nil
	if got := bs.kept("chatty"); !equalStrings(got, want) {
		t.Fatalf("kept %v, want %v in order (one writer per room, bounded queue)", got, want)
	}
	if n := len(bs.entered); n != 0 {
		t.Fatalf("%d more sink calls than the queue could hold", n)
	}
	bs.mu.Lock()
	calls := append([]int(nil), bs.calls...)
	bs.mu.Unlock()
	if len(calls) != 2 || calls[1] != queue {
		t.Fatalf("sink calls of %v messages, want [1 %d]: what queued behind a write is kept in one batch", calls, queue)
	}
}

func equalStrings(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// TestChatKeptAtARate: past ChatKeepRate (burst ten times that) an
// account's room chat is still broadcast at once but no longer kept, and
// counted, while another account's is kept as before; and past
// ChatKeepRoomRate a room keeps no more, however many fresh accounts (a
// guest token is free) share the sending.
func TestChatKeptAtARate(t *testing.T) {
	t.Parallel()
	clock := &fakeClock{t: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)} // no refill
	st, rec := &memStore{rooms: map[string]Record{}}, &recorder{}
	svc, err := New(Config{AllowTemp: true, SyncDelay: time.Hour, SaveDelay: time.Hour, Now: clock.Now, ChatKeepRate: 1, ChatKeepRoomRate: 2},
		st, rec, fakeMedia{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	kept := map[string]int{}
	svc.SetChatSink(func(_ context.Context, batch []RoomChat) {
		mu.Lock()
		defer mu.Unlock()
		for _, c := range batch {
			kept[c.Actor.AccountID]++
		}
	})
	ctx, cancel := context.WithCancel(context.Background())
	runDone := make(chan error, 1)
	go func() { runDone <- svc.Run(ctx) }()
	r, err := svc.Create(ctx, CreateInput{Name: "spam", OwnerID: "owner"})
	if err != nil {
		t.Fatal(err)
	}
	say := func(a Actor, n int) {
		t.Helper()
		if err := r.Join(a, "c-"+a.AccountID); err != nil {
			t.Fatal(err)
		}
		for i := range n {
			if err := svc.Handle(ctx, r, a, "c-"+a.AccountID, Request{Type: ReqChat, Text: ptr("m" + strconv.Itoa(i))}); err != nil {
				t.Fatal(err)
			}
		}
	}
	say(registered("spammer"), 15) // 10 kept (the account's burst)
	say(registered("other"), 2)    // 2 kept: the room has kept 12 of its 20
	const fresh = 20
	for i := range fresh {
		say(anon("fresh"+strconv.Itoa(i)), 1) // the room's last 8 places
	}
	cancel() // Run returns once what was queued is written
	if err := <-runDone; err != nil {
		t.Fatal(err)
	}
	broadcast := 0
	for _, p := range rec.take() {
		if p.ev.Type == EvChat {
			broadcast++
		}
	}
	mu.Lock()
	defer mu.Unlock()
	freshKept := 0
	for id, n := range kept {
		if strings.HasPrefix(id, "fresh") {
			freshKept += n
		}
	}
	sent := 15 + 2 + fresh
	if broadcast != sent || kept["spammer"] != 10 || kept["other"] != 2 || freshKept != 8 || svc.ChatUnkept() != int64(sent-20) {
		t.Fatalf("broadcast %d (want %d), kept %v (want spammer 10, other 2, fresh 8 in all), unkept %d (want %d)",
			broadcast, sent, kept, svc.ChatUnkept(), sent-20)
	}
}

// TestChatWithNULRefused: room chat holding a NUL is refused as a bad
// argument, neither broadcast nor handed to the sink; the message store
// refuses it, so it was shown to the room and never kept (a warning
// logged for each).
func TestChatWithNULRefused(t *testing.T) {
	t.Parallel()
	st, rec := &memStore{rooms: map[string]Record{}}, &recorder{}
	svc, err := New(Config{AllowTemp: true, SyncDelay: time.Hour, SaveDelay: time.Hour}, st, rec, fakeMedia{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var kept []string
	svc.SetChatSink(func(_ context.Context, batch []RoomChat) {
		mu.Lock()
		defer mu.Unlock()
		for _, c := range batch {
			kept = append(kept, c.Text)
		}
	})
	ctx, cancel := context.WithCancel(context.Background())
	runDone := make(chan error, 1)
	go func() { runDone <- svc.Run(ctx) }()
	r, err := svc.Create(ctx, CreateInput{Name: "nul", OwnerID: "owner"})
	if err != nil {
		t.Fatal(err)
	}
	a := registered("u")
	if err := r.Join(a, "c"); err != nil {
		t.Fatal(err)
	}
	err = svc.Handle(ctx, r, a, "c", Request{Type: ReqChat, Text: ptr("a\x00b")})
	if fault.KindOf(err) != fault.Invalid {
		t.Fatalf("chat with a NUL: %v, want a bad argument", err)
	}
	if err := svc.Handle(ctx, r, a, "c", Request{Type: ReqChat, Text: ptr("fine")}); err != nil {
		t.Fatal(err)
	}
	cancel()
	if err := <-runDone; err != nil {
		t.Fatal(err)
	}
	var broadcast []string
	for _, p := range rec.take() {
		if p.ev.Type == EvChat {
			broadcast = append(broadcast, p.ev.Chat.Text)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	if !equalStrings(broadcast, []string{"fine"}) || !equalStrings(kept, []string{"fine"}) {
		t.Fatalf("broadcast %q, kept %q; want only \"fine\" in each", broadcast, kept)
	}
}
