package ott_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gobwas/ws"
	"github.com/gobwas/ws/wsutil"

	"github.com/hearth-community/hearth/internal/watch"
)

// BenchmarkSyncFanout measures one sync delta (a seek) going from the room
// to every socket in it, over real WebSockets: request, debounce (1 ms
// here), encode once, fan out through the gateway, read by each client.
func BenchmarkSyncFanout(b *testing.B) {
	for _, n := range []int{10, 100} {
		b.Run(fmt.Sprintf("clients=%d", n), func(b *testing.B) {
			h := newHarness(b, opts{syncDelay: time.Millisecond})
			tok := h.grant()
			h.createRoom(tok, "fanout", nil)
			room, err := h.watch.Get(context.Background(), "fanout")
			if err != nil {
				b.Fatal(err)
			}
			var got sync.WaitGroup
			cur := -1.0 // no sync before the first seek matches
			var mu sync.Mutex
			for i := 0; i < n; i++ {
				w, _ := h.join("fanout", h.grant())
				go func() {
					for {
						_, data, err := w.c.Read(context.Background())
						if err != nil {
							return
						}
						var m struct {
							Action string   `json:"action"`
							Pos    *float64 `json:"playbackPosition"`
						}
						if json.Unmarshal(data, &m) == nil && m.Action == "sync" && m.Pos != nil {
							mu.Lock()
							hit := *m.Pos == cur
							mu.Unlock()
							if hit {
								got.Done()
							}
						}
					}
				}()
			}
			a := watch.Actor{AccountID: "bench", Name: "bench"}
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				v := float64(1000 + i)
				mu.Lock()
				cur = v
				mu.Unlock()
				got.Add(n)
				if err := h.watch.Handle(context.Background(), room, a, "", watch.Request{Type: watch.ReqSeek, Value: &v}); err != nil {
					b.Fatal(err)
				}
				got.Wait()
			}
			b.StopTimer()
			b.ReportMetric(float64(b.N*n)/b.Elapsed().Seconds(), "deliveries/s")
		})
	}
}

// BenchmarkSyncFanoutServer is BenchmarkSyncFanout with clients that cost
// nothing per message: each reads the raw bytes of its socket into one
// buffer and looks for the seek's position in them (no WebSocket parser,
// no JSON), so every allocation counted is the server's: the request, the
// room's change, the debounced sync, its bus encoding, the one encoding
// per room and node, and the fan-out to n sockets. allocs/delivery is
// allocations per seek over n: a per-socket allocation would show as ≥ 1.
func BenchmarkSyncFanoutServer(b *testing.B) {
	for _, n := range []int{10, 100} {
		b.Run(fmt.Sprintf("clients=%d", n), func(b *testing.B) {
			h := newHarness(b, opts{syncDelay: time.Millisecond})
			h.createRoom(h.grant(), "fanout", nil)
			room, err := h.watch.Get(context.Background(), "fanout")
			if err != nil {
				b.Fatal(err)
			}
			var cur atomic.Int64 // the position of the seek under way
			cur.Store(-1)        // none yet: the joins' syncs hold position 0
			var got sync.WaitGroup
			for range n {
				r, conn := rawJoin(b, h, "fanout", h.grant())
				go rawReader(r, conn, &cur, &got)
			}
			a := watch.Actor{AccountID: "bench", Name: "bench"}
			var m0, m1 runtime.MemStats
			runtime.ReadMemStats(&m0)
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				v := float64(1_000_000 + i)
				got.Add(n)
				cur.Store(int64(v))
				if err := h.watch.Handle(context.Background(), room, a, "", watch.Request{Type: watch.ReqSeek, Value: &v}); err != nil {
					b.Fatal(err)
				}
				got.Wait()
			}
			b.StopTimer()
			runtime.ReadMemStats(&m1)
			allocs := float64(m1.Mallocs - m0.Mallocs)
			b.ReportMetric(allocs/float64(b.N), "allocs/seek")
			b.ReportMetric(allocs/float64(b.N*n), "allocs/delivery")
			b.ReportMetric(float64(b.N*n)/b.Elapsed().Seconds(), "deliveries/s")
		})
	}
}

// rawJoin opens a room socket with gobwas/ws and authenticates; the reader
// it returns yields the socket's raw bytes (server frames are unmasked).
func rawJoin(b *testing.B, h *harness, room, token string) (io.Reader, net.Conn) {
	b.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), hangGuard)
	defer cancel()
	conn, br, _, err := ws.Dial(ctx, strings.Replace(h.url, "http", "ws", 1)+"/api/room/"+room)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = conn.Close() })
	msg, _ := json.Marshal(map[string]any{"action": "auth", "token": token})
	if err := wsutil.WriteClientText(conn, msg); err != nil {
		b.Fatal(err)
	}
	if br != nil {
		return io.MultiReader(br, conn), conn
	}
	return conn, conn
}

// rawReader counts got down once for each seek whose sync it sees: the
// bytes `"playbackPosition":<cur>,` in what it reads, a match split across
// two reads included. It allocates nothing per read.
func rawReader(r io.Reader, conn net.Conn, cur *atomic.Int64, got *sync.WaitGroup) {
	defer func() { _ = conn.Close() }()
	const keep = 64
	buf := make([]byte, 64<<10)
	var want [64]byte
	tail, seen := 0, int64(-1)
	for {
		k, err := r.Read(buf[tail:])
		if err != nil {
			return
		}
		end := tail + k
		if c := cur.Load(); c >= 0 && c != seen {
			w := strconv.AppendInt(append(want[:0], `"playbackPosition":`...), c, 10)
			w = append(w, ',')
			if bytes.Contains(buf[:end], w) {
				seen = c
				got.Done()
			}
		}
		tail = min(end, keep)
		copy(buf, buf[end-tail:end])
	}
}
