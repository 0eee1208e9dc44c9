package owncast_test

import (
	"bytes"
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/hearth-community/hearth/internal/stagechat"
	"github.com/hearth-community/hearth/internal/surface/owncast"
)

// listeners opens n chat sockets and calls onLine for every event line.
func listeners(b *testing.B, n *node, count int, onLine func(line []byte, at time.Time)) []*websocket.Conn {
	b.Helper()
	ctx := context.Background()
	wsURL := strings.Replace(n.url, "http", "ws", 1) + "/ws?accessToken="
	conns := make([]*websocket.Conn, count)
	var wg sync.WaitGroup
	sem := make(chan struct{}, 64)
	for i := range count {
		_, tok, err := n.chat.Register(ctx, "", "", nil)
		if err != nil {
			b.Fatal(err)
		}
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			dctx, cancel := context.WithTimeout(ctx, 30*time.Second)
			defer cancel()
			ws, _, err := websocket.Dial(dctx, wsURL+tok, nil)
			if err != nil {
				b.Error(err)
				return
			}
			ws.SetReadLimit(1 << 20)
			conns[i] = ws
			go func() {
				for {
					_, data, err := ws.Read(ctx)
					if err != nil {
						return
					}
					now := time.Now()
					for line := range bytes.SplitSeq(data, []byte("\n")) {
						onLine(line, now)
					}
				}
			}()
		}()
	}
	wg.Wait()
	b.Cleanup(func() {
		for _, c := range conns {
			if c != nil {
				c.CloseNow()
			}
		}
	})
	return conns
}

// BenchmarkChatFanout: senders post CHAT messages over their sockets; every
// message is delivered to every listening socket. Reports deliveries per
// second and the send→receive latency percentiles.
func BenchmarkChatFanout(b *testing.B) {
	// rate is messages per second from all senders; 0 sends as fast as the
	// listeners absorb (at most 20 messages in flight).
	for _, c := range []struct{ sockets, rate int }{{1000, 5}, {1000, 0}, {5000, 4}} {
		sockets := c.sockets
		b.Run(fmt.Sprintf("sockets=%d/rate=%d", c.sockets, c.rate), func(b *testing.B) {
			n := newNode(b, nodeOpts{chat: func(o *owncast.ChatOptions) { o.FloodRate = -1 }})
			// Bodies arrive JSON-escaped: \u003cp\u003et=<ns>\u003c/p\u003e
			marker := []byte(`003et=`)
			var delivered, ready atomic.Int64
			var mu sync.Mutex
			lat := make([]time.Duration, 0, 1<<20)
			listeners(b, n, sockets, func(line []byte, at time.Time) {
				i := bytes.Index(line, marker)
				if i < 0 {
					if bytes.Contains(line, []byte(`"CONNECTED_USER_INFO"`)) {
						ready.Add(1)
					}
					return
				}
				rest := line[i+len(marker):]
				j := bytes.IndexByte(rest, '\\')
				if j < 0 {
					return
				}
				ns, err := strconv.ParseInt(string(rest[:j]), 10, 64)
				if err != nil {
					return
				}
				d := at.Sub(time.Unix(0, ns))
				mu.Lock()
				lat = append(lat, d)
				mu.Unlock()
				delivered.Add(1)
			})
			// A socket is subscribed once its CONNECTED_USER_INFO arrived.
			for ready.Load() < int64(sockets) {
				time.Sleep(10 * time.Millisecond)
			}
			const senders = 5
			sendConns := make([]*websocket.Conn, senders)
			for i := range sendConns {
				_, tok, _ := n.chat.Register(context.Background(), "", "", nil)
				ws, _, err := websocket.Dial(context.Background(), strings.Replace(n.url, "http", "ws", 1)+"/ws?accessToken="+tok, nil)
				if err != nil {
					b.Fatal(err)
				}
				defer ws.CloseNow()
				sendConns[i] = ws
			}
			b.ResetTimer()
			start := time.Now()
			want := int64(b.N) * int64(sockets)
			for i := range b.N {
				body := fmt.Sprintf(`{"type":"CHAT","body":"t=%d"}`, time.Now().UnixNano())
				if err := sendConns[i%senders].Write(context.Background(), websocket.MessageText, []byte(body)); err != nil {
					b.Fatal(err)
				}
				if c.rate > 0 {
					time.Sleep(time.Until(start.Add(time.Duration(i+1) * time.Second / time.Duration(c.rate))))
					continue
				}
				// Pace to what the listeners can absorb on this machine: at
				// most 20 messages in flight.
				for int64(i-20)*int64(sockets) > delivered.Load() {
					time.Sleep(time.Millisecond)
				}
			}
			deadline := time.Now().Add(60 * time.Second)
			for delivered.Load() < want && time.Now().Before(deadline) {
				time.Sleep(5 * time.Millisecond)
			}
			elapsed := time.Since(start)
			b.StopTimer()
			if got := delivered.Load(); got < want {
				b.Fatalf("delivered %d of %d", got, want)
			}
			mu.Lock()
			slices.Sort(lat)
			p := func(q float64) float64 { return float64(lat[int(q*float64(len(lat)-1))].Microseconds()) / 1000 }
			b.ReportMetric(float64(delivered.Load())/elapsed.Seconds(), "deliveries/s")
			b.ReportMetric(p(0.5), "p50-ms")
			b.ReportMetric(p(0.99), "p99-ms")
			mu.Unlock()
		})
	}
}

// BenchmarkJoinStorm: N clients join a live stage within moments. Without
// coalescing each join would be announced to everyone (N² frames); with it
// every client receives at most Burst joins per window.
func BenchmarkJoinStorm(b *testing.B) {
	for _, sockets := range []int{2000, 5000} {
		b.Run(fmt.Sprintf("sockets=%d", sockets), func(b *testing.B) {
			for range b.N {
				n := newNode(b, nodeOpts{presence: stagechat.PresenceConfig{Window: 200 * time.Millisecond, Burst: 10}})
				n.chat.Presence().SetOnline(context.Background(), true)
				var joins atomic.Int64
				start := time.Now()
				conns := listeners(b, n, sockets, func(line []byte, _ time.Time) {
					if bytes.Contains(line, []byte(`"USER_JOINED"`)) {
						joins.Add(1)
					}
				})
				b.ReportMetric(time.Since(start).Seconds(), "connect-s")
				// Let the last window flush.
				time.Sleep(500 * time.Millisecond)
				for _, c := range conns {
					if c != nil {
						c.CloseNow()
					}
				}
				b.ReportMetric(float64(joins.Load())/float64(sockets), "joined-events/client")
				b.ReportMetric(float64(joins.Load()), "joined-events")
			}
		})
	}
}
