package rtc_test

import (
	"context"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/pion/ice/v4"
	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"

	"github.com/hearth-community/hearth/internal/rtc"
)

// client is a browser-like pion peer on its own sockets.
func client(t *testing.T, networks ...webrtc.NetworkType) *webrtc.PeerConnection {
	t.Helper()
	var se webrtc.SettingEngine
	se.SetIncludeLoopbackCandidate(true)
	se.SetICEMulticastDNSMode(ice.MulticastDNSModeDisabled)
	se.SetNetworkTypes(networks)
	pc, err := webrtc.NewAPI(webrtc.WithSettingEngine(se)).NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = pc.Close() })
	return pc
}

// publish offers one Opus track from c to a server peer connection of the
// plane and returns the payload of the first RTP packet the server reads.
func publish(t *testing.T, p *rtc.Plane, c *webrtc.PeerConnection) []byte {
	t.Helper()
	track, err := webrtc.NewTrackLocalStaticRTP(webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeOpus, ClockRate: 48000, Channels: 2}, "audio", "client")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.AddTrack(track); err != nil {
		t.Fatal(err)
	}
	srv, err := p.NewPeerConnection()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Close() })
	got := make(chan []byte, 1)
	srv.OnTrack(func(tr *webrtc.TrackRemote, _ *webrtc.RTPReceiver) {
		pkt, _, err := tr.ReadRTP()
		if err == nil {
			got <- pkt.Payload
		}
	})
	offer, err := c.CreateOffer(nil)
	if err != nil {
		t.Fatal(err)
	}
	gathered := webrtc.GatheringCompletePromise(c)
	if err := c.SetLocalDescription(offer); err != nil {
		t.Fatal(err)
	}
	<-gathered
	if err := srv.SetRemoteDescription(*c.LocalDescription()); err != nil {
		t.Fatal(err)
	}
	answer, err := srv.CreateAnswer(nil)
	if err != nil {
		t.Fatal(err)
	}
	sg := webrtc.GatheringCompletePromise(srv)
	if err := srv.SetLocalDescription(answer); err != nil {
		t.Fatal(err)
	}
	<-sg
	if err := c.SetRemoteDescription(*srv.LocalDescription()); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for seq := uint16(0); ; seq++ {
		select {
		case b := <-got:
			return b
		case <-ctx.Done():
			t.Fatal("no RTP reached the server")
		case <-tick.C:
			_ = track.WriteRTP(&rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: 111, SequenceNumber: seq, Timestamp: uint32(seq) * 960}, Payload: []byte{0xfc, 0xff, 0xfe}})
		}
	}
}

func TestMediaOverTheOneUDPPort(t *testing.T) {
	t.Parallel()
	p, err := rtc.New(rtc.Config{UDPAddr: "127.0.0.1:0"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = p.Close() })
	if b := publish(t, p, client(t, webrtc.NetworkTypeUDP4)); len(b) == 0 {
		t.Fatal("empty payload")
	}
}

func TestMediaOverICETCP(t *testing.T) {
	t.Parallel()
	p, err := rtc.New(rtc.Config{UDPAddr: "127.0.0.1:0", TCPAddr: "127.0.0.1:0"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = p.Close() })
	if p.TCPAddr() == nil {
		t.Fatal("no ICE-TCP listener")
	}
	// A client that may use TCP only: its media can reach the server only
	// through the ICE-TCP listener.
	if b := publish(t, p, client(t, webrtc.NetworkTypeTCP4)); len(b) == 0 {
		t.Fatal("empty payload")
	}
}

func TestPublicIPsReplaceHostCandidates(t *testing.T) {
	t.Parallel()
	p, err := rtc.New(rtc.Config{UDPAddr: "127.0.0.1:0", PublicIPs: []netip.Addr{netip.MustParseAddr("203.0.113.9")}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = p.Close() })
	c := client(t, webrtc.NetworkTypeUDP4)
	if _, err := c.AddTransceiverFromKind(webrtc.RTPCodecTypeAudio, webrtc.RTPTransceiverInit{Direction: webrtc.RTPTransceiverDirectionSendonly}); err != nil {
		t.Fatal(err)
	}
	offer, err := c.CreateOffer(nil)
	if err != nil {
		t.Fatal(err)
	}
	srv, err := p.NewPeerConnection()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Close() })
	if err := srv.SetRemoteDescription(offer); err != nil {
		t.Fatal(err)
	}
	answer, err := srv.CreateAnswer(nil)
	if err != nil {
		t.Fatal(err)
	}
	g := webrtc.GatheringCompletePromise(srv)
	if err := srv.SetLocalDescription(answer); err != nil {
		t.Fatal(err)
	}
	<-g
	sdp := srv.LocalDescription().SDP
	if !strings.Contains(sdp, "203.0.113.9") {
		t.Fatalf("answer does not name the public IP:\n%s", sdp)
	}
}

func TestBadAddressesAreRefused(t *testing.T) {
	t.Parallel()
	for _, c := range []rtc.Config{{UDPAddr: "nonsense"}, {UDPAddr: "127.0.0.1:0", TCPAddr: "nonsense"}} {
		if p, err := rtc.New(c, nil); err == nil {
			_ = p.Close()
			t.Fatalf("%+v: no error", c)
		}
	}
}
