package app_test

import (
	"context"
	"encoding/json"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/pion/webrtc/v4"

	"github.com/hearth-community/hearth/internal/config"
)

// sfuSocket is a web app's gateway socket speaking VOICE_SFU.
type sfuSocket struct {
	t   *testing.T
	ctx context.Context
	ws  *websocket.Conn
}

func dialSFU(ctx context.Context, t *testing.T, base, token string) *sfuSocket {
	t.Helper()
	ws, _, err := websocket.Dial(ctx, "ws"+base[4:]+"/ws?token="+token, nil)
	if err != nil {
		t.Fatal(err)
	}
	ws.SetReadLimit(1 << 20)
	t.Cleanup(func() { _ = ws.CloseNow() })
	s := &sfuSocket{t: t, ctx: ctx, ws: ws}
	for {
		if f := s.frame(); f.T == "READY" {
			return s
		}
	}
}

type gwFrame struct {
	Op string          `json:"op"`
	T  string          `json:"t"`
	D  json.RawMessage `json:"d"`
}

func (s *sfuSocket) frame() gwFrame {
	s.t.Helper()
	_, b, err := s.ws.Read(s.ctx)
	if err != nil {
		s.t.Fatalf("read: %v", err)
	}
	var f gwFrame
	_ = json.Unmarshal(b, &f)
	return f
}

func (s *sfuSocket) send(d map[string]any) {
	s.t.Helper()
	b, _ := json.Marshal(map[string]any{"op": "VOICE_SFU", "d": d})
	if err := s.ws.Write(s.ctx, websocket.MessageText, b); err != nil {
		s.t.Fatal(err)
	}
}

// await reads until a VOICE_SFU dispatch of type typ (failing on an error).
func (s *sfuSocket) await(typ string) map[string]any {
	s.t.Helper()
	for {
		f := s.frame()
		if f.T != "VOICE_SFU" {
			continue
		}
		var d map[string]any
		_ = json.Unmarshal(f.D, &d)
		if d["type"] == typ {
			return d
		}
		if d["type"] == "error" {
			s.t.Fatalf("waiting for %s: %v", typ, d)
		}
	}
}

// TestTwoNodesVoiceSFU: the app's wiring of the SFU cluster on PostgreSQL
// and NATS. A member whose gateway socket is on node B joins a voice
// channel whose room runs on node A (its first member's node): B's
// "joined" lists both members, and the answer to B's publish carries A's
// media port, so the member's media goes to A (internal/voice's
// TestSFUClusterTwoNodes checks the media and the failover).
func TestTwoNodesVoiceSFU(t *testing.T) {
	t.Parallel()
	nodeA, nodeB := clusterPair(t, func(cfg *config.Config) { cfg.RTCUDPAddr, cfg.RTCTCPAddr = "127.0.0.1:0", "" })
	urlA, urlB := nodeA.HTTP.URL(), nodeB.HTTP.URL()
	alice := register(t, urlA, "sfuowner")
	bob := register(t, urlA, "sfumember")
	sid := newServer(t, urlA, alice.AccessToken)
	if code := call(t, "POST", urlB+"/servers/"+sid+"/join", bob.AccessToken, nil, nil); code != 200 && code != 201 {
		t.Fatalf("join on B: %d", code)
	}
	var vc struct{ ID string }
	if code := call(t, "POST", urlA+"/servers/"+sid+"/channels", alice.AccessToken, map[string]string{"name": "Lounge", "type": "voice"}, &vc); code != 201 {
		t.Fatalf("voice channel: %d", code)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	wa := dialSFU(ctx, t, urlA, alice.AccessToken)
	wb := dialSFU(ctx, t, urlB, bob.AccessToken)
	wa.send(map[string]any{"type": "join", "channel_id": vc.ID})
	wa.await("joined")
	wb.send(map[string]any{"type": "join", "channel_id": vc.ID})
	joined := wb.await("joined")
	b, _ := json.Marshal(joined["participants"])
	if !strings.Contains(string(b), alice.User.ID) || !strings.Contains(string(b), bob.User.ID) {
		t.Fatalf("joined on B lists %s, want both members", b)
	}

	var se webrtc.SettingEngine
	se.SetIncludeLoopbackCandidate(true)
	se.SetNetworkTypes([]webrtc.NetworkType{webrtc.NetworkTypeUDP4})
	pc, err := webrtc.NewAPI(webrtc.WithSettingEngine(se)).NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	mic, _ := webrtc.NewTrackLocalStaticRTP(webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeOpus, ClockRate: 48000, Channels: 2}, "mic", "bob")
	if _, err := pc.AddTrack(mic); err != nil {
		t.Fatal(err)
	}
	offer, _ := pc.CreateOffer(nil)
	done := webrtc.GatheringCompletePromise(pc)
	_ = pc.SetLocalDescription(offer)
	<-done
	wb.send(map[string]any{"type": "publish", "sdp": pc.LocalDescription().SDP, "sources": map[string]string{"mic": "mic"}})
	answer, _ := wb.await("answer")["sdp"].(string)
	port := func(a net.Addr) string { return " " + strconv.Itoa(a.(*net.UDPAddr).Port) + " typ host" }
	if !strings.Contains(answer, port(nodeA.RTC.UDPAddr())) || strings.Contains(answer, port(nodeB.RTC.UDPAddr())) {
		t.Fatalf("the answer through B should carry A's media port %s, not B's %s:\n%s", port(nodeA.RTC.UDPAddr()), port(nodeB.RTC.UDPAddr()), answer)
	}
}
