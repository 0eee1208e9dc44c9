package app_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/pion/webrtc/v4"

	"github.com/hearth-community/hearth/internal/config"
)

// TestWHEPSessionsBoundedPerAddress: a public stage's WHEP offers need no
// account, and each holds a peer connection (~340 KiB, a dozen goroutines)
// until it connects or times out, so one address used to be able to make
// them until the node ran out of memory. Past 32 sessions from one address
// the offer is refused with 429 and Retry-After; ending a session frees its
// place, and another address is still served.
func TestWHEPSessionsBoundedPerAddress(t *testing.T) {
	t.Parallel()
	a, base := liveNode(t, func(c *config.Config) { c.TrustProxy = true })
	publishRTMP(t, a)
	v := peer(t)
	for _, k := range []webrtc.RTPCodecType{webrtc.RTPCodecTypeVideo, webrtc.RTPCodecTypeAudio} {
		if _, err := v.AddTransceiverFromKind(k, webrtc.RTPTransceiverInit{Direction: webrtc.RTPTransceiverDirectionRecvonly}); err != nil {
			t.Fatal(err)
		}
	}
	offer := offerSDP(t, v) // never answered: every session stays connecting
	post := func(from string) (int, http.Header, string) {
		t.Helper()
		return postSDP(t, "POST", base+"/api/whep/default", "", "application/sdp", offer, "X-Forwarded-For", from)
	}
	var first string
	for i := range 32 {
		code, hdr, body := post("198.51.100.7")
		if code != 201 {
			t.Fatalf("offer %d: %d %s", i+1, code, body)
		}
		if first == "" {
			first = hdr.Get("Location")
		}
	}
	code, hdr, body := post("198.51.100.7")
	var msg struct {
		Message string `json:"message"`
	}
	if code != 429 || hdr.Get("Retry-After") == "" || json.Unmarshal([]byte(body), &msg) != nil || !strings.Contains(msg.Message, "too many WebRTC sessions") {
		t.Fatalf("33rd offer from one address: %d Retry-After=%q %s", code, hdr.Get("Retry-After"), body)
	}
	if code, _, body := post("203.0.113.9"); code != 201 {
		t.Fatalf("another address: %d %s", code, body)
	}
	if code, _, body := postSDP(t, "DELETE", base+first, "", "", ""); code != 200 {
		t.Fatalf("DELETE %s: %d %s", first, code, body)
	}
	if code, _, body := post("198.51.100.7"); code != 201 {
		t.Fatalf("after ending one session: %d %s", code, body)
	}
}
