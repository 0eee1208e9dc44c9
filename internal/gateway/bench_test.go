package gateway

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"
)

var benchPayload = []byte(`{"op":"DISPATCH","t":"MESSAGE_CREATE","d":{"id":"0190c5a2-7f7e-7000-8000-000000000000","content":"hello, world"}}`)

func benchEnvelope(_ string, data []byte) ([]byte, bool) {
	out := make([]byte, 0, len(data)+16)
	out = append(out, `{"s":1,"e":`...)
	out = append(out, data...)
	return append(out, '}'), true
}

// newFanoutServer is the fan-out benchmarks' server: a Hub subscribed to
// the returned in-test bus, every socket with codec, queues of 1,024
// messages and no pings.
func newFanoutServer(b *testing.B, codec Codec) (*fakeBus, *testServer) {
	b.Helper()
	bus := newFakeBus()
	return bus, newTestServer(b, serverOpts{
		sub:  bus,
		cfg:  Config{SendQueueMessages: 1024, PingInterval: time.Hour},
		conn: func(*http.Request) ConnOptions { return ConnOptions{Codec: codec} },
	})
}

// BenchmarkFanout measures delivering bus events to 1,000 subscribed sockets
// end to end.
//
// Method: a Hub behind httptest on loopback; 1,000 clients in the same
// process; every server Conn subscribed to one topic of an in-test bus that
// calls the Hub's handler synchronously on the benchmark goroutine. One op
// publishes a burst of events and waits until every client has read every
// event of the burst, so ns/op covers fan-out, queueing, the writers'
// (coalesced) socket writes, loopback TCP and the clients' reads, all
// sharing this machine's cores. ns/event divides by the burst size and
// ns/delivery further by the connection count.
//
// Clients are either real coder/websocket clients ("ws") or "raw" TCP
// readers that do the upgrade by hand and then just count bytes (every frame
// has the same size), which leaves the server side as most of the CPU.
// "burst=1" is lockstep (latency-bound); larger bursts let the writers
// coalesce. "transform" gives each connection a Transform building its own
// envelope (as a surface encoding per-connection JSON would); "passthrough"
// shares the bus payload.
func BenchmarkFanout(b *testing.B) {
	const conns = 1000
	for _, tc := range []struct {
		name      string
		raw       bool
		transform Transform
		codec     Codec
		burst     int
	}{
		{"ws/passthrough/burst=1", false, nil, MessagePerFrame{}, 1},
		{"ws/transform/burst=1", false, benchEnvelope, MessagePerFrame{}, 1},
		{"ws/passthrough/burst=16", false, nil, MessagePerFrame{}, 16},
		{"ws/newline/burst=16", false, nil, NewlineBatch{}, 16},
		{"raw/passthrough/burst=1", true, nil, MessagePerFrame{}, 1},
		{"raw/passthrough/burst=16", true, nil, MessagePerFrame{}, 16},
	} {
		b.Run(tc.name, func(b *testing.B) {
			bus, ts := newFanoutServer(b, tc.codec)
			var wg sync.WaitGroup
			ctx, cancel := context.WithCancel(context.Background())
			b.Cleanup(cancel)
			for range conns {
				if tc.raw {
					br := rawDial(b, ts)
					go rawCount(br, 2+len(benchPayload), &wg)
				} else {
					client := ts.dial(b, "", nil)
					go wsCount(ctx, client, tc.codec, &wg)
				}
				sc := ts.accepted(b)
				if err := sc.Subscribe("bench", tc.transform); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportAllocs()
			b.ResetTimer()
			for range b.N {
				wg.Add(conns * tc.burst)
				for range tc.burst {
					bus.publish("bench", benchPayload)
				}
				waitGroupGuard(b, &wg)
			}
			b.StopTimer()
			perEvent := float64(b.Elapsed().Nanoseconds()) / float64(b.N*tc.burst)
			b.ReportMetric(perEvent, "ns/event")
			b.ReportMetric(perEvent/conns, "ns/delivery")
			if st := ts.hub.Stats(); st.SlowConsumers != 0 {
				b.Fatalf("%d slow consumers during the benchmark", st.SlowConsumers)
			}
		})
	}
}

// BenchmarkFanoutEnqueue measures only the part of fan-out that runs on the
// bus's delivery goroutine: for each of 1,000 subscriptions, the lock, the
// Transform and Send's enqueue. No sockets: the Conns are not started and
// their queues are emptied by hand between bursts (timer stopped).
func BenchmarkFanoutEnqueue(b *testing.B) {
	const conns = 1000
	for _, tc := range []struct {
		name      string
		transform Transform
	}{
		{"passthrough", nil},
		{"transform", benchEnvelope},
	} {
		b.Run(tc.name, func(b *testing.B) {
			h, err := New(Config{}, nopSubscriber, nil)
			if err != nil {
				b.Fatal(err)
			}
			tp := &topic{pattern: "bench"}
			all := make([]*Conn, conns)
			for i := range all {
				all[i] = newConn(h, ConnOptions{})
				// Not started: claim the writer's part so that Send only
				// queues (no writer or flusher touches these Conns).
				all[i].writer = true
				tp.add(&subscription{conn: all[i], active: true, transform: tc.transform})
			}
			b.ReportAllocs()
			b.ResetTimer()
			for i := range b.N {
				tp.deliver("bench", benchPayload)
				if i%128 == 127 {
					b.StopTimer()
					for _, c := range all {
						c.qmu.Lock()
						clear(c.queue)
						c.queue, c.pendingMsgs, c.pendingBytes = c.queue[:0], 0, 0
						c.qmu.Unlock()
					}
					b.StartTimer()
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/conns, "ns/delivery")
			if st := h.Stats(); st.SlowConsumers != 0 {
				b.Fatalf("%d slow consumers", st.SlowConsumers)
			}
		})
	}
}

// wsCount reads frames and calls wg.Done once per message.
func wsCount(ctx context.Context, client *websocket.Conn, codec Codec, wg *sync.WaitGroup) {
	_, newline := codec.(NewlineBatch)
	buf := make([]byte, 4096)
	for {
		_, r, err := client.Reader(ctx)
		if err != nil {
			return
		}
		msgs := 1
		for {
			n, err := r.Read(buf)
			if newline {
				msgs += bytes.Count(buf[:n], []byte{'\n'})
			}
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				return
			}
		}
		for range msgs {
			wg.Done()
		}
	}
}

// rawDial opens a socket with a hand-written upgrade request.
func rawDial(b *testing.B, ts *testServer) *bufio.Reader {
	b.Helper()
	addr := ts.srv.Listener.Addr().String()
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = nc.Close() })
	fmt.Fprintf(nc, "GET / HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"+
		"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n", addr)
	br := bufio.NewReaderSize(nc, 64<<10)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		b.Fatal(err)
	}
	if resp.StatusCode != http.StatusSwitchingProtocols {
		b.Fatalf("upgrade: %s", resp.Status)
	}
	return br
}

// rawCount calls wg.Done for every frameSize bytes read.
func rawCount(br *bufio.Reader, frameSize int, wg *sync.WaitGroup) {
	buf := make([]byte, 64<<10)
	pending := 0
	for {
		n, err := br.Read(buf)
		pending += n
		for ; pending >= frameSize; pending -= frameSize {
			wg.Done()
		}
		if err != nil {
			return
		}
	}
}

func waitGroupGuard(b *testing.B, wg *sync.WaitGroup) {
	done := make(chan struct{})
	go func() {
		wg.Wait()
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(guard):
		b.Fatal("fan-out did not reach every client")
	}
}
