package app_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/pion/ice/v4"
	"github.com/pion/webrtc/v4"
	"github.com/pion/webrtc/v4/pkg/media"
	"github.com/pion/webrtc/v4/pkg/media/h264reader"
	"github.com/pion/webrtc/v4/pkg/media/oggreader"

	"github.com/hearth-community/hearth/internal/app"
	"github.com/hearth-community/hearth/internal/config"
	"github.com/hearth-community/hearth/internal/live"
)

// peer is a pion client on its own sockets (OBS or a browser).
func peer(t *testing.T) *webrtc.PeerConnection {
	t.Helper()
	var se webrtc.SettingEngine
	se.SetIncludeLoopbackCandidate(true)
	se.SetICEMulticastDNSMode(ice.MulticastDNSModeDisabled)
	se.SetNetworkTypes([]webrtc.NetworkType{webrtc.NetworkTypeUDP4})
	me := &webrtc.MediaEngine{}
	if err := me.RegisterDefaultCodecs(); err != nil {
		t.Fatal(err)
	}
	pc, err := webrtc.NewAPI(webrtc.WithSettingEngine(se), webrtc.WithMediaEngine(me)).NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = pc.Close() })
	return pc
}

// offerSDP makes pc's complete offer (no trickle).
func offerSDP(t *testing.T, pc *webrtc.PeerConnection) string {
	t.Helper()
	o, err := pc.CreateOffer(nil)
	if err != nil {
		t.Fatal(err)
	}
	g := webrtc.GatheringCompletePromise(pc)
	if err := pc.SetLocalDescription(o); err != nil {
		t.Fatal(err)
	}
	<-g
	return pc.LocalDescription().SDP
}

// postSDP sends an offer the WHIP/WHEP way; hdr adds header name, value
// pairs.
func postSDP(t *testing.T, method, url, token, ctype, body string, hdr ...string) (int, http.Header, string) {
	t.Helper()
	req, _ := http.NewRequest(method, url, strings.NewReader(body))
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, res.Header, string(b)
}

// testMedia makes 20 s of H.264 (Annex B, no B-frames, a keyframe a
// second) and Opus (Ogg, 20 ms pages) with ffmpeg.
func testMedia(t *testing.T) (h264, opus string) {
	t.Helper()
	dir := t.TempDir()
	h264, opus = filepath.Join(dir, "v.h264"), filepath.Join(dir, "a.ogg")
	for _, args := range [][]string{
		{"-f", "lavfi", "-i", "testsrc=size=320x180:rate=25", "-t", "20", "-c:v", "libx264", "-preset", "ultrafast", "-profile:v", "baseline",
			"-g", "25", "-bf", "0", "-pix_fmt", "yuv420p", "-bsf:v", "h264_mp4toannexb", "-f", "h264", h264},
		{"-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000", "-t", "20", "-c:a", "libopus", "-b:a", "48k",
			"-frame_duration", "20", "-page_duration", "20000", "-f", "ogg", opus},
	} {
		if out, err := exec.Command("ffmpeg", append([]string{"-hide_banner", "-loglevel", "error", "-y"}, args...)...).CombinedOutput(); err != nil {
			t.Fatalf("ffmpeg: %v %s", err, out)
		}
	}
	return h264, opus
}

// sendH264 paces an Annex B file's access units at 25 fps into a track
// (media is real time, as ffmpeg -re sends it) until ctx ends or the file
// does.
func sendH264(ctx context.Context, path string, tr *webrtc.TrackLocalStaticSample) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	r, err := h264reader.NewReader(f)
	if err != nil {
		return err
	}
	tick := time.NewTicker(40 * time.Millisecond)
	defer tick.Stop()
	var au []byte
	for {
		nal, err := r.NextNAL()
		if err != nil {
			if errors.Is(err, io.EOF) {
				return nil
			}
			return err
		}
		au = append(au, 0, 0, 0, 1)
		au = append(au, nal.Data...)
		if t := nal.UnitType; t != h264reader.NalUnitTypeCodedSliceIdr && t != h264reader.NalUnitTypeCodedSliceNonIdr {
			continue
		}
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		}
		if err := tr.WriteSample(media.Sample{Data: au, Duration: 40 * time.Millisecond}); err != nil {
			return err
		}
		au = nil
	}
}

// sendOpus paces an Ogg Opus file's 20 ms packets into a track.
func sendOpus(ctx context.Context, path string, tr *webrtc.TrackLocalStaticSample) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	r, _, err := oggreader.NewWith(f)
	if err != nil {
		return err
	}
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		page, _, err := r.ParseNextPage()
		if err != nil {
			if errors.Is(err, io.EOF) {
				return nil
			}
			return err
		}
		if bytes.HasPrefix(page, []byte("OpusTags")) {
			continue
		}
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		}
		if err := tr.WriteSample(media.Sample{Data: page, Duration: 20 * time.Millisecond}); err != nil {
			return err
		}
	}
}

// publisher is a WHIP client with an H.264 and an Opus track.
func publisher(t *testing.T, video bool) (*webrtc.PeerConnection, *webrtc.TrackLocalStaticSample, *webrtc.TrackLocalStaticSample) {
	t.Helper()
	pc := peer(t)
	var vt *webrtc.TrackLocalStaticSample
	if video {
		var err error
		vt, err = webrtc.NewTrackLocalStaticSample(webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeH264}, "video", "obs")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := pc.AddTransceiverFromTrack(vt, webrtc.RTPTransceiverInit{Direction: webrtc.RTPTransceiverDirectionSendonly}); err != nil {
			t.Fatal(err)
		}
	}
	at, err := webrtc.NewTrackLocalStaticSample(webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeOpus}, "audio", "obs")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := pc.AddTransceiverFromTrack(at, webrtc.RTPTransceiverInit{Direction: webrtc.RTPTransceiverDirectionSendonly}); err != nil {
		t.Fatal(err)
	}
	return pc, vt, at
}

type liveStatus struct {
	Online      bool `json:"online"`
	ViewerCount int  `json:"viewerCount"`
}

// TestWHIPAndWHEP: a pion client publishes H.264 + Opus over WHIP with the
// default stage's stream key; the stage is online in /api/status, a pion
// viewer gets RTP on both tracks over WHEP and is counted, the HLS made
// from the same broadcast plays in ffprobe (H.264 and AAC), and a DELETE
// ends it. Bad keys, bad offers and a second publisher are refused.
func TestWHIPAndWHEP(t *testing.T) {
	t.Parallel()
	a, base := liveNode(t, nil)
	ctx := context.Background()
	if err := a.Live.SetLatencyLevel(ctx, a.Live.DefaultStageID(), 0); err != nil {
		t.Fatal(err)
	}
	h264, opus := testMedia(t)

	// Refused before anything is live.
	vp8 := peer(t)
	if _, err := vp8.AddTransceiverFromKind(webrtc.RTPCodecTypeVideo, webrtc.RTPTransceiverInit{Direction: webrtc.RTPTransceiverDirectionSendonly}); err != nil {
		t.Fatal(err)
	}
	vp8Offer := strings.ReplaceAll(offerSDP(t, vp8), "H264/90000", "X264/90000")
	pc, vt, at := publisher(t, true)
	offer := offerSDP(t, pc)
	for _, c := range []struct {
		name, url, token, ctype, body string
		want                          int
	}{
		{"no bearer", "/api/whip/default", "", "application/sdp", offer, 401},
		{"bad bearer", "/api/whip/default", "nope", "application/sdp", offer, 401},
		{"not sdp", "/api/whip/default", "live-key", "application/json", "{}", 415},
		{"garbage sdp", "/api/whip/default", "live-key", "application/sdp", "hello", 400},
		{"no H.264", "/api/whip/default", "live-key", "application/sdp", vp8Offer, 400},
		{"unknown stage", "/api/whip/nope", "live-key", "application/sdp", offer, 401}, // as a wrong key
		{"whep offline", "/api/whep/default", "", "application/sdp", offer, 404},
	} {
		if code, _, body := postSDP(t, "POST", base+c.url, c.token, c.ctype, c.body); code != c.want {
			t.Errorf("%s: %d %s, want %d", c.name, code, body, c.want)
		}
	}

	code, hdr, ans := postSDP(t, "POST", base+"/api/whip/default", "live-key", "application/sdp", offer)
	if code != 201 || hdr.Get("Content-Type") != "application/sdp" || !strings.HasPrefix(hdr.Get("Location"), "/api/whip/default/") {
		t.Fatalf("WHIP: %d %v %s", code, hdr, ans)
	}
	resource := hdr.Get("Location")
	if err := pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeAnswer, SDP: ans}); err != nil {
		t.Fatal(err)
	}
	sctx, stopSending := context.WithCancel(ctx)
	defer stopSending()
	sent := make(chan error, 2)
	go func() { sent <- sendH264(sctx, h264, vt) }()
	go func() { sent <- sendOpus(sctx, opus, at) }()

	var st liveStatus
	poll(t, "the stage online", 30*time.Second, func() bool {
		return call(t, "GET", base+"/api/status", "", nil, &st) == 200 && st.Online
	})
	// A second publisher, and PATCH (no trickle).
	pc2, _, _ := publisher(t, true)
	if code, _, body := postSDP(t, "POST", base+"/api/whip/default", "live-key", "application/sdp", offerSDP(t, pc2)); code != 409 {
		t.Errorf("second publisher: %d %s", code, body)
	}
	if code, _, _ := postSDP(t, "PATCH", base+resource, "live-key", "application/trickle-ice-sdpfrag", "a=end-of-candidates"); code != 405 {
		t.Errorf("PATCH: %d", code)
	}

	// A WHEP viewer receives both tracks.
	watchWHEP(t, base, peer(t))
	poll(t, "the WebRTC viewer counted", 30*time.Second, func() bool {
		return call(t, "GET", base+"/api/status", "", nil, &st) == 200 && st.ViewerCount >= 1
	})

	// HLS from the same broadcast: H.264 and AAC.
	var streams []string
	poll(t, "HLS that ffprobe reads", 60*time.Second, func() bool {
		out, err := exec.Command("ffprobe", "-v", "error", "-show_entries", "stream=codec_name", "-of", "csv=p=0", base+"/hls/stream.m3u8").Output()
		if err != nil {
			return false
		}
		streams = strings.Fields(string(out))
		return slices.Contains(streams, "h264") && slices.Contains(streams, "aac")
	})

	if code, _, body := postSDP(t, "DELETE", base+resource, "", "", ""); code != 200 {
		t.Fatalf("DELETE: %d %s", code, body)
	}
	poll(t, "the stage offline", 30*time.Second, func() bool {
		return call(t, "GET", base+"/api/status", "", nil, &st) == 200 && !st.Online
	})
	if code, _, _ := postSDP(t, "DELETE", base+resource, "", "", ""); code != 404 {
		t.Errorf("second DELETE: %d", code)
	}
}

// TestWHIPWithoutMediaPlane: a node without --rtc-udp-addr answers WHIP
// and WHEP with 503 and says why.
func TestWHIPWithoutMediaPlane(t *testing.T) {
	t.Parallel()
	cfg := testConfig(t)
	cfg.DefaultStreamKey = "whip-key"
	a, _ := start(t, cfg, nil)
	for _, p := range []string{"/api/whip/default", "/api/whep/default"} {
		tok := "whip-key" // WHIP's bearer is the stream key; WHEP's an optional access token
		if strings.Contains(p, "whep") {
			tok = ""
		}
		code, _, body := postSDP(t, "POST", a.HTTP.URL()+p, tok, "application/sdp", "v=0\r\n")
		if code != 503 || !strings.Contains(body, "rtc-udp-addr") {
			t.Errorf("%s: %d %s", p, code, body)
		}
	}
}

// TestWHEPFromRTMP: a stage published over RTMP plays over WHEP: the H.264
// from the FLV tags is packetized (no video encode) and the AAC is
// transcoded to Opus once for the stage.
func TestWHEPFromRTMP(t *testing.T) {
	t.Parallel()
	a, base := liveNode(t, nil)
	publishRTMP(t, a)
	watchWHEP(t, base, peer(t))
}

// TestWHEPThroughTURNOverTCP: a WHEP viewer whose network lets only TCP
// out (relay-only ICE, the embedded TURN server's TCP URL alone) reaches
// the stage's media through TURN over TCP and receives RTP on both tracks.
func TestWHEPThroughTURNOverTCP(t *testing.T) {
	t.Parallel()
	a, base := liveNode(t, func(cfg *config.Config) {
		cfg.TurnListen, cfg.TurnRelayPorts, cfg.TurnPrivatePeers = "127.0.0.1:0", "40000-49999", true
	})
	publishRTMP(t, a)
	var servers []webrtc.ICEServer
	for _, s := range turnServers(t, base, register(t, base, "viewer").AccessToken) {
		if strings.HasSuffix(s.URLs, "?transport=tcp") {
			servers = append(servers, webrtc.ICEServer{URLs: []string{s.URLs}, Username: s.Username, Credential: s.Credential})
		}
	}
	if len(servers) != 1 {
		t.Fatalf("no TCP TURN URL among the ICE servers")
	}
	viewer, err := webrtc.NewPeerConnection(webrtc.Configuration{ICEServers: servers, ICETransportPolicy: webrtc.ICETransportPolicyRelay})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = viewer.Close() })
	watchWHEP(t, base, viewer)

	pair, err := viewer.GetReceivers()[0].Transport().ICETransport().GetSelectedCandidatePair()
	if err != nil || pair == nil || pair.Local.Typ != webrtc.ICECandidateTypeRelay {
		t.Fatalf("selected pair %v %v, want a relayed local candidate", pair, err)
	}
	var relayed []string
	for _, s := range viewer.GetStats() {
		if c, ok := s.(webrtc.ICECandidateStats); ok && c.Type == webrtc.StatsTypeLocalCandidate && c.CandidateType == webrtc.ICECandidateTypeRelay {
			relayed = append(relayed, c.RelayProtocol)
		}
	}
	if len(relayed) == 0 || slices.ContainsFunc(relayed, func(p string) bool { return p != "tcp" }) {
		t.Fatalf("relayed candidates reach TURN over %v, want tcp only", relayed)
	}
}

// liveNode starts a node with the WebRTC media plane on loopback, ffmpeg,
// RTMP ingest and "live-key" as the default stage's stream key; the stage
// passes video and audio through to HLS. mod adjusts the config first.
func liveNode(t *testing.T, mod func(*config.Config)) (*app.App, string) {
	t.Helper()
	for _, b := range []string{"ffmpeg", "ffprobe"} {
		if _, err := exec.LookPath(b); err != nil {
			t.Skip(b + " not installed (.ci/run installs it)")
		}
	}
	cfg := testConfig(t)
	cfg.FFmpegPath = "ffmpeg"
	cfg.RTCUDPAddr = "127.0.0.1:0"
	cfg.RTMPAddr = "127.0.0.1:0"
	cfg.DefaultStreamKey = "live-key"
	if mod != nil {
		mod(&cfg)
	}
	a, _ := start(t, cfg, nil)
	if err := a.Live.SetVariants(context.Background(), a.Live.DefaultStageID(), []live.Variant{{VideoPassthrough: true, AudioPassthrough: true}}); err != nil {
		t.Fatal(err)
	}
	return a, a.HTTP.URL()
}

// publishRTMP publishes 60 s of ffmpeg's test pattern and a tone (H.264,
// AAC) to the default stage of a liveNode over RTMP, and waits until the
// stage is online.
func publishRTMP(t *testing.T, a *app.App) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	pub := exec.CommandContext(ctx, "ffmpeg", "-hide_banner", "-loglevel", "error", "-re",
		"-f", "lavfi", "-i", "testsrc=size=160x90:rate=25", "-f", "lavfi", "-i", "sine=frequency=400:sample_rate=44100",
		"-t", "60", "-c:v", "libx264", "-preset", "ultrafast", "-g", "25", "-pix_fmt", "yuv420p",
		"-c:a", "aac", "-b:a", "32k", "-f", "flv", "rtmp://127.0.0.1:"+strconv.Itoa(a.Live.IngestPort())+"/live/live-key")
	if err := pub.Start(); err != nil {
		cancel()
		t.Fatal(err)
	}
	t.Cleanup(func() { cancel(); _ = pub.Wait() })
	var st liveStatus
	poll(t, "the stage online", 30*time.Second, func() bool {
		return call(t, "GET", a.HTTP.URL()+"/api/status", "", nil, &st) == 200 && st.Online
	})
}

// watchWHEP plays the default stage over WHEP with viewer (a pion peer
// that receives video and audio) and waits for RTP on both tracks, H.264
// and Opus. It returns the session's resource path.
func watchWHEP(t *testing.T, base string, viewer *webrtc.PeerConnection) string {
	t.Helper()
	return watchWHEPAt(t, base, "default", "", viewer)
}

// watchWHEPAt is watchWHEP of /api/whep/{stage}, with an access token
// (token "": none).
func watchWHEPAt(t *testing.T, base, stage, token string, viewer *webrtc.PeerConnection) string {
	t.Helper()
	for _, k := range []webrtc.RTPCodecType{webrtc.RTPCodecTypeVideo, webrtc.RTPCodecTypeAudio} {
		if _, err := viewer.AddTransceiverFromKind(k, webrtc.RTPTransceiverInit{Direction: webrtc.RTPTransceiverDirectionRecvonly}); err != nil {
			t.Fatal(err)
		}
	}
	got := make(chan string, 2)
	viewer.OnTrack(func(tr *webrtc.TrackRemote, _ *webrtc.RTPReceiver) {
		if _, _, err := tr.ReadRTP(); err == nil {
			got <- tr.Codec().MimeType
		}
		for {
			if _, _, err := tr.ReadRTP(); err != nil {
				return
			}
		}
	})
	code, hdr, ans := postSDP(t, "POST", base+"/api/whep/"+stage, token, "application/sdp", offerSDP(t, viewer))
	if code != 201 || !strings.HasPrefix(hdr.Get("Location"), "/api/whep/"+stage+"/") {
		t.Fatalf("WHEP: %d %v %s", code, hdr, ans)
	}
	if err := viewer.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeAnswer, SDP: ans}); err != nil {
		t.Fatal(err)
	}
	var mimes []string
	for len(mimes) < 2 {
		select {
		case m := <-got:
			mimes = append(mimes, m)
		case <-time.After(hangGuard):
			t.Fatalf("the WHEP viewer got RTP on %v only (ICE %s)", mimes, viewer.ICEConnectionState())
		}
	}
	slices.Sort(mimes)
	if mimes[0] != webrtc.MimeTypeOpus || mimes[1] != webrtc.MimeTypeH264 {
		t.Fatalf("WHEP tracks: %v", mimes)
	}
	return hdr.Get("Location")
}
