package bus

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestCheck(t *testing.T) {
	t.Parallel()
	tests := []struct {
		s            string
		topic, patOK bool
	}{
		{"a", true, true},
		{"a.b.c", true, true},
		{"a-b_c.D9", true, true},
		{"a.b*", true, true}, // a wildcard only as a whole token, as in NATS
		{"a.>b", true, true},
		{"*", false, true},
		{">", false, true},
		{"a.*", false, true},
		{"*.b", false, true},
		{"a.>", false, true},
		{"*.>", false, true},
		{">.a", false, false},
		{"a.>.b", false, false},
		{"", false, false},
		{".", false, false},
		{"a.", false, false},
		{".a", false, false},
		{"a..b", false, false},
		{"a b", false, false},
		{"a\tb", false, false},
		{"a\r\nb", false, false},
	}
	for _, tc := range tests {
		if err := checkTopic(tc.s); (err == nil) != tc.topic || (err != nil && !errors.Is(err, ErrBadTopic)) {
			t.Errorf("checkTopic(%q) = %v, want ok=%v", tc.s, err, tc.topic)
		}
		if err := checkPattern(tc.s); (err == nil) != tc.patOK || (err != nil && !errors.Is(err, ErrBadTopic)) {
			t.Errorf("checkPattern(%q) = %v, want ok=%v", tc.s, err, tc.patOK)
		}
	}
}

// refMatch is NATS subject matching written the obvious way.
func refMatch(pattern, topic string) bool {
	pt, tt := strings.Split(pattern, "."), strings.Split(topic, ".")
	for i, p := range pt {
		if p == wildTail {
			return len(tt) > i
		}
		if i >= len(tt) || (p != wildOne && p != tt[i]) {
			return false
		}
	}
	return len(pt) == len(tt)
}

// words returns every dot-joined sequence of 1..n tokens from alphabet.
func words(alphabet []string, n int) []string {
	var out, prev []string
	for range n {
		var next []string
		if prev == nil {
			next = slices.Clone(alphabet)
		} else {
			for _, w := range prev {
				for _, a := range alphabet {
					next = append(next, w+"."+a)
				}
			}
		}
		out = append(out, next...)
		prev = next
	}
	return out
}

// TestLocalMatchesLikeNATS subscribes every valid pattern of up to three
// tokens over {a, b, *, >} on one bus, publishes every topic of up to four
// tokens over {a, b} twice, and checks each subscription received exactly
// the topics refMatch accepts, in order.
func TestLocalMatchesLikeNATS(t *testing.T) {
	t.Parallel()
	b := NewLocal()
	defer b.Close()

	topics := words([]string{"a", "b"}, 4)
	type rec struct {
		mu   sync.Mutex
		got  []string
		want []string
		full chan struct{}
	}
	var recs []*rec
	for _, pattern := range words([]string{"a", "b", wildOne, wildTail}, 3) {
		if checkPattern(pattern) != nil {
			continue
		}
		r := &rec{full: make(chan struct{})}
		for range 2 {
			for _, topic := range topics {
				if refMatch(pattern, topic) {
					r.want = append(r.want, topic)
				}
			}
		}
		if len(r.want) == 0 {
			t.Fatalf("pattern %q matches no topic; the test cannot see extra deliveries", pattern)
		}
		if _, err := b.Subscribe(pattern, func(m Message) {
			r.mu.Lock()
			defer r.mu.Unlock()
			r.got = append(r.got, m.Topic)
			if len(r.got) == len(r.want) {
				close(r.full)
			}
		}); err != nil {
			t.Fatalf("Subscribe(%q): %v", pattern, err)
		}
		recs = append(recs, r)
	}
	for range 2 {
		for _, topic := range topics {
			if err := b.Publish(context.Background(), topic, nil); err != nil {
				t.Fatal(err)
			}
		}
	}
	for i, r := range recs {
		select {
		case <-r.full:
		case <-time.After(hangGuard):
			t.Fatalf("subscription %d: timed out", i)
		}
		r.mu.Lock()
		if !slices.Equal(r.got, r.want) {
			t.Errorf("subscription %d received %q, want %q", i, r.got, r.want)
		}
		r.mu.Unlock()
	}
	if n := b.Dropped(); n != 0 {
		t.Errorf("Dropped() = %d", n)
	}
}

func TestLocalSlowConsumerDrops(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		maxMsgs  int
		maxBytes int
		size     int // payload bytes per message
	}{
		{"message limit", 8, 1 << 20, 1},
		{"byte limit", 1000, 8 * 10, 10},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			b := newLocal(tc.maxMsgs, tc.maxBytes)
			defer b.Close()
			entered, release := make(chan struct{}), make(chan struct{})
			got := make(chan string, 100)
			_, err := b.Subscribe("t", func(m Message) {
				if string(m.Data[:1]) == "0" {
					close(entered)
					<-release
				}
				got <- string(m.Data)
			})
			if err != nil {
				t.Fatal(err)
			}
			payload := func(i int) []byte { return fmt.Appendf(nil, "%d%s", i%10, strings.Repeat("x", tc.size-1)) }
			ctx := context.Background()
			if err := b.Publish(ctx, "t", payload(0)); err != nil {
				t.Fatal(err)
			}
			<-entered
			// The message being handled counts against the bound, so 7 of
			// the next 8 fit and the 8th is dropped.
			for i := 1; i <= 8; i++ {
				if err := b.Publish(ctx, "t", payload(i)); err != nil {
					t.Fatal(err)
				}
			}
			if n := b.Dropped(); n != 1 {
				t.Errorf("Dropped() = %d, want 1", n)
			}
			close(release)
			for i := range 8 {
				select {
				case d := <-got:
					if want := string(payload(i)); d != want {
						t.Fatalf("message %d = %q, want %q", i, d, want)
					}
				case <-time.After(hangGuard):
					t.Fatalf("timed out waiting for message %d", i)
				}
			}
			// The queue drained, so there is room again.
			if err := b.Publish(ctx, "t", payload(9)); err != nil {
				t.Fatal(err)
			}
			select {
			case d := <-got:
				if want := string(payload(9)); d != want {
					t.Fatalf("after draining got %q, want %q", d, want)
				}
			case <-time.After(hangGuard):
				t.Fatal("timed out after draining")
			}
		})
	}
}

func TestLocalUnsubscribePrunesTree(t *testing.T) {
	t.Parallel()
	b := NewLocal()
	defer b.Close()
	var subs []Subscription
	for _, p := range []string{"a", "a.b", "a.*", "a.>", "*.b.c", ">", "a.b"} {
		s, err := b.Subscribe(p, func(Message) {})
		if err != nil {
			t.Fatal(err)
		}
		subs = append(subs, s)
	}
	for _, s := range subs {
		if err := s.Unsubscribe(); err != nil {
			t.Fatal(err)
		}
	}
	b.mu.RLock()
	defer b.mu.RUnlock()
	if !b.root.empty() || len(b.subs) != 0 {
		t.Errorf("tree not empty after every Unsubscribe: %d children, %d subs", len(b.root.children), len(b.subs))
	}
}

func TestGoid(t *testing.T) {
	t.Parallel()
	here := goid()
	other := make(chan uint64)
	go func() { other <- goid() }()
	there := <-other
	if here == 0 || there == 0 || here == there || goid() != here {
		t.Errorf("goid: here %d (again %d), other goroutine %d", here, goid(), there)
	}
}

func TestRedactURLs(t *testing.T) {
	t.Parallel()
	tests := []struct{ in, want string }{
		{"nats://127.0.0.1:4222", "nats://127.0.0.1:4222"},
		{"127.0.0.1:4222", "nats://127.0.0.1:4222"},
		{"nats://u:pw@h:4222", "nats://u:xxxxx@h:4222"},
		{"nats://tok@h:4222", "nats://redacted@h:4222"},
		{"nats://a:1, tls://u:pw@b:2", "nats://a:1,tls://u:xxxxx@b:2"},
		{"nats://%zz", "<invalid url>"},
	}
	for _, tc := range tests {
		if got := redactURLs(tc.in); got != tc.want {
			t.Errorf("redactURLs(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}
