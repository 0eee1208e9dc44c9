package bus_test

import (
	"context"
	"sync/atomic"
	"testing"

	"github.com/hearth-community/hearth/internal/bus"
)

// BenchmarkLocalFanout measures one publisher feeding 100 subscribers of one
// topic: ns/op is per published message, each delivered 100 times. The
// publisher waits for the subscribers every window messages so queues never
// overflow and every message is really handled; "drops" should be 0.
func BenchmarkLocalFanout(b *testing.B) {
	const subscribers, window = 100, 1000
	bs := bus.NewLocal()
	defer bs.Close()

	var handled, want atomic.Int64
	caughtUp := make(chan struct{}, 1)
	for range subscribers {
		if _, err := bs.Subscribe("room.*.events", func(bus.Message) {
			if handled.Add(1) == want.Load() {
				caughtUp <- struct{}{}
			}
		}); err != nil {
			b.Fatal(err)
		}
	}
	ctx := context.Background()
	payload := make([]byte, 128)
	b.SetBytes(int64(len(payload)))
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		if i%window == 0 {
			want.Store(int64(min(i+window, b.N) * subscribers))
		}
		if err := bs.Publish(ctx, "room.42.events", payload); err != nil {
			b.Fatal(err)
		}
		if sent := i + 1; sent%window == 0 || sent == b.N {
			<-caughtUp
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(bs.Dropped()), "drops")
}
