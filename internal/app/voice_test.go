package app_test

import (
	"net"
	"strings"
	"testing"
	"time"

	"github.com/pion/turn/v5"
)

// TestEmbeddedTURN: with --turn-listen, /ice-servers hands out the
// embedded TURN server (UDP and TCP URLs) with REST credentials, and those
// credentials allocate a relay that carries datagrams to a peer and back.
func TestEmbeddedTURN(t *testing.T) {
	t.Parallel()
	cfg := testConfig(t)
	cfg.TurnListen, cfg.TurnRelayPorts, cfg.TurnPrivatePeers = "127.0.0.1:0", "40000-49999", true
	a, _ := start(t, cfg, nil)
	base := a.HTTP.URL()
	alice := register(t, base, "alice")
	var ice struct {
		IceServers []struct{ URLs, Username, Credential string } `json:"iceServers"`
	}
	if code := call(t, "GET", base+"/ice-servers", alice.AccessToken, nil, &ice); code != 200 {
		t.Fatalf("/ice-servers: %d", code)
	}
	var udpURL, tcpURL string
	var user, pass string
	for _, s := range ice.IceServers {
		if strings.HasPrefix(s.URLs, "turn:") {
			user, pass = s.Username, s.Credential
			if strings.HasSuffix(s.URLs, "?transport=udp") {
				udpURL = s.URLs
			} else if strings.HasSuffix(s.URLs, "?transport=tcp") {
				tcpURL = s.URLs
			}
		}
	}
	if udpURL == "" || tcpURL == "" || !strings.HasSuffix(user, ":alice") {
		t.Fatalf("ice servers %+v", ice.IceServers)
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
	_ = peer.SetReadDeadline(time.Now().Add(5 * time.Second))
	n, from, err := peer.ReadFrom(buf)
	if err != nil || string(buf[:n]) != "voice" || from.String() != relay.LocalAddr().String() {
		t.Fatalf("peer got %q from %v: %v", buf[:n], from, err)
	}
	if _, err := peer.WriteTo([]byte("back"), from); err != nil {
		t.Fatal(err)
	}
	_ = relay.SetReadDeadline(time.Now().Add(5 * time.Second))
	if n, _, err := relay.ReadFrom(buf); err != nil || string(buf[:n]) != "back" {
		t.Fatalf("client got %q: %v", buf[:n], err)
	}
}
