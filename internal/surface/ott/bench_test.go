package ott_test

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"testing"
	"time"

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
