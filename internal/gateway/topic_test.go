package gateway

import (
	"bytes"
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/coder/websocket"
)

func TestTopicRefCounting(t *testing.T) {
	t.Parallel()
	bus := newFakeBus()
	ts := newTestServer(t, serverOpts{sub: bus})
	c1 := ts.dial(t, "", nil)
	s1 := ts.accepted(t)
	c2 := ts.dial(t, "", nil)
	s2 := ts.accepted(t)

	for _, sc := range []*Conn{s1, s2} {
		if err := sc.Subscribe("room.1", nil); err != nil {
			t.Fatalf("Subscribe: %v", err)
		}
	}
	// Subscribing again replaces the transform without a second reference.
	if err := s1.Subscribe("room.1", nil); err != nil {
		t.Fatalf("re-Subscribe: %v", err)
	}
	if subs, cancels := bus.counts("room.1"); subs != 1 || cancels != 0 {
		t.Fatalf("bus subscribe=%d cancel=%d, want 1 and 0", subs, cancels)
	}
	if got := ts.hub.Stats().Topics; got != 1 {
		t.Fatalf("Topics = %d, want 1", got)
	}

	bus.publish("room.1", []byte("hello both"))
	for _, c := range []*websocket.Conn{c1, c2} {
		if got := readText(t, c); got != "hello both" {
			t.Fatalf("got %q", got)
		}
	}

	s1.Close(websocket.StatusNormalClosure, "")
	wantClose(t, c1, websocket.StatusNormalClosure, "")
	waitDone(t, s1)
	if _, cancels := bus.counts("room.1"); cancels != 0 {
		t.Fatal("bus subscription cancelled while a connection still uses it")
	}
	bus.publish("room.1", []byte("only two"))
	if got := readText(t, c2); got != "only two" {
		t.Fatalf("got %q", got)
	}

	if err := c2.Close(websocket.StatusNormalClosure, ""); err != nil {
		t.Fatalf("client close: %v", err)
	}
	waitDone(t, s2)
	if subs, cancels := bus.counts("room.1"); subs != 1 || cancels != 1 {
		t.Fatalf("bus subscribe=%d cancel=%d, want 1 and 1", subs, cancels)
	}
	if got := ts.hub.Stats().Topics; got != 0 {
		t.Fatalf("Topics = %d, want 0", got)
	}
	if err := s2.Subscribe("room.1", nil); !errors.Is(err, ErrClosed) {
		t.Fatalf("Subscribe on a closed conn = %v, want ErrClosed", err)
	}
}

func TestTransformFilters(t *testing.T) {
	t.Parallel()
	bus := newFakeBus()
	ts := newTestServer(t, serverOpts{sub: bus})
	member := ts.dial(t, "", nil)
	sMember := ts.accepted(t)
	outsider := ts.dial(t, "", nil)
	sOutsider := ts.accepted(t)

	// Events name a channel; only members of "c1" may see c1 events, and
	// each surface wraps the event in its own envelope.
	visible := func(allowed string) Transform {
		return func(topic string, data []byte) ([]byte, bool) {
			if ch, _, _ := bytes.Cut(data, []byte(":")); string(ch) != allowed && string(ch) != "public" {
				return nil, false
			}
			out := make([]byte, 0, len(topic)+len(data)+16)
			out = append(out, `{"t":"`+topic+`","d":"`...)
			out = append(out, data...)
			return append(out, `"}`...), true
		}
	}
	if err := sMember.Subscribe("community.9", visible("c1")); err != nil {
		t.Fatal(err)
	}
	if err := sOutsider.Subscribe("community.9", visible("c2")); err != nil {
		t.Fatal(err)
	}

	bus.publish("community.9", []byte("c1:secret"))
	bus.publish("community.9", []byte("public:hello"))

	if got := readText(t, member); got != `{"t":"community.9","d":"c1:secret"}` {
		t.Fatalf("member first = %q", got)
	}
	if got := readText(t, member); got != `{"t":"community.9","d":"public:hello"}` {
		t.Fatalf("member second = %q", got)
	}
	if got := readText(t, outsider); got != `{"t":"community.9","d":"public:hello"}` {
		t.Fatalf("outsider's first event = %q, want the public one (c1 filtered)", got)
	}
}

func TestUnsubscribeStopsDelivery(t *testing.T) {
	t.Parallel()
	bus := newFakeBus()
	ts := newTestServer(t, serverOpts{sub: bus})
	client := ts.dial(t, "", nil)
	sc := ts.accepted(t)
	for _, p := range []string{"a", "b"} {
		if err := sc.Subscribe(p, nil); err != nil {
			t.Fatal(err)
		}
	}
	if err := sc.Unsubscribe("a"); err != nil {
		t.Fatal(err)
	}
	if err := sc.Unsubscribe("never-subscribed"); err != nil {
		t.Fatal(err)
	}
	if subs, cancels := bus.counts("a"); subs != 1 || cancels != 1 {
		t.Fatalf("a: subscribe=%d cancel=%d", subs, cancels)
	}
	bus.publish("a", []byte("gone"))
	bus.publish("b", []byte("kept"))
	if got := readText(t, client); got != "kept" {
		t.Fatalf("got %q, want kept", got)
	}
}

func TestSubscribeError(t *testing.T) {
	t.Parallel()
	boom := errors.New("bus down")
	calls := 0
	sub := SubscriberFunc(func(string, func(string, []byte)) (func() error, error) {
		calls++
		return nil, boom
	})
	ts := newTestServer(t, serverOpts{sub: sub, conn: func(*http.Request) ConnOptions { return ConnOptions{} }})
	_ = ts.dial(t, "", nil)
	sc := ts.accepted(t)
	err := sc.Subscribe("x", nil)
	if !errors.Is(err, boom) || !strings.Contains(err.Error(), `"x"`) {
		t.Fatalf("Subscribe = %v", err)
	}
	// A failed subscription leaves nothing behind, so a retry asks the bus again.
	_ = sc.Subscribe("x", nil)
	if calls != 2 || ts.hub.Stats().Topics != 0 {
		t.Fatalf("calls=%d topics=%d", calls, ts.hub.Stats().Topics)
	}
	if err := sc.Subscribe("", nil); err == nil {
		t.Fatal("empty pattern accepted")
	}
}
