package gateway

import (
	"bufio"
	"bytes"
	"io"
	"runtime"
	"sync"
	"testing"
)

// BenchmarkFanoutAllocs reports heap allocations per delivery on the
// fan-out path, with each surface's codec and way of handing events to the
// gateway (issue 21: no per-delivery allocation):
//
//   - owncast: NewlineBatch (the chat socket's codec), events through a
//     topic subscription and a per-connection Transform (the chat surface
//     memoises one encoding per event and hands it to every socket);
//   - ott: MessagePerFrame, events through a topic subscription with a
//     Transform (the room's encoded event, shared);
//   - together: MessagePerFrame, no subscription: the surface encodes once
//     and calls Send on each recipient's Conn.
//
// 1,000 sockets read by raw TCP readers in this process that parse frame
// headers and count events without allocating, so every allocation counted
// (runtime.MemStats.Mallocs over the timed loop) is the server's: fan-out,
// queueing, framing, the flusher and the writes. allocs/delivery is that
// count divided by events × sockets; the per-op figures of -benchmem
// include the same allocations per burst.
func BenchmarkFanoutAllocs(b *testing.B) {
	const conns, burst = 1000, 16
	shared := func(_ string, data []byte) ([]byte, bool) { return data, true }
	for _, tc := range []struct {
		name      string
		codec     Codec
		subscribe bool
	}{
		{"owncast/newline-batch", NewlineBatch{MaxFrameBytes: 64 << 10}, true},
		{"ott/message-per-frame", MessagePerFrame{}, true},
		{"together/direct-send", MessagePerFrame{}, false},
	} {
		b.Run(tc.name, func(b *testing.B) {
			bus, ts := newFanoutServer(b, tc.codec)
			var wg sync.WaitGroup
			servers := make([]*Conn, 0, conns)
			for range conns {
				go rawEvents(rawDial(b, ts), &wg)
				sc := ts.accepted(b)
				if tc.subscribe {
					if err := sc.Subscribe("bench", shared); err != nil {
						b.Fatal(err)
					}
				}
				servers = append(servers, sc)
			}
			deliver := func() {
				if tc.subscribe {
					bus.publish("bench", benchPayload)
					return
				}
				for _, sc := range servers {
					sc.Send(benchPayload)
				}
			}
			// One burst outside the timer warms the pools and the queues.
			wg.Add(conns * burst)
			for range burst {
				deliver()
			}
			waitGroupGuard(b, &wg)
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			b.ReportAllocs()
			b.ResetTimer()
			for range b.N {
				wg.Add(conns * burst)
				for range burst {
					deliver()
				}
				waitGroupGuard(b, &wg)
			}
			b.StopTimer()
			runtime.ReadMemStats(&after)
			deliveries := float64(b.N) * burst * conns
			b.ReportMetric(float64(after.Mallocs-before.Mallocs)/deliveries, "allocs/delivery")
			b.ReportMetric(float64(after.Mallocs-before.Mallocs)/float64(b.N*burst), "allocs/event")
			if st := ts.hub.Stats(); st.SlowConsumers != 0 {
				b.Fatalf("%d slow consumers during the benchmark", st.SlowConsumers)
			}
		})
	}
}

// rawEvents reads server frames (unmasked, FIN set, no fragmentation) and
// calls wg.Done once per event: one per frame, plus one per newline inside
// it (NewlineBatch joins events with '\n'). It allocates nothing per frame.
func rawEvents(br *bufio.Reader, wg *sync.WaitGroup) {
	var hdr [8]byte
	buf := make([]byte, 64<<10)
	for {
		if _, err := io.ReadFull(br, hdr[:2]); err != nil {
			return
		}
		n := int(hdr[1] & 0x7f)
		switch n {
		case 126:
			if _, err := io.ReadFull(br, hdr[:2]); err != nil {
				return
			}
			n = int(hdr[0])<<8 | int(hdr[1])
		case 127:
			if _, err := io.ReadFull(br, hdr[:8]); err != nil {
				return
			}
			n = 0
			for _, c := range hdr {
				n = n<<8 | int(c)
			}
		}
		if n > len(buf) {
			return
		}
		if _, err := io.ReadFull(br, buf[:n]); err != nil {
			return
		}
		for range bytes.Count(buf[:n], newline) + 1 {
			wg.Done()
		}
	}
}

var newline = []byte{'\n'}
