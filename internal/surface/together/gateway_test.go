package together_test

import (
	"context"
	"encoding/json"
	"errors"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/hearth-community/hearth/internal/store/storetest"
	"github.com/hearth-community/hearth/internal/surface/together"
)

// TestEventsRightAfterReady: a client that has read READY receives every
// event that follows, even one published while the server is still between
// writing READY and marking the connection ready (the hook holds that gap
// open). Before the fix such an event was silently dropped.
func TestEventsRightAfterReady(t *testing.T) {
	t.Parallel()
	e := newEnv(t, storetest.Engines()[0])
	ann, bob := e.register("ann"), e.register("bob")
	_, cid := e.serverWithChannel(ann, "general", bob)
	together.SetReadySent(e.surf, func() { time.Sleep(200 * time.Millisecond) })

	wb, _, err := e.dial("token=" + bob.access)
	if err != nil {
		t.Fatal(err)
	}
	wb.waitFor("READY")
	m, _ := e.must(201, "POST", "/channels/"+cid+"/messages", ann.access, map[string]any{"content": "right after"})
	f := wb.waitFor("MESSAGE_CREATE")
	if !strings.Contains(string(f.D), m["id"].(string)) {
		t.Fatalf("MESSAGE_CREATE %s", f.D)
	}
}

// TestGateway drives the /ws gateway with real WebSocket clients: auth
// before upgrade, READY, permission-filtered dispatch, heartbeat, typing,
// presence per connection, voice signalling and the frame limit.
func TestGateway(t *testing.T) {
	t.Parallel()
	e := newEnv(t, storetest.Engines()[0])
	ann, bob, carl := e.register("ann"), e.register("bob"), e.register("carl")

	for _, q := range []string{"token=garbage", "token=" + ann.refresh, "bot_token=" + strings.Repeat("a", 64)} {
		if _, resp, err := e.dial(q); err == nil || resp == nil || resp.StatusCode != 401 {
			t.Fatalf("%s: want 401 before upgrade, got %v %v", q, resp, err)
		}
	}
	srv, _ := e.must(201, "POST", "/servers", ann.access, map[string]any{"name": "G", "is_public": true})
	sid := srv["id"].(string)
	e.must(201, "POST", "/servers/"+sid+"/join", bob.access, nil)
	e.must(201, "POST", "/servers/"+sid+"/join", carl.access, nil)
	ch, _ := e.must(201, "POST", "/servers/"+sid+"/channels", ann.access, map[string]any{"name": "general", "type": "text"})
	cid := ch["id"].(string)
	// carl may not view the channel.
	e.must(200, "PUT", "/channels/"+cid+"/overrides", ann.access, map[string]any{"user_id": carl.id, "allow": 0, "deny": 1})

	wa, _, err := e.dial("token=" + ann.access)
	if err != nil {
		t.Fatal(err)
	}
	ready, err := wa.next()
	if err != nil || ready.Op != "DISPATCH" || ready.T != "READY" {
		t.Fatalf("first frame %+v %v", ready, err)
	}
	var rd map[string]json.RawMessage
	_ = json.Unmarshal(ready.D, &rd)
	var ks []string
	for k := range rd {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	if strings.Join(ks, ",") != "channel_overrides,dm_channels,mention_counts,server_roles,servers,unread_counts,user" {
		t.Fatalf("READY keys %v", ks)
	}
	// member_count is Hearth's (Together's READY leaves it out, but its web
	// client reads READY's servers as ServerDtos and shows the count).
	if !strings.Contains(string(rd["servers"]), `"member_count":3`) || !strings.Contains(string(rd["channel_overrides"]), carl.id) {
		t.Errorf("READY servers/overrides: %s %s", rd["servers"], rd["channel_overrides"])
	}
	wb, _, _ := e.dial("token=" + bob.access)
	wb.waitFor("READY")
	wc, _, _ := e.dial("token=" + carl.access)
	wc.waitFor("READY")
	wb.waitFor("PRESENCE_UPDATE") // carl came online

	// Garbage and unknown or malformed ops are ignored; the socket lives on.
	for _, junk := range []string{`{"op":`, `[]`, `{"op":"IDENTIFY"}`, `{"op":"TYPING_START","d":{"channel_id":"junk"}}`,
		`{"op":"PRESENCE_UPDATE","d":{"status":"sleeping"}}`, `{"op":"VOICE_SIGNAL","d":{"to_user_id":5}}`} {
		if err := wb.c.Write(context.Background(), websocket.MessageText, []byte(junk)); err != nil {
			t.Fatal(err)
		}
	}
	// Heartbeat.
	wb.send(map[string]any{"op": "HEARTBEAT", "t": nil, "d": nil})
	if f := wb.waitFor("HEARTBEAT_ACK"); f.T != "" || f.D != nil {
		t.Errorf("ack %+v", f)
	}
	// A message reaches viewers only; carl gets the next event he may see.
	m, _ := e.must(201, "POST", "/channels/"+cid+"/messages", ann.access, map[string]any{"content": "secret plans"})
	for _, w := range []*ws{wa, wb} {
		f := w.waitFor("MESSAGE_CREATE")
		var got map[string]any
		_ = json.Unmarshal(f.D, &got)
		if got["id"] != m["id"] || got["poll"] != nil {
			t.Errorf("MESSAGE_CREATE %v", got)
		}
	}
	e.must(201, "POST", "/servers/"+sid+"/roles", ann.access, map[string]any{"name": "r"})
	for {
		f, err := wc.next()
		if err != nil {
			t.Fatalf("carl: %v", err)
		}
		if f.T == "MESSAGE_CREATE" {
			t.Fatal("carl received a message from a channel he may not view")
		}
		if f.T == "ROLE_CREATE" {
			break
		}
	}
	// Typing goes to the others who can view.
	wb.send(map[string]any{"op": "TYPING_START", "t": nil, "d": map[string]string{"channel_id": cid}})
	f := wa.waitFor("TYPING_START")
	if !strings.Contains(string(f.D), `"username":"bob"`) {
		t.Errorf("typing %s", f.D)
	}
	// Edits, reactions and deletes.
	e.must(200, "PATCH", "/messages/"+m["id"].(string), ann.access, map[string]any{"content": "edited"})
	wb.waitFor("MESSAGE_UPDATE")
	e.must(204, "DELETE", "/messages/"+m["id"].(string), ann.access, nil)
	if f := wb.waitFor("MESSAGE_DELETE"); !strings.Contains(string(f.D), `"channel_id":"`+cid+`"`) {
		t.Errorf("delete %s", f.D)
	}
	// Presence counts connections: a second bob socket closing keeps him online.
	wb2, _, _ := e.dial("token=" + bob.access)
	wb2.waitFor("READY")
	_ = wb2.c.Close(websocket.StatusNormalClosure, "")
	e.must(201, "POST", "/channels/"+cid+"/messages", bob.access, map[string]any{"content": "still here"})
	for {
		f := wa.waitFor("")
		if f.T == "PRESENCE_UPDATE" && strings.Contains(string(f.D), `"offline"`) {
			t.Fatal("closing one of two sockets marked bob offline")
		}
		if f.T == "MESSAGE_CREATE" {
			break
		}
	}
	// DMs reach both participants only.
	dm, _ := e.must(201, "POST", "/dm-channels", ann.access, map[string]any{"user_id": bob.id})
	wb.waitFor("DM_CHANNEL_CREATE")
	e.must(201, "POST", "/dm-channels/"+dm["id"].(string)+"/messages", ann.access, map[string]any{"content": "hi bob"})
	wb.waitFor("DM_MESSAGE_CREATE")
	// Voice signalling between members of one voice channel.
	vc, _ := e.must(201, "POST", "/servers/"+sid+"/channels", ann.access, map[string]any{"name": "Lounge", "type": "voice"})
	vid := vc["id"].(string)
	e.must(201, "POST", "/channels/"+vid+"/voice", ann.access, nil)
	e.must(201, "POST", "/channels/"+vid+"/voice", bob.access, nil)
	e.must(400, "POST", "/channels/"+cid+"/voice", bob.access, nil) // a text channel
	e.must(422, "PATCH", "/channels/"+vid+"/voice", bob.access, map[string]any{"self_mute": true, "volume": 3})
	e.must(400, "PATCH", "/channels/"+vid+"/voice", bob.access, map[string]any{}) // as Together: nothing to change
	if v, _ := e.must(200, "PATCH", "/channels/"+vid+"/voice", bob.access, map[string]any{"self_mute": true}); v["self_mute"] != true || v["username"] != "bob" {
		t.Errorf("voice patch %v", v)
	}
	wa.waitFor("VOICE_STATE_UPDATE")
	wa.send(map[string]any{"op": "VOICE_SIGNAL", "t": nil, "d": map[string]any{"to_user_id": bob.id, "type": "offer", "sdp": "v=0", "stream_type": "voice"}})
	sig := wb.waitFor("VOICE_SIGNAL")
	var sd map[string]any
	_ = json.Unmarshal(sig.D, &sd)
	if sd["from_user_id"] != ann.id || sd["sdp"] != "v=0" || sd["candidate"] != nil || sd["to_user_id"] != nil {
		t.Errorf("signal %v", sd)
	}
	e.must(204, "DELETE", "/channels/"+vid+"/voice", bob.access, nil)
	e.must(404, "DELETE", "/channels/"+vid+"/voice", bob.access, nil)
	for {
		f := wa.waitFor("VOICE_STATE_UPDATE")
		if strings.Contains(string(f.D), `"channel_id":null`) {
			break
		}
	}
	// A frame over 16 KiB closes the connection.
	big := `{"op":"HEARTBEAT","d":"` + strings.Repeat("x", 17<<10) + `"}`
	_ = wc.c.Write(context.Background(), websocket.MessageText, []byte(big))
	for {
		if _, err := wc.next(); err != nil {
			if websocket.CloseStatus(err) != websocket.StatusMessageTooBig && !errors.Is(err, context.DeadlineExceeded) {
				break
			}
			if errors.Is(err, context.DeadlineExceeded) {
				t.Fatal("oversized frame did not close the socket")
			}
			break
		}
	}
}

// TestGatewayIdleTimeout: a socket that sends nothing for the idle timeout
// (Together: 300 s; 300 ms here) is closed with 1008 "idle timeout".
func TestGatewayIdleTimeout(t *testing.T) {
	t.Parallel()
	e := newEnv(t, storetest.Engines()[0], func(d *together.Deps) { d.IdleTimeout = 300 * time.Millisecond })
	ann := e.register("ann")
	w, _, err := e.dial("token=" + ann.access)
	if err != nil {
		t.Fatal(err)
	}
	w.waitFor("READY")
	for {
		if _, err := w.next(); err != nil {
			var ce websocket.CloseError
			if !errors.As(err, &ce) || ce.Code != websocket.StatusPolicyViolation || ce.Reason != "idle timeout" {
				t.Fatalf("closed with %v, want 1008 idle timeout", err)
			}
			break
		}
	}
}

// TestGatewayIgnoresBinaryFrames: Together's gateway acts on text frames
// only; a binary frame, even one holding a valid op, is ignored. Hearth
// answered a binary HEARTBEAT. The text PRESENCE_UPDATE sent after it comes
// back to the sender's socket, so every answer to the binary frame would
// have arrived before it.
func TestGatewayIgnoresBinaryFrames(t *testing.T) {
	t.Parallel()
	e := newEnv(t, storetest.Engines()[0])
	ann := e.register("ann")
	w, _, err := e.dial("token=" + ann.access)
	if err != nil {
		t.Fatal(err)
	}
	w.waitFor("READY")
	if err := w.c.Write(context.Background(), websocket.MessageBinary, []byte(`{"op":"HEARTBEAT"}`)); err != nil {
		t.Fatal(err)
	}
	w.send(map[string]any{"op": "PRESENCE_UPDATE", "d": map[string]any{"status": "dnd", "custom_status": "after-binary"}})
	for {
		f, err := w.next()
		if err != nil {
			t.Fatal(err)
		}
		if f.Op == "HEARTBEAT_ACK" {
			t.Fatal("a binary HEARTBEAT frame was answered")
		}
		if f.T == "PRESENCE_UPDATE" && strings.Contains(string(f.D), "after-binary") {
			return
		}
	}
}
