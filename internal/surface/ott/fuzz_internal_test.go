package ott

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/coder/websocket"
)

type sink struct{ sent [][]byte }

func (s *sink) Send(m []byte) bool                        { s.sent = append(s.sent, m); return true }
func (s *sink) Close(code websocket.StatusCode, _ string) {}

// FuzzClientFrame feeds arbitrary frames to a socket that has not
// authenticated yet: it must answer with a close error or a notice, never
// panic, and every notice must be valid JSON.
func FuzzClientFrame(f *testing.F) {
	for _, s := range []string{`{"action":"auth"}`, `{"action":"req","request":{"type":"x"}}`, `[]`, `{"action":"kickme","reason":1e99}`, "\xff", `{"action":"notify"}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		out := &sink{}
		sk := &socket{s: &Surface{now: time.Now}, conn: out, name: "room"}
		err := sk.onMessage(context.Background(), data, nil)
		var ce websocket.CloseError
		if err != nil && !asClose(err, &ce) {
			t.Fatalf("non-close error %v", err)
		}
		for _, m := range out.sent {
			if !json.Valid(m) {
				t.Fatalf("invalid notice %q", m)
			}
		}
	})
}

// FuzzEncodeEvent feeds arbitrary bus payloads to the OTT encoder: output,
// when there is any, is one valid JSON object with an action.
func FuzzEncodeEvent(f *testing.F) {
	for _, s := range []string{`{"type":"sync","sync":{}}`, `{"type":"sync","sync":{"a":1}}`, `{"type":"sync","sync":"x"}`,
		`{"type":"event","event":{"request":{"type":3},"user":{"id":"x"},"additional":{}}}`, `{"type":"close","close":"kicked"}`,
		`{"type":"user","user":{"kind":"remove","value":"c"}}`, `{"type":"sync","sync":{"a":1}}}`,
		`{"Type":"sync","Sync":{"Fields":1048575,"Grants":[[0,1]],"Current":{"Service":"direct","ID":"x"}}}`,
		`{"Type":"user","User":{"Kind":"init","Users":[{"ID":"c"}]}}`, `{"Type":"sync","Sync":{"Fields":-1}}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		out, _ := encodeEvent(data)
		if out == nil {
			return
		}
		var m map[string]any
		if err := json.Unmarshal(out, &m); err != nil || m["action"] == nil {
			t.Fatalf("bad output %q for %q: %v", out, data, err)
		}
	})
}

func asClose(err error, ce *websocket.CloseError) bool {
	c, ok := err.(websocket.CloseError)
	if ok {
		*ce = c
	}
	return ok
}
