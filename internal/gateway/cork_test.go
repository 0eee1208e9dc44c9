package gateway

import (
	"context"
	"fmt"
	"net"
	"sync"
	"testing"

	"github.com/coder/websocket"
)

// countingConn records each Write that reaches the "socket".
type countingConn struct {
	net.Conn
	mu     sync.Mutex
	writes []string
}

func (c *countingConn) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.writes = append(c.writes, string(p))
	return len(p), nil
}

func TestCorkGathersWrites(t *testing.T) {
	t.Parallel()
	under := &countingConn{}
	cc := &corkConn{Conn: under}
	if _, err := cc.Write([]byte("direct")); err != nil {
		t.Fatal(err)
	}
	cc.cork()
	for _, s := range []string{"a", "b", "c"} {
		if _, err := cc.Write([]byte(s)); err != nil {
			t.Fatal(err)
		}
	}
	if err := cc.uncork(); err != nil {
		t.Fatal(err)
	}
	if err := cc.uncork(); err != nil { // nothing gathered: no write
		t.Fatal(err)
	}
	if _, err := cc.Write([]byte("after")); err != nil {
		t.Fatal(err)
	}
	want := []string{"direct", "abc", "after"}
	if fmt.Sprint(under.writes) != fmt.Sprint(want) {
		t.Fatalf("writes = %q, want %q", under.writes, want)
	}
}

// TestConcurrentChurn publishes on several topics while connections
// subscribe, unsubscribe, send directly and close, to let the race detector
// and the lock ordering (fan-out vs. unsubscribe vs. teardown) be exercised.
// Every connection must finish closing and every bus subscription must end.
func TestConcurrentChurn(t *testing.T) {
	t.Parallel()
	bus := newFakeBus()
	ts := newTestServer(t, serverOpts{sub: bus, cfg: Config{SendQueueMessages: 16}})
	const conns = 20
	topics := []string{"t.0", "t.1", "t.2"}

	var servers []*Conn
	for range conns {
		client := ts.dial(t, "", nil)
		go func() { // read and discard until closed
			for {
				if _, _, err := client.Read(context.Background()); err != nil {
					return
				}
			}
		}()
		servers = append(servers, ts.accepted(t))
	}

	var pubs sync.WaitGroup
	for _, topic := range topics {
		pubs.Add(1)
		go func() {
			defer pubs.Done()
			for i := range 300 {
				bus.publish(topic, fmt.Appendf(nil, "%s-%d", topic, i))
			}
		}()
	}

	var workers sync.WaitGroup
	for i, sc := range servers {
		workers.Add(1)
		go func() {
			defer workers.Done()
			for round := range 30 {
				topic := topics[(i+round)%len(topics)]
				_ = sc.Subscribe(topic, func(_ string, data []byte) ([]byte, bool) {
					return data, round%2 == 0
				})
				sc.Send([]byte("direct"))
				if round%3 == 0 {
					_ = sc.Unsubscribe(topic)
				}
			}
			if i%2 == 0 {
				sc.Close(websocket.StatusNormalClosure, "")
			}
		}()
	}
	workers.Wait()
	pubs.Wait()
	ts.hub.CloseAccount("", 4000, "no-op") // empty account matches nothing
	for _, sc := range servers {
		sc.Close(websocket.StatusNormalClosure, "")
	}
	for _, sc := range servers {
		waitDone(t, sc)
	}
	if st := ts.hub.Stats(); st.Topics != 0 || st.Connections != 0 {
		t.Fatalf("after churn: %+v", st)
	}
	for _, topic := range topics {
		if subs, cancels := bus.counts(topic); subs != cancels {
			t.Fatalf("%s: %d subscribes, %d cancels", topic, subs, cancels)
		}
	}
}
