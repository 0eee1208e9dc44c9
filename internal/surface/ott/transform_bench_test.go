package ott

import (
	"fmt"
	"testing"

	"github.com/hearth-community/hearth/internal/watch"
)

// BenchmarkRoomTransform measures what one delivery of a room event costs
// on the bus's delivery goroutine, per socket: the topic match and the
// room encoder's memo. 1,000 sockets of one room see the same event bytes
// one after another, as the gateway's fan-out hands them; the event is
// encoded once (the first socket) and every delivery after it must
// allocate nothing (-benchmem: allocs/op is per event, for 1,000
// deliveries).
func BenchmarkRoomTransform(b *testing.B) {
	const sockets = 1000
	s := &Surface{}
	enc := &encoder{pattern: watch.RoomPattern("r"), node: watch.NodeTopic("r", "n1"), clientPrefix: watch.ClientTopic("r", "")}
	s.encoders.Store("r", enc)
	trs := make([]func(string, []byte) ([]byte, bool), sockets)
	for i := range trs {
		sk := &socket{s: s, client: fmt.Sprintf("client-%04d", i)}
		trs[i] = sk.roomTransform(enc)
	}
	pos := 12.5
	topic := watch.RoomTopic("r")
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		// A fresh bus payload per event, as the bus delivers each publish.
		b.StopTimer()
		pos++
		data, err := watch.EncodeEvent(watch.Event{Type: watch.EvSync, Sync: &watch.Sync{Fields: watch.FieldPosition, Position: pos}})
		if err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		for _, tr := range trs {
			if out, ok := tr(topic, data); !ok || len(out) == 0 {
				b.Fatal("no frame")
			}
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/sockets, "ns/delivery")
}
