package together_test

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/hearth-community/hearth/internal/rtc"
	"github.com/hearth-community/hearth/internal/store/storetest"
	"github.com/hearth-community/hearth/internal/surface/together"
	"github.com/hearth-community/hearth/internal/voice"
	"github.com/pion/webrtc/v4"
)

// sfuFrame reads frames until a VOICE_SFU dispatch of type typ arrives.
func (w *ws) sfuFrame(typ string) map[string]any {
	w.t.Helper()
	for {
		f := w.waitFor("VOICE_SFU")
		var d map[string]any
		_ = json.Unmarshal(f.D, &d)
		if d["type"] == typ {
			return d
		}
		if d["type"] == "error" && typ != "error" {
			w.t.Fatalf("waiting for %s: %v", typ, d)
		}
	}
}

func (w *ws) sfu(d map[string]any) {
	w.t.Helper()
	w.send(map[string]any{"op": "VOICE_SFU", "t": nil, "d": d})
}

// patientPlane is the tests' media plane: on loopback, and waiting for
// connections as long as a test may run (rtc.Patient), as the clients of
// loopbackAPI do. With pion's own clocks a check left unanswered for
// 1.4 s by a starved process (-race, every package's tests at once) failed
// a connection for good, and the test waited out its hang guard.
var patientPlane = rtc.Config{UDPAddr: "127.0.0.1:0", Patience: time.Hour}

// newSFUEnv is newEnv (SQLite) with a voice SFU on its own media plane;
// opts apply after the SFU is set.
func newSFUEnv(t *testing.T, opts ...func(*together.Deps)) *env {
	t.Helper()
	plane, err := rtc.New(patientPlane, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = plane.Close() })
	opts = append([]func(*together.Deps){func(d *together.Deps) { d.SFU = voice.NewSFU(plane, d.Community, nil) }}, opts...)
	return newEnv(t, storetest.Engines()[0], opts...)
}

func loopbackAPI() *webrtc.API {
	var se webrtc.SettingEngine
	se.SetIncludeLoopbackCandidate(true)
	se.SetNetworkTypes([]webrtc.NetworkType{webrtc.NetworkTypeUDP4})
	rtc.Patient(&se, time.Hour)
	return webrtc.NewAPI(webrtc.WithSettingEngine(se))
}

// micOffer is a client about to publish a microphone: a loopback peer
// connection (closed when the test ends) sending an Opus track, and its
// offer with every candidate gathered, ready for a VOICE_SFU publish.
func micOffer(t *testing.T) (*webrtc.PeerConnection, *webrtc.TrackLocalStaticRTP, string) {
	t.Helper()
	pub, err := loopbackAPI().NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = pub.Close() })
	mic, err := webrtc.NewTrackLocalStaticRTP(webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeOpus, ClockRate: 48000, Channels: 2}, "mic", "mic")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := pub.AddTrack(mic); err != nil {
		t.Fatal(err)
	}
	offer, err := pub.CreateOffer(nil)
	if err != nil {
		t.Fatal(err)
	}
	gathered := webrtc.GatheringCompletePromise(pub)
	if err := pub.SetLocalDescription(offer); err != nil {
		t.Fatal(err)
	}
	<-gathered
	return pub, mic, pub.LocalDescription().SDP
}

// TestVoiceSFUOverGateway: Hearth's VOICE_SFU op on Together's gateway
// carries a whole SFU session over the real WebSocket — join, publish,
// the server's subscribe offer and its answer, audio from one member
// reaching another, errors in the op's shape — while a Together client
// that knows nothing of the op sees the voice states come and go.
func TestVoiceSFUOverGateway(t *testing.T) {
	t.Parallel()
	e := newSFUEnv(t)
	ann, bob, carl := e.register("ann"), e.register("bob"), e.register("carl")
	sid, _ := e.serverWithChannel(ann, "general", bob, carl)
	vc, _ := e.must(201, "POST", "/servers/"+sid+"/channels", ann.access, map[string]any{"name": "Lounge", "type": "voice"})
	vid := vc["id"].(string)

	wa, _, err := e.dial("token=" + ann.access)
	if err != nil {
		t.Fatal(err)
	}
	wb, _, err := e.dial("token=" + bob.access)
	if err != nil {
		t.Fatal(err)
	}
	wc, _, err := e.dial("token=" + carl.access) // a Together client: mesh only
	if err != nil {
		t.Fatal(err)
	}
	for _, w := range []*ws{wa, wb, wc} {
		w.waitFor("READY")
	}

	// Errors come back as VOICE_SFU error dispatches with a status.
	wb.sfu(map[string]any{"type": "publish", "sdp": "v=0"})
	if d := wb.sfuFrame("error"); d["status"] != float64(404) || d["op"] != "publish" {
		t.Fatalf("publish before join: %v", d)
	}
	wb.sfu(map[string]any{"type": "dance"})
	if d := wb.sfuFrame("error"); d["status"] != float64(400) {
		t.Fatalf("unknown type: %v", d)
	}
	wb.sfu(map[string]any{"type": "join", "channel_id": "not-a-channel"})
	if d := wb.sfuFrame("error"); d["status"] != float64(404) {
		t.Fatalf("join unknown channel: %v", d)
	}

	// ann joins and publishes a microphone.
	wa.sfu(map[string]any{"type": "join", "channel_id": vid})
	wa.sfuFrame("joined")
	if f := wc.waitFor("VOICE_STATE_UPDATE"); !strings.Contains(string(f.D), `"channel_id":"`+vid+`"`) || !strings.Contains(string(f.D), ann.id) {
		t.Fatalf("Together client saw %s", f.D)
	}
	pub, mic, offer := micOffer(t)
	wa.sfu(map[string]any{"type": "publish", "sdp": offer, "sources": map[string]string{"mic": "mic"}})
	ans := wa.sfuFrame("answer")
	if err := pub.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeAnswer, SDP: ans["sdp"].(string)}); err != nil {
		t.Fatal(err)
	}
	speak(t, mic)

	// bob joins: the server offers him ann's track; his answer goes back
	// over the socket and her audio arrives.
	sub, err := loopbackAPI().NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sub.Close() })
	heard := make(chan string, 1)
	sub.OnTrack(func(tr *webrtc.TrackRemote, _ *webrtc.RTPReceiver) {
		if _, _, err := tr.ReadRTP(); err == nil {
			select {
			case heard <- strings.Split(tr.StreamID(), ":")[0]:
			default:
			}
		}
	})
	wb.sfu(map[string]any{"type": "join", "channel_id": vid})
	off := wb.sfuFrame("offer")
	if err := sub.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeOffer, SDP: off["sdp"].(string)}); err != nil {
		t.Fatal(err)
	}
	answer, err := sub.CreateAnswer(nil)
	if err != nil {
		t.Fatal(err)
	}
	gathered := webrtc.GatheringCompletePromise(sub)
	if err := sub.SetLocalDescription(answer); err != nil {
		t.Fatal(err)
	}
	<-gathered
	wb.sfu(map[string]any{"type": "answer", "sdp": sub.LocalDescription().SDP})
	select {
	case from := <-heard:
		if from != ann.id {
			t.Fatalf("heard stream %q, want ann's", from)
		}
	case <-time.After(hangGuard):
		t.Fatal("bob never heard ann")
	}

	// A layer for a track bob does not receive is refused; mute reaches
	// the voice state every client sees.
	wb.sfu(map[string]any{"type": "layer", "track_id": "nope", "layer": 0})
	if d := wb.sfuFrame("error"); d["status"] != float64(404) {
		t.Fatalf("layer for unknown track: %v", d)
	}
	wa.sfu(map[string]any{"type": "state", "self_mute": true})
	for {
		f := wc.waitFor("VOICE_STATE_UPDATE")
		if strings.Contains(string(f.D), ann.id) && strings.Contains(string(f.D), `"self_mute":true`) {
			break
		}
	}
	// bob has no MUTE_MEMBERS.
	wb.sfu(map[string]any{"type": "server_mute", "user_id": ann.id, "mute": true})
	if d := wb.sfuFrame("error"); d["status"] != float64(403) {
		t.Fatalf("server mute without MUTE_MEMBERS: %v", d)
	}
	// ann (the owner) server-mutes bob: it is stored in his voice state,
	// and, as Together, it stays when he joins again.
	wa.sfu(map[string]any{"type": "server_mute", "user_id": bob.id, "mute": true})
	for {
		f := wc.waitFor("VOICE_STATE_UPDATE")
		if strings.Contains(string(f.D), bob.id) && strings.Contains(string(f.D), `"server_mute":true`) {
			break
		}
	}
	_, vs := e.must(200, "GET", "/channels/"+vid+"/voice", carl.access, nil)
	for _, v := range vs {
		if v := v.(map[string]any); v["user_id"] == bob.id && v["server_mute"] != true {
			t.Errorf("bob's stored voice state %v", v)
		}
	}
	if v, _ := e.must(201, "POST", "/channels/"+vid+"/voice", bob.access, nil); v["server_mute"] != true {
		t.Errorf("rejoining cleared the server mute: %v", v)
	}
	// It holds in the SFU room of another channel he moves to as well.
	vc2, _ := e.must(201, "POST", "/servers/"+sid+"/channels", ann.access, map[string]any{"name": "Den", "type": "voice"})
	wb.sfu(map[string]any{"type": "join", "channel_id": vc2["id"]})
	joined := wb.sfuFrame("joined")
	muted := false
	for _, m := range joined["participants"].([]any) {
		if m := m.(map[string]any); m["user_id"] == bob.id {
			muted = m["server_mute"] == true
		}
	}
	if !muted {
		t.Errorf("bob's server mute did not follow him into another channel's room: %v", joined)
	}
	// bob leaves: the Together client sees him go.
	wb.sfu(map[string]any{"type": "leave"})
	for {
		f := wc.waitFor("VOICE_STATE_UPDATE")
		if strings.Contains(string(f.D), bob.id) && strings.Contains(string(f.D), `"channel_id":null`) {
			break
		}
	}
	// ann's socket closing ends her session too.
	_ = wa.c.CloseNow()
	for {
		f := wc.waitFor("VOICE_STATE_UPDATE")
		if strings.Contains(string(f.D), ann.id) && strings.Contains(string(f.D), `"channel_id":null`) {
			break
		}
	}
}

// Without a media plane the op answers 503 and nothing else changes.
func TestVoiceSFUUnavailable(t *testing.T) {
	t.Parallel()
	e := newEnv(t, storetest.Engines()[0])
	ann := e.register("ann")
	w, _, err := e.dial("token=" + ann.access)
	if err != nil {
		t.Fatal(err)
	}
	w.waitFor("READY")
	w.sfu(map[string]any{"type": "join", "channel_id": "x"})
	if d := w.sfuFrame("error"); d["status"] != float64(503) || !strings.Contains(d["message"].(string), "rtc-udp-addr") {
		t.Fatalf("no SFU: %v", d)
	}
}

// TestVoiceSFUConnectionLostLeavesTheCall: a member whose SFU session ends
// beneath their socket is out of the call for everyone, not a ghost in it.
// ann's media connection never comes up (she closes her side at once, as a
// network change or a closed tab would leave it): when the server gives up
// on it she is told "closed" and every client sees her voice state go.
// bob's session is closed by the room (as at a node's shutdown); his
// client's leave that follows takes him out of the call (it answered 404
// and kept him in it).
func TestVoiceSFUConnectionLostLeavesTheCall(t *testing.T) {
	t.Parallel()
	// The server gives up on a silent connection after a second or two.
	plane, err := rtc.New(rtc.Config{UDPAddr: "127.0.0.1:0", Patience: time.Second}, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = plane.Close() })
	var sfu *voice.SFU
	e := newEnv(t, storetest.Engines()[0], func(d *together.Deps) { sfu = voice.NewSFU(plane, d.Community, nil); d.SFU = sfu })
	ann, bob, carl := e.register("ann"), e.register("bob"), e.register("carl")
	sid, _ := e.serverWithChannel(ann, "general", bob, carl)
	vc, _ := e.must(201, "POST", "/servers/"+sid+"/channels", ann.access, map[string]any{"name": "Lounge", "type": "voice"})
	vid := vc["id"].(string)
	var wa, wb, wc *ws
	for _, w := range []struct {
		into  **ws
		token string
	}{{&wa, ann.access}, {&wb, bob.access}, {&wc, carl.access}} {
		c, _, err := e.dial("token=" + w.token)
		if err != nil {
			t.Fatal(err)
		}
		c.waitFor("READY")
		*w.into = c
	}
	voiceOf := func(id, channel string) {
		t.Helper()
		for {
			f := wc.waitFor("VOICE_STATE_UPDATE")
			if strings.Contains(string(f.D), `"user_id":"`+id+`"`) && strings.Contains(string(f.D), `"channel_id":`+channel) {
				return
			}
		}
	}

	wa.sfu(map[string]any{"type": "join", "channel_id": vid})
	wa.sfuFrame("joined")
	voiceOf(ann.id, `"`+vid+`"`)
	pub, _, offer := micOffer(t)
	_ = pub.Close()
	wa.sfu(map[string]any{"type": "publish", "sdp": offer, "sources": map[string]string{"mic": "mic"}})
	if d := wa.sfuFrame("closed"); !strings.HasPrefix(fmt.Sprint(d["reason"]), "connection ") {
		t.Fatalf("ann's session closed for %v, want a lost connection", d["reason"])
	}
	voiceOf(ann.id, "null")

	wb.sfu(map[string]any{"type": "join", "channel_id": vid})
	wb.sfuFrame("joined")
	voiceOf(bob.id, `"`+vid+`"`)
	if err := sfu.Leave(bob.id); err != nil {
		t.Fatal(err)
	}
	wb.sfuFrame("closed")
	wb.sfu(map[string]any{"type": "leave"})
	voiceOf(bob.id, "null")
	// With nothing left to leave, a leave is still refused.
	wb.sfu(map[string]any{"type": "leave"})
	if d := wb.sfuFrame("error"); d["status"] != float64(404) {
		t.Fatalf("a second leave: %v", d)
	}
}
