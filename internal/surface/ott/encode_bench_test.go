package ott

import (
	"testing"
	"time"

	"github.com/hearth-community/hearth/internal/watch"
)

// busPayloads are the bus events a seek and a chat message publish, as a
// room encodes them: what the room encoder turns into OTT's JSON once per
// room and node.
func busPayloads(tb testing.TB) map[string][]byte {
	tb.Helper()
	pos := 12.5
	prev := 3.25
	user := watch.UserInfo{ID: "c0ffee00-1111-2222-3333-444455556666", Name: "viewer-17", IsLoggedIn: true, Role: watch.RoleUnregistered}
	evs := map[string]watch.Event{
		"event": {Type: watch.EvEvent, Event: &watch.EventRecord{
			Request:    watch.Request{Type: watch.ReqSeek, Value: &pos},
			User:       user,
			Additional: watch.Additional{PrevPosition: &prev},
		}},
		"chat": {Type: watch.EvChat, Chat: &watch.Chat{From: user, Text: "hello everyone, this is a chat message"}},
		"sync": {Type: watch.EvSync, Sync: &watch.Sync{Fields: watch.FieldPosition | watch.FieldPlaying,
			ServerTime: time.UnixMilli(1_764_900_000_000), Playing: true, Position: pos}},
	}
	out := make(map[string][]byte, len(evs))
	for name, ev := range evs {
		b, err := watch.EncodeEvent(ev)
		if err != nil {
			tb.Fatal(err)
		}
		out[name] = b
	}
	return out
}

// BenchmarkEncodeEvent is the per-room cost of one event: the bus payload
// decoded and written as OTT's JSON (the room encoder memoises the result
// for every socket of the room).
func BenchmarkEncodeEvent(b *testing.B) {
	for _, name := range []string{"event", "chat", "sync"} {
		data := busPayloads(b)[name]
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if out, _ := encodeEvent(data); out == nil {
					b.Fatal("no output")
				}
			}
		})
	}
}
