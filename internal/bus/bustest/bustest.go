// Package bustest is the contract every bus.Bus implementation must meet.
// Each implementation's tests call Run with a constructor; the suite runs
// its cases in parallel, each on its own bus and under its own random topic
// prefix, so one shared external server (NATS) can serve them all.
//
// No case sleeps to synchronise. Waits end as soon as the awaited message
// arrives; the timeout only turns a hang into a failure. "Not delivered" is
// shown by publishing a later sentinel that the subscription does match and
// checking that nothing unwanted arrived before it: both implementations
// deliver one publisher's messages to a subscription in order.
package bustest

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hearth-community/hearth/internal/bus"
)

// timeout bounds every wait; only a broken implementation reaches it.
const timeout = 10 * time.Second

const sentinel = "sentinel"

// Run runs the contract suite. newBus must return a new, open bus; the suite
// closes it when the case ends.
func Run(t *testing.T, newBus func(t *testing.T) bus.Bus) {
	t.Helper()
	cases := []struct {
		name string
		run  func(t *testing.T, b bus.Bus, p prefix)
	}{
		{"Delivery", testDelivery},
		{"Matching", testMatching},
		{"Order", testOrder},
		{"OrderPerPublisher", testOrderPerPublisher},
		{"FanOut", testFanOut},
		{"Unsubscribe", testUnsubscribe},
		{"UnsubscribeWaitsForHandler", testUnsubscribeWaits},
		{"UnsubscribeFromHandler", testUnsubscribeFromHandler},
		{"PublishFromHandler", testPublishFromHandler},
		{"CloseFromHandler", testCloseFromHandler},
		{"BadPublishTopic", testBadPublishTopic},
		{"BadPattern", testBadPattern},
		{"PayloadIsolation", testPayloadIsolation},
		{"DoneContext", testDoneContext},
		{"Ping", testPing},
		{"Close", testClose},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			b := newBus(t)
			t.Cleanup(func() {
				if err := b.Close(); err != nil {
					t.Errorf("Close: %v", err)
				}
			})
			tc.run(t, b, newPrefix())
		})
	}
}

// prefix is a random first token, unique to one case.
type prefix string

func newPrefix() prefix { return prefix("bustest_" + rand.Text()) }

// topic returns the prefix followed by rel's tokens; rel "" is the prefix
// alone.
func (p prefix) topic(rel string) string {
	if rel == "" {
		return string(p)
	}
	return string(p) + "." + rel
}

func testDelivery(t *testing.T, b bus.Bus, p prefix) {
	r := subscribe(t, b, p.topic("room.42"))
	publish(t, b, p.topic("room.42"), "hello")
	got := r.waitFor(t, "hello")
	want := []bus.Message{{Topic: p.topic("room.42"), Data: []byte("hello")}}
	if !equalMsgs(got, want) {
		t.Fatalf("received %s, want %s", fmtMsgs(got), fmtMsgs(want))
	}
}

func testMatching(t *testing.T, b bus.Bus, p prefix) {
	// Topics and patterns are relative to the case's prefix; "" is the
	// prefix alone. Each topic is published in order, with itself as
	// payload, then a matching sentinel; want is what must arrive before the
	// sentinel, in order.
	tests := []struct {
		name     string
		pattern  string
		topics   []string
		want     []string
		sentinel string
	}{
		{
			name:     "literal",
			pattern:  "a.b",
			topics:   []string{"a", "a.b", "a.b.c", "a.bb", "ab", "a.c", "b.b", "A.b", "a.b"},
			want:     []string{"a.b", "a.b"},
			sentinel: "a.b",
		},
		{
			name:     "star last",
			pattern:  "a.*",
			topics:   []string{"a", "a.b", "a.b.c", "b.c", "ab.c", "a.c"},
			want:     []string{"a.b", "a.c"},
			sentinel: "a.z",
		},
		{
			name:     "star middle",
			pattern:  "a.*.c",
			topics:   []string{"a.b.c", "a.c", "a.b.d", "a.b.c.d", "b.b.c", "a.x.c"},
			want:     []string{"a.b.c", "a.x.c"},
			sentinel: "a.z.c",
		},
		{
			name:     "star first",
			pattern:  "*.b",
			topics:   []string{"a.b", "b", "a.b.c", "a.c", "x.b"},
			want:     []string{"a.b", "x.b"},
			sentinel: "z.b",
		},
		{
			name:     "star star",
			pattern:  "*.*",
			topics:   []string{"", "a", "a.b", "a.b.c", "x.y"},
			want:     []string{"a.b", "x.y"},
			sentinel: "z.z",
		},
		{
			name:     "tail",
			pattern:  "a.>",
			topics:   []string{"a", "a.b", "b.a", "ab.c", "a.b.c", "", "a.b.c.d.e"},
			want:     []string{"a.b", "a.b.c", "a.b.c.d.e"},
			sentinel: "a.z",
		},
		{
			name:     "tail needs one token",
			pattern:  ">",
			topics:   []string{"", "a", "a.b.c"},
			want:     []string{"a", "a.b.c"},
			sentinel: "z",
		},
		{
			name:     "star then tail",
			pattern:  "*.>",
			topics:   []string{"", "a", "a.b", "a.b.c"},
			want:     []string{"a.b", "a.b.c"},
			sentinel: "z.z",
		},
		{
			name:     "literal then star then tail",
			pattern:  "a.*.c.>",
			topics:   []string{"a.b.c", "a.b.c.d", "a.b.d.e", "a.c.d", "a.x.c.d.e"},
			want:     []string{"a.b.c.d", "a.x.c.d.e"},
			sentinel: "a.z.c.z",
		},
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			p := prefix(p.topic(strconv.Itoa(i))) // a subtree per case
			r := subscribe(t, b, p.topic(tc.pattern))
			for _, rel := range tc.topics {
				publish(t, b, p.topic(rel), p.topic(rel))
			}
			publish(t, b, p.topic(tc.sentinel), sentinel)
			got := r.waitFor(t, sentinel)
			var want []bus.Message
			for _, rel := range tc.want {
				want = append(want, bus.Message{Topic: p.topic(rel), Data: []byte(p.topic(rel))})
			}
			want = append(want, bus.Message{Topic: p.topic(tc.sentinel), Data: []byte(sentinel)})
			if !equalMsgs(got, want) {
				t.Errorf("pattern %q received\n%s\nwant\n%s", tc.pattern, fmtMsgs(got), fmtMsgs(want))
			}
		})
	}
}

func testOrder(t *testing.T, b bus.Bus, p prefix) {
	const n = 1000
	r := subscribe(t, b, p.topic("seq"))
	for i := range n {
		publish(t, b, p.topic("seq"), strconv.Itoa(i))
	}
	got := r.waitN(t, n)
	for i, m := range got {
		if string(m.Data) != strconv.Itoa(i) {
			t.Fatalf("message %d is %q; want %d (out of order or lost)", i, m.Data, i)
		}
	}
}

func testOrderPerPublisher(t *testing.T, b bus.Bus, p prefix) {
	const publishers, each = 4, 250
	r := subscribe(t, b, p.topic("seq.>"))
	var wg sync.WaitGroup
	for g := range publishers {
		wg.Go(func() {
			for i := range each {
				data := fmt.Sprintf("%d:%d", g, i)
				if err := b.Publish(context.Background(), p.topic("seq."+strconv.Itoa(g)), []byte(data)); err != nil {
					t.Errorf("Publish: %v", err)
					return
				}
			}
		})
	}
	wg.Wait()
	got := r.waitN(t, publishers*each)
	next := make([]int, publishers)
	for _, m := range got {
		var g, i int
		if _, err := fmt.Sscanf(string(m.Data), "%d:%d", &g, &i); err != nil || g < 0 || g >= publishers {
			t.Fatalf("unexpected message %q", m.Data)
		}
		if i != next[g] {
			t.Fatalf("publisher %d: got message %d, want %d", g, i, next[g])
		}
		next[g]++
	}
}

func testFanOut(t *testing.T, b bus.Bus, p prefix) {
	patterns := []string{"news.x", "news.x", "news.x", "news.*", "news.>", ">"}
	var rs []*recorder
	for _, pat := range patterns {
		rs = append(rs, subscribe(t, b, p.topic(pat)))
	}
	publish(t, b, p.topic("news.x"), "hello")
	publish(t, b, p.topic("news.x"), sentinel)
	want := []bus.Message{
		{Topic: p.topic("news.x"), Data: []byte("hello")},
		{Topic: p.topic("news.x"), Data: []byte(sentinel)},
	}
	for i, r := range rs {
		if got := r.waitFor(t, sentinel); !equalMsgs(got, want) {
			t.Errorf("subscriber %d (%q) received %s, want %s", i, patterns[i], fmtMsgs(got), fmtMsgs(want))
		}
	}
}

func testUnsubscribe(t *testing.T, b bus.Bus, p prefix) {
	gone := newRecorder()
	sub, err := b.Subscribe(p.topic("t"), gone.handle)
	if err != nil {
		t.Fatalf("Subscribe: %v", err)
	}
	stays := subscribe(t, b, p.topic("t"))

	publish(t, b, p.topic("t"), "1")
	gone.waitFor(t, "1")
	stays.waitFor(t, "1")

	if err := sub.Unsubscribe(); err != nil {
		t.Fatalf("Unsubscribe: %v", err)
	}
	publish(t, b, p.topic("t"), "2")
	stays.waitFor(t, "2")
	if got := gone.all(); len(got) != 1 {
		t.Errorf("after Unsubscribe the handler still ran: received %s", fmtMsgs(got))
	}
	if err := sub.Unsubscribe(); err != nil {
		t.Errorf("second Unsubscribe: %v", err)
	}
}

func testUnsubscribeWaits(t *testing.T, b bus.Bus, p prefix) {
	entered := make(chan struct{})
	release := make(chan struct{})
	var calls atomic.Int32
	var finished atomic.Bool
	sub, err := b.Subscribe(p.topic("t"), func(bus.Message) {
		if calls.Add(1) == 1 {
			close(entered)
			<-release
			finished.Store(true)
		}
	})
	if err != nil {
		t.Fatalf("Subscribe: %v", err)
	}
	publish(t, b, p.topic("t"), "1")
	publish(t, b, p.topic("t"), "2")
	wait(t, entered, "the handler to be called")

	unsubscribed := make(chan struct{})
	go func() {
		defer close(unsubscribed)
		if err := sub.Unsubscribe(); err != nil {
			t.Errorf("Unsubscribe: %v", err)
		}
		if !finished.Load() {
			t.Errorf("Unsubscribe returned while the handler was still running")
		}
	}()
	close(release)
	wait(t, unsubscribed, "Unsubscribe to return")
	if n := calls.Load(); n > 2 {
		t.Errorf("handler called %d times", n)
	}
}

func testUnsubscribeFromHandler(t *testing.T, b bus.Bus, p prefix) {
	subc := make(chan bus.Subscription, 1)
	unsubscribed := make(chan struct{})
	var calls atomic.Int32
	sub, err := b.Subscribe(p.topic("t"), func(bus.Message) {
		if calls.Add(1) != 1 {
			return
		}
		if err := (<-subc).Unsubscribe(); err != nil {
			t.Errorf("Unsubscribe from handler: %v", err)
		}
		close(unsubscribed)
	})
	if err != nil {
		t.Fatalf("Subscribe: %v", err)
	}
	subc <- sub
	witness := subscribe(t, b, p.topic("t"))

	publish(t, b, p.topic("t"), "1")
	wait(t, unsubscribed, "Unsubscribe called from the handler to return")
	publish(t, b, p.topic("t"), "2")
	witness.waitFor(t, "2")
	if n := calls.Load(); n != 1 {
		t.Errorf("handler called %d times, want 1", n)
	}
}

func testPublishFromHandler(t *testing.T, b bus.Bus, p prefix) {
	out := subscribe(t, b, p.topic("out"))
	_, err := b.Subscribe(p.topic("in"), func(m bus.Message) {
		if err := b.Publish(context.Background(), p.topic("out"), m.Data); err != nil {
			t.Errorf("Publish from handler: %v", err)
		}
	})
	if err != nil {
		t.Fatalf("Subscribe: %v", err)
	}
	publish(t, b, p.topic("in"), "relayed")
	out.waitFor(t, "relayed")
}

func testCloseFromHandler(t *testing.T, b bus.Bus, p prefix) {
	closed := make(chan struct{})
	_, err := b.Subscribe(p.topic("t"), func(bus.Message) {
		if err := b.Close(); err != nil {
			t.Errorf("Close from handler: %v", err)
		}
		close(closed)
	})
	if err != nil {
		t.Fatalf("Subscribe: %v", err)
	}
	publish(t, b, p.topic("t"), "bye")
	wait(t, closed, "Close called from a handler to return")
	if err := b.Publish(context.Background(), p.topic("t"), nil); !errors.Is(err, bus.ErrClosed) {
		t.Errorf("Publish after Close: %v, want ErrClosed", err)
	}
}

func testBadPublishTopic(t *testing.T, b bus.Bus, p prefix) {
	for _, topic := range []string{
		"", ".", "..", string(p) + ".", "." + string(p), p.topic("a..b"),
		"*", ">", p.topic("*"), p.topic(">"), p.topic("*.b"), p.topic("a.>"),
		p.topic("a b"), p.topic("a\tb"), p.topic("a\nb"), p.topic("a\r\nPUB x 1"),
	} {
		if err := b.Publish(context.Background(), topic, []byte("x")); !errors.Is(err, bus.ErrBadTopic) {
			t.Errorf("Publish(%q) = %v, want ErrBadTopic", topic, err)
		}
	}
}

func testBadPattern(t *testing.T, b bus.Bus, p prefix) {
	for _, pattern := range []string{
		"", ".", p.topic("a..b"), string(p) + ".", "." + string(p),
		p.topic(">.a"), p.topic("a.>.b"), ">.>", p.topic("a b"), p.topic("a\nb"),
	} {
		sub, err := b.Subscribe(pattern, func(bus.Message) {})
		if !errors.Is(err, bus.ErrBadTopic) {
			t.Errorf("Subscribe(%q) = %v, want ErrBadTopic", pattern, err)
		}
		if sub != nil {
			_ = sub.Unsubscribe()
		}
	}
}

func testPayloadIsolation(t *testing.T, b bus.Bus, p prefix) {
	r := subscribe(t, b, p.topic("t"))
	buf := []byte("original")
	if err := b.Publish(context.Background(), p.topic("t"), buf); err != nil {
		t.Fatalf("Publish: %v", err)
	}
	copy(buf, "mutated!") // a publisher reusing its buffer
	if err := b.Publish(context.Background(), p.topic("t"), buf); err != nil {
		t.Fatalf("Publish: %v", err)
	}
	copy(buf, "XXXXXXXX")
	got := r.waitN(t, 2)
	if string(got[0].Data) != "original" || string(got[1].Data) != "mutated!" {
		t.Errorf("received %s; want \"original\" then \"mutated!\"", fmtMsgs(got))
	}

	empty := subscribe(t, b, p.topic("empty"))
	publish(t, b, p.topic("empty"), "")
	if got := empty.waitN(t, 1); len(got[0].Data) != 0 {
		t.Errorf("empty payload arrived as %q", got[0].Data)
	}
}

func testDoneContext(t *testing.T, b bus.Bus, p prefix) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := b.Publish(ctx, p.topic("t"), []byte("x")); !errors.Is(err, context.Canceled) {
		t.Errorf("Publish with a canceled context = %v, want context.Canceled", err)
	}
}

func testPing(t *testing.T, b bus.Bus, _ prefix) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	if err := b.Ping(ctx); err != nil {
		t.Errorf("Ping: %v", err)
	}
	if err := b.Ping(context.Background()); err != nil {
		t.Errorf("Ping without deadline: %v", err)
	}
}

func testClose(t *testing.T, b bus.Bus, p prefix) {
	sub, err := b.Subscribe(p.topic("t"), func(bus.Message) {})
	if err != nil {
		t.Fatalf("Subscribe: %v", err)
	}
	if err := b.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	ctx := context.Background()
	if err := b.Publish(ctx, p.topic("t"), []byte("x")); !errors.Is(err, bus.ErrClosed) {
		t.Errorf("Publish after Close = %v, want ErrClosed", err)
	}
	if _, err := b.Subscribe(p.topic("t"), func(bus.Message) {}); !errors.Is(err, bus.ErrClosed) {
		t.Errorf("Subscribe after Close = %v, want ErrClosed", err)
	}
	if err := b.Ping(ctx); !errors.Is(err, bus.ErrClosed) {
		t.Errorf("Ping after Close = %v, want ErrClosed", err)
	}
	if err := sub.Unsubscribe(); err != nil {
		t.Errorf("Unsubscribe after Close = %v, want nil", err)
	}
	if err := b.Close(); err != nil {
		t.Errorf("second Close = %v, want nil", err)
	}
}

// recorder is a handler that keeps what it receives.
type recorder struct {
	mu   sync.Mutex
	msgs []bus.Message
	more chan struct{} // capacity 1; signalled on each message
}

func subscribe(t *testing.T, b bus.Bus, pattern string) *recorder {
	t.Helper()
	r := newRecorder()
	sub, err := b.Subscribe(pattern, r.handle)
	if err != nil {
		t.Fatalf("Subscribe(%q): %v", pattern, err)
	}
	t.Cleanup(func() { _ = sub.Unsubscribe() })
	return r
}

func (r *recorder) handle(m bus.Message) {
	r.mu.Lock()
	r.msgs = append(r.msgs, m)
	r.mu.Unlock()
	select {
	case r.more <- struct{}{}:
	default:
	}
}

func newRecorder() *recorder {
	return &recorder{more: make(chan struct{}, 1)}
}

func (r *recorder) all() []bus.Message {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.msgs)
}

// waitUntil waits until done(messages so far) returns n >= 0 and returns the
// first n messages.
func (r *recorder) waitUntil(t *testing.T, what string, done func([]bus.Message) int) []bus.Message {
	t.Helper()
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	for {
		msgs := r.all()
		if n := done(msgs); n >= 0 {
			return msgs[:n]
		}
		select {
		case <-r.more:
		case <-timer.C:
			t.Fatalf("timed out after %v waiting for %s; received %s", timeout, what, fmtMsgs(msgs))
			return nil
		}
	}
}

// waitFor returns the messages up to and including the first with data.
func (r *recorder) waitFor(t *testing.T, data string) []bus.Message {
	t.Helper()
	return r.waitUntil(t, strconv.Quote(data), func(ms []bus.Message) int {
		for i, m := range ms {
			if string(m.Data) == data {
				return i + 1
			}
		}
		return -1
	})
}

// waitN returns the first n messages.
func (r *recorder) waitN(t *testing.T, n int) []bus.Message {
	t.Helper()
	return r.waitUntil(t, fmt.Sprintf("%d messages", n), func(ms []bus.Message) int {
		if len(ms) >= n {
			return n
		}
		return -1
	})
}

func publish(t *testing.T, b bus.Bus, topic, data string) {
	t.Helper()
	if err := b.Publish(context.Background(), topic, []byte(data)); err != nil {
		t.Fatalf("Publish(%q): %v", topic, err)
	}
}

func wait(t *testing.T, c <-chan struct{}, what string) {
	t.Helper()
	select {
	case <-c:
	case <-time.After(timeout):
		t.Fatalf("timed out after %v waiting for %s", timeout, what)
	}
}

func equalMsgs(a, b []bus.Message) bool {
	return slices.EqualFunc(a, b, func(x, y bus.Message) bool {
		return x.Topic == y.Topic && string(x.Data) == string(y.Data)
	})
}

func fmtMsgs(ms []bus.Message) string {
	if len(ms) > 20 {
		return fmt.Sprintf("%d messages, first %s", len(ms), fmtMsgs(ms[:20]))
	}
	parts := make([]string, len(ms))
	for i, m := range ms {
		parts[i] = fmt.Sprintf("%s:%q", m.Topic, m.Data)
	}
	return "[" + strings.Join(parts, " ") + "]"
}
