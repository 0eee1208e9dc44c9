package owncast_test

import (
	"strconv"
	"testing"

	"github.com/coder/websocket"

	"github.com/hearth-community/hearth/internal/surface/owncast"
)

// FuzzChatFrame sends a stranger's frame on a registered chat socket
// (Owncast's /ws: CHAT, NAME_CHANGE, COLOR_CHANGE or anything else, up to
// the payload limit) to a real node, then a plain chat message on the same
// socket. Whatever the frame was, the socket stays open and the message
// reaches another listener: no frame crashes the handler, wedges the
// socket or stops the chat.
func FuzzChatFrame(f *testing.F) {
	for _, s := range []string{"", "null", "[]", "{", `{"type":"NOPE"}`, `{"type":"CHAT","body":42}`,
		`{"type":"CHAT","body":"<img src=x onerror=alert(1)>"}`, `{"type":"CHAT","body":":emoji: **b** [l](javascript:x)"}`,
		`{"type":"NAME_CHANGE","newName":"<b>x</b>"}`, `{"type":"NAME_CHANGE","newName":"\u202e\u200b"}`,
		`{"type":"COLOR_CHANGE","newColor":-1}`, `{"type":"COLOR_CHANGE","newColor":1e99}`, "\x00\xff",
		`{"type":"CHAT","body":"` + "\\u0000" + `"}`, `{"type":"CHAT","type":"NAME_CHANGE","newName":"dup"}`} {
		f.Add([]byte(s))
	}
	n := newNode(f, nodeOpts{chat: func(o *owncast.ChatOptions) { o.FloodRate = -1 }})
	sender, listener := n.register(f, "sender"), n.register(f, "listener")
	sc, lc := n.dial(f, sender.AccessToken), n.dial(f, listener.AccessToken)
	sc.await("CONNECTED_USER_INFO", nil)
	lc.await("CONNECTED_USER_INFO", nil)
	// The sender reads what the server sends it (its own chat, name and
	// colour changes), or the server would cut it as a slow consumer.
	go func() {
		for {
			select {
			case <-sc.events:
			case <-sc.closed:
				return
			}
		}
	}()
	probe := 0
	f.Fuzz(func(t *testing.T, frame []byte) {
		if len(frame) > owncast.MaxSocketPayload {
			return // over the limit: answered with a notice (TestSocketGarbage)
		}
		// The helpers report through the fuzz target's T, which outlives
		// this input; point them at this input's T.
		sc.t, lc.t = t, t
		if err := sc.ws.Write(t.Context(), websocket.MessageText, frame); err != nil {
			t.Fatalf("write %q: %v", frame, err)
		}
		probe++
		body := "probe " + strconv.Itoa(probe)
		sc.send(map[string]any{"type": "CHAT", "body": body})
		lc.await("CHAT", func(e map[string]any) bool { return e["body"] == "<p>"+body+"</p>" })
		select {
		case <-sc.closed:
			t.Fatalf("frame %q closed the socket", frame)
		default:
		}
	})
}
