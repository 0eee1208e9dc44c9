package app_test

import (
	"net"
	"strings"
	"testing"
	"time"

	"github.com/pion/turn/v5"
	"github.com/pion/webrtc/v4"
)

// TestEmbeddedTURN: with --turn-listen, /ice-servers hands out the
// embedded TURN server (UDP and TCP URLs) with REST credentials, and those
// credentials allocate a relay that carries datagrams to a peer and back.
func TestEmbeddedTURN(t *testing.T) {
	t.Parallel()
	base := turnNode(t)
	turns := turnServers(t, base, register(t, base, "alice").AccessToken)
	udpURL, tcpURL, user, pass := turns[0].URLs, turns[1].URLs, turns[0].Username, turns[0].Credential
	if !strings.HasSuffix(udpURL, "?transport=udp") || !strings.HasSuffix(tcpURL, "?transport=tcp") ||
		turns[1].Username != user {
		t.Fatalf("ice servers %+v", turns)
	}
	addr := strings.TrimSuffix(strings.TrimPrefix(udpURL, "turn:"), "?transport=udp")

	conn, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	c, err := turn.NewClient(&turn.ClientConfig{TURNServerAddr: addr, STUNServerAddr: addr, Conn: conn,
		Username: user, Password: pass, Realm: "hearth"})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Listen(); err != nil {
		t.Fatal(err)
	}
	relay, err := c.Allocate()
	if err != nil {
		t.Fatalf("allocate with /ice-servers credentials: %v", err)
	}
	defer relay.Close()
	peer, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer peer.Close()
	if _, err := relay.WriteTo([]byte("voice"), peer.LocalAddr()); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 1500)
	_ = peer.SetReadDeadline(time.Now().Add(hangGuard))
	n, from, err := peer.ReadFrom(buf)
	if err != nil || string(buf[:n]) != "voice" || from.String() != relay.LocalAddr().String() {
		t.Fatalf("peer got %q from %v: %v", buf[:n], from, err)
	}
	if _, err := peer.WriteTo([]byte("back"), from); err != nil {
		t.Fatal(err)
	}
	_ = relay.SetReadDeadline(time.Now().Add(hangGuard))
	if n, _, err := relay.ReadFrom(buf); err != nil || string(buf[:n]) != "back" {
		t.Fatalf("client got %q: %v", buf[:n], err)
	}
}

// TestVoiceThroughEmbeddedTURN: two WebRTC peers (pion) that may use only
// relayed candidates (as behind symmetric NATs) connect through the
// embedded TURN server with the credentials /ice-servers hands each of
// them, and exchange data over the DTLS/SCTP connection.
func TestVoiceThroughEmbeddedTURN(t *testing.T) {
	t.Parallel()
	base := turnNode(t)
	peer := func(name string) *webrtc.PeerConnection {
		var servers []webrtc.ICEServer
		for _, s := range turnServers(t, base, register(t, base, name).AccessToken) {
			servers = append(servers, webrtc.ICEServer{URLs: []string{s.URLs}, Username: s.Username, Credential: s.Credential})
		}
		pc, err := webrtc.NewPeerConnection(webrtc.Configuration{ICEServers: servers, ICETransportPolicy: webrtc.ICETransportPolicyRelay})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = pc.Close() })
		return pc
	}
	alice, bob := peer("alice"), peer("bob")
	got := make(chan string, 1)
	bob.OnDataChannel(func(dc *webrtc.DataChannel) {
		dc.OnMessage(func(m webrtc.DataChannelMessage) { got <- string(m.Data) })
	})
	dc, err := alice.CreateDataChannel("voice", nil)
	if err != nil {
		t.Fatal(err)
	}
	dc.OnOpen(func() { _ = dc.SendText("hello through the relay") })
	// Non-trickle offer/answer: each side's SDP carries its relayed
	// candidates once gathering is complete.
	complete := func(pc *webrtc.PeerConnection, sd webrtc.SessionDescription) webrtc.SessionDescription {
		done := webrtc.GatheringCompletePromise(pc)
		if err := pc.SetLocalDescription(sd); err != nil {
			t.Fatal(err)
		}
		<-done
		return *pc.LocalDescription()
	}
	offer, err := alice.CreateOffer(nil)
	if err != nil {
		t.Fatal(err)
	}
	offer = complete(alice, offer)
	if !strings.Contains(offer.SDP, "typ relay") {
		t.Fatalf("no relayed candidate gathered:\n%s", offer.SDP)
	}
	if err := bob.SetRemoteDescription(offer); err != nil {
		t.Fatal(err)
	}
	answer, err := bob.CreateAnswer(nil)
	if err != nil {
		t.Fatal(err)
	}
	answer = complete(bob, answer)
	if err := alice.SetRemoteDescription(answer); err != nil {
		t.Fatal(err)
	}
	select {
	case m := <-got:
		if m != "hello through the relay" {
			t.Fatalf("got %q", m)
		}
	case <-time.After(hangGuard):
		t.Fatalf("no data through the relay (ICE state %s / %s)", alice.ICEConnectionState(), bob.ICEConnectionState())
	}
	pair, err := alice.SCTP().Transport().ICETransport().GetSelectedCandidatePair()
	if err != nil || pair == nil || pair.Local.Typ != webrtc.ICECandidateTypeRelay {
		t.Fatalf("selected pair %v %v", pair, err)
	}
}

// turnNode starts a node with the embedded TURN server on loopback (which
// may then relay to loopback peers) and returns its base URL.
func turnNode(t *testing.T) string {
	t.Helper()
	cfg := testConfig(t)
	cfg.TurnListen, cfg.TurnRelayPorts, cfg.TurnPrivatePeers = "127.0.0.1:0", "40000-49999", true
	a, _ := start(t, cfg, nil)
	return a.HTTP.URL()
}

type iceServer struct{ URLs, Username, Credential string }

// turnServers returns the TURN entries /ice-servers hands token's account
// (the public STUN entries are unreachable here): two, UDP then TCP.
func turnServers(t *testing.T, base, token string) []iceServer {
	t.Helper()
	var ice struct {
		IceServers []iceServer `json:"iceServers"`
	}
	if code := call(t, "GET", base+"/ice-servers", token, nil, &ice); code != 200 {
		t.Fatalf("/ice-servers: %d", code)
	}
	var turns []iceServer
	for _, s := range ice.IceServers {
		if strings.HasPrefix(s.URLs, "turn:") {
			turns = append(turns, s)
		}
	}
	if len(turns) != 2 {
		t.Fatalf("ice servers %+v", ice.IceServers)
	}
	return turns
}

// TestTURNCredentialsEndWithTheirSession: the embedded TURN server refuses
// a credential from /ice-servers once the session it was handed to signs
// out, or its account is disabled, though the credential's expiry is a day
// away; another session of the same account keeps relaying.
func TestTURNCredentialsEndWithTheirSession(t *testing.T) {
	t.Parallel()
	cfg := testConfig(t)
	cfg.TurnListen, cfg.TurnRelayPorts, cfg.TurnPrivatePeers = "127.0.0.1:0", "40000-49999", true
	a, _ := start(t, cfg, nil)
	base := a.HTTP.URL()
	admin := adminLogin(t, base)
	alice, bob := register(t, base, "alice"), register(t, base, "bob")
	var again login
	if code := call(t, "POST", base+"/auth/login", "", map[string]string{"username": "alice", "password": "password1"}, &again); code != 200 {
		t.Fatalf("second sign-in: %d", code)
	}
	allocates := func(s iceServer) error {
		addr := strings.TrimSuffix(strings.TrimPrefix(s.URLs, "turn:"), "?transport=udp")
		conn, err := net.ListenPacket("udp4", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		c, err := turn.NewClient(&turn.ClientConfig{TURNServerAddr: addr, STUNServerAddr: addr, Conn: conn,
			Username: s.Username, Password: s.Credential, Realm: "hearth", RTO: 200 * time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		if err := c.Listen(); err != nil {
			t.Fatal(err)
		}
		relay, err := c.Allocate()
		if err == nil {
			_ = relay.Close()
		}
		return err
	}
	aliceTurn, otherTurn, bobTurn := turnServers(t, base, alice.AccessToken)[0], turnServers(t, base, again.AccessToken)[0],
		turnServers(t, base, bob.AccessToken)[0]
	for _, s := range []iceServer{aliceTurn, otherTurn, bobTurn} {
		if err := allocates(s); err != nil {
			t.Fatalf("before: %v", err)
		}
	}
	if code := call(t, "POST", base+"/auth/logout", alice.AccessToken, nil, nil); code != 204 {
		t.Fatalf("logout: %d", code)
	}
	poll(t, "the signed-out session's TURN credential refused", time.Second, func() bool { return allocates(aliceTurn) != nil })
	if err := allocates(otherTurn); err != nil {
		t.Fatalf("the account's other session: %v", err)
	}
	if code := call(t, "PATCH", base+"/api/admin/users/"+bob.User.ID, admin.AccessToken, map[string]any{"disabled": true}, nil); code != 200 {
		t.Fatalf("disable: %d", code)
	}
	poll(t, "the disabled account's TURN credential refused", time.Second, func() bool { return allocates(bobTurn) != nil })
}
