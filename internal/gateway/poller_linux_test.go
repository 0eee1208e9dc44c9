//go:build linux

package gateway

import (
	"context"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
)

// TestPollerParksInNetpoller: between events the poller's goroutine waits
// in the runtime's netpoller ("IO wait"), as a goroutine reading a socket
// does, not in a blocking epoll_wait ("syscall"), which kept its P and
// left the read turns it had just started waiting behind it on a busy
// machine. Frames still arrive through it.
func TestPollerParksInNetpoller(t *testing.T) {
	t.Parallel()
	_, srv, conns := serveServer(t, Config{}, nil)
	client := dialRaw(t, srv)
	<-conns
	ctx, cancel := context.WithTimeout(context.Background(), guard)
	defer cancel()
	if err := client.Write(ctx, websocket.MessageText, []byte("hello")); err != nil {
		t.Fatal(err)
	}
	if got := readText(t, client); got != "hello" {
		t.Fatalf("echo = %q", got)
	}
	p := getPoller()
	if p == nil || p.raw == nil {
		t.Fatal("the poller's epoll descriptor is not under the runtime's netpoller")
	}
	deadline := time.Now().Add(guard)
	var state string
	for {
		state = pollerState()
		if strings.HasPrefix(state, "IO wait") {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("poller goroutine is %q, want it parked in IO wait", state)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// pollerState is the state runtime.Stack gives the poller's goroutine.
func pollerState() string {
	buf := make([]byte, 1<<20)
	buf = buf[:runtime.Stack(buf, true)]
	for _, g := range strings.Split(string(buf), "\n\n") {
		if !strings.Contains(g, "gateway.(*poller).loop(") {
			continue
		}
		head, _, _ := strings.Cut(g, "\n")
		if i := strings.Index(head, "["); i >= 0 {
			if j := strings.Index(head[i:], "]"); j >= 0 {
				return head[i+1 : i+j]
			}
		}
		return head
	}
	return "not found"
}
