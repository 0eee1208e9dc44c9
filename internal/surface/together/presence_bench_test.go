package together_test

import (
	"bytes"
	"context"
	"fmt"
	"sync/atomic"
	"testing"

	"github.com/hearth-community/hearth/internal/store/storetest"
	"github.com/hearth-community/hearth/internal/surface/together"
)

// countingBus counts the bytes published with a marker in them.
type countingBus struct {
	together.Bus
	marker []byte
	bytes  atomic.Int64
	msgs   atomic.Int64
}

func (c *countingBus) Publish(ctx context.Context, topic string, data []byte) error {
	if bytes.Contains(data, c.marker) {
		c.bytes.Add(int64(len(data)))
		c.msgs.Add(1)
	}
	return c.Bus.Publish(ctx, topic, data)
}

// BenchmarkPresenceFanout measures one PRESENCE_UPDATE of a member of a
// community of N members, from the publish until the one gateway socket
// open (another member's) has it: bus bytes per update (bus-B/op) and the
// process's allocations per update. While the bus carried every
// co-member's id, both grew with N (so a sign-in storm of N members grew
// with N²); now the bus message is the same size for any N, and each node
// works out its recipients from a cached member list.
func BenchmarkPresenceFanout(b *testing.B) {
	for _, members := range []int{10, 100, 1000} {
		b.Run(fmt.Sprintf("members=%d", members), func(b *testing.B) {
			cb := &countingBus{marker: []byte("bench-presence")}
			e := newEnv(b, storetest.Engines()[0], func(d *together.Deps) { cb.Bus = d.Bus; d.Bus = cb })
			owner := e.register("owner")
			srv, _ := e.must(201, "POST", "/servers", owner.access, map[string]any{"name": "P", "is_public": true})
			sid := srv["id"].(string)
			ids := make([]string, 0, members-1)
			for i := range members - 1 {
				u := e.register(fmt.Sprintf("m%d", i))
				e.must(201, "POST", "/servers/"+sid+"/join", u.access, nil)
				ids = append(ids, u.id)
			}
			w, _, err := e.dial("token=" + owner.access)
			if err != nil {
				b.Fatal(err)
			}
			w.waitFor("READY")
			ctx := context.Background()
			update := func(i int) {
				mark := fmt.Sprintf("bench-presence-%d", i)
				e.surf.PublishPresence(ctx, ids[(i+len(ids))%len(ids)], "online", &mark)
				for {
					f, err := w.next()
					if err != nil {
						b.Fatal(err)
					}
					if f.T == "PRESENCE_UPDATE" && bytes.Contains(f.D, []byte(mark+`"`)) {
						return
					}
				}
			}
			update(-1) // warm: the first update reads the member list
			cb.bytes.Store(0)
			cb.msgs.Store(0)
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; b.Loop(); i++ {
				update(i)
			}
			b.StopTimer()
			if n := cb.msgs.Load(); n > 0 {
				b.ReportMetric(float64(cb.bytes.Load())/float64(n), "bus-B/op")
			}
		})
	}
}
