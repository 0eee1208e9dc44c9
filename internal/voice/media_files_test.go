package voice_test

import (
	"bytes"
	"errors"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/hearth-community/hearth/internal/rtc"
	"github.com/pion/interceptor"
	"github.com/pion/rtp"
	"github.com/pion/rtp/codecs"
	"github.com/pion/sdp/v3"
	"github.com/pion/webrtc/v4"
	"github.com/pion/webrtc/v4/pkg/media/ivfreader"
	"github.com/pion/webrtc/v4/pkg/media/oggreader"
)

// mediaFiles is real encoded media for the pion clients, made by ffmpeg at
// test time and read back from its files: one second of Opus (20 ms
// packets, from an Ogg file) and one second of a test pattern in VP8 at
// three sizes (IVF files, a keyframe every five frames), the three
// layers of a simulcast camera.
type mediaFiles struct {
	opus [][]byte
	vp8  [3][][]byte // by layer, low first; frame 0 of each is a keyframe
}

// makeMediaFiles encodes the files in a temporary directory (skipping the
// test without ffmpeg, as the other media tests do) and reads them.
func makeMediaFiles(t testing.TB) *mediaFiles {
	t.Helper()
	ff, err := exec.LookPath("ffmpeg")
	if err != nil {
		t.Skip("ffmpeg not installed (.ci/run installs it)")
	}
	dir := t.TempDir()
	run := func(args ...string) {
		t.Helper()
		cmd := exec.Command(ff, append([]string{"-hide_banner", "-loglevel", "error", "-y"}, args...)...)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("ffmpeg %v: %v\n%s", args, err, out)
		}
	}
	ogg := filepath.Join(dir, "mic.ogg")
	run("-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000:duration=1", "-c:a", "libopus", "-b:a", "16k",
		"-frame_duration", "20", "-page_duration", "20000", "-f", "ogg", ogg)
	m := &mediaFiles{}
	m.opus = readOpus(t, ogg)
	for i, size := range []string{"96x72", "192x144", "384x288"} {
		ivf := filepath.Join(dir, "cam"+size+".ivf")
		run("-f", "lavfi", "-i", "testsrc=size="+size+":rate=10:duration=1", "-c:v", "libvpx", "-deadline", "realtime",
			"-g", "5", "-keyint_min", "5", "-b:v", "100k", "-auto-alt-ref", "0", "-f", "ivf", ivf)
		m.vp8[i] = readIVF(t, ivf)
		if len(m.vp8[i]) == 0 || !vp8Keyframe(m.vp8[i][0]) {
			t.Fatalf("%s: %d frames, the first not a keyframe", ivf, len(m.vp8[i]))
		}
	}
	if len(m.opus) == 0 {
		t.Fatalf("%s: no Opus packets", ogg)
	}
	return m
}

func readOpus(t testing.TB, path string) [][]byte {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r, _, err := oggreader.NewWith(f)
	if err != nil {
		t.Fatal(err)
	}
	var out [][]byte
	for {
		page, _, err := r.ParseNextPage()
		if errors.Is(err, io.EOF) {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.HasPrefix(page, []byte("OpusTags")) {
			out = append(out, page)
		}
	}
}

func readIVF(t testing.TB, path string) [][]byte {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r, _, err := ivfreader.NewWith(f)
	if err != nil {
		t.Fatal(err)
	}
	var out [][]byte
	for {
		frame, _, err := r.ParseNextFrame()
		if errors.Is(err, io.EOF) {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, frame)
	}
}

// vp8Keyframe: the P bit of a VP8 frame's first byte is 0 on keyframes.
func vp8Keyframe(frame []byte) bool { return len(frame) > 0 && frame[0]&1 == 0 }

// sendFiles sends the peer's media files, one Opus packet per p.pace and
// one frame of every simulcast layer per two, looping, until the peer
// closes. The pace is slower than real time on purpose: the verdicts need
// packets, not a real-time rate, and a room of 25 on a loaded 2-core
// machine under -race should not spend it on volume. A keyframe request
// (PLI) on a layer restarts that layer's file at its first frame, a
// keyframe, as an encoder would answer with one.
func (p *peer) sendFiles(mic *webrtc.TrackLocalStaticRTP, cams [3]*webrtc.TrackLocalStaticRTP, vidTr *webrtc.RTPTransceiver, levelID, midID, ridID uint8) {
	m := p.media
	tick := time.NewTicker(p.pace)
	defer tick.Stop()
	level, _ := rtp.AudioLevelExtension{Level: 10, Voice: true}.Marshal()
	var aseq uint16
	var vseq [3]uint16
	var next [3]int
	vp8 := &codecs.VP8Payloader{}
	for n := uint32(0); ; n++ {
		select {
		case <-p.stop:
			return
		case <-tick.C:
		}
		if mic != nil {
			aseq++
			pkt := &rtp.Packet{Header: rtp.Header{Version: 2, SequenceNumber: aseq, Timestamp: n * 960, PayloadType: 111},
				Payload: m.opus[int(n)%len(m.opus)]}
			if levelID != 0 {
				_ = pkt.SetExtension(levelID, level)
			}
			_ = mic.WriteRTP(pkt)
		}
		if cams[0] == nil || n%2 != 0 {
			continue
		}
		mid := vidTr.Mid()
		for i, c := range cams {
			if p.keyNeeded[i].Swap(false) {
				next[i] = 0
			}
			frame := m.vp8[i][next[i]%len(m.vp8[i])]
			next[i]++
			payloads := vp8.Payload(1200, frame)
			for j, pl := range payloads {
				vseq[i]++
				pkt := &rtp.Packet{Header: rtp.Header{Version: 2, SequenceNumber: vseq[i], Timestamp: n / 2 * 9000, PayloadType: 96,
					Marker: j == len(payloads)-1}, Payload: pl}
				_ = pkt.SetExtension(midID, []byte(mid))
				_ = pkt.SetExtension(ridID, []byte(c.RID()))
				_ = c.WriteRTP(pkt)
			}
		}
	}
}

// leanClientAPI is the pion API of the crowd test's clients: Opus and VP8
// with the audio-level, mid and rid extensions, and no interceptors (no
// NACK, TWCC, RTCP reports or statistics). A room of 25 on a
// loaded 2-core machine under -race drops packets on loopback when the
// machine falls behind; with NACKs every loss came back as a resend from
// a goroutine of its own, which loaded the machine further (hundreds of
// resend goroutines queued on one socket were seen) until the room
// stalled. Reports (one per stream per second) go too: a room still
// waiting for its last members pays for them all the while. What the
// crowd test checks, that every stream reaches every
// subscriber, needs none of them; loss repair and bandwidth estimation
// have tests of their own with the full set (clientAPI).
func leanClientAPI(t testing.TB) *webrtc.API {
	t.Helper()
	me := &webrtc.MediaEngine{}
	for _, c := range []struct {
		p    webrtc.RTPCodecParameters
		kind webrtc.RTPCodecType
	}{
		{webrtc.RTPCodecParameters{RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeOpus, ClockRate: 48000, Channels: 2,
			SDPFmtpLine: "minptime=10;useinbandfec=1"}, PayloadType: 111}, webrtc.RTPCodecTypeAudio},
		{webrtc.RTPCodecParameters{RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeVP8, ClockRate: 90000,
			RTCPFeedback: []webrtc.RTCPFeedback{{Type: "nack", Parameter: "pli"}}}, PayloadType: 96}, webrtc.RTPCodecTypeVideo},
	} {
		if err := me.RegisterCodec(c.p, c.kind); err != nil {
			t.Fatal(err)
		}
	}
	if err := me.RegisterHeaderExtension(webrtc.RTPHeaderExtensionCapability{URI: sdp.AudioLevelURI}, webrtc.RTPCodecTypeAudio); err != nil {
		t.Fatal(err)
	}
	if err := webrtc.ConfigureSimulcastExtensionHeaders(me); err != nil {
		t.Fatal(err)
	}
	ir := &interceptor.Registry{}
	var se webrtc.SettingEngine
	se.SetIncludeLoopbackCandidate(true)
	se.SetNetworkTypes([]webrtc.NetworkType{webrtc.NetworkTypeUDP4})
	se.SetInterfaceFilter(func(string) bool { return true })
	se.SetIPFilter(func(ip net.IP) bool { return ip.IsLoopback() })
	// pion gives up on a candidate pair after 7 unanswered checks (about
	// 1.4 s), calls a connection disconnected after 5 s without traffic
	// and failed after 25 s, and a DTLS handshake after 30 s: clocks a
	// starved process under -race overruns. These clients wait for as long
	// as the test may run instead; the server keeps its own settings.
	rtc.Patient(&se, time.Hour)
	return webrtc.NewAPI(webrtc.WithMediaEngine(me), webrtc.WithInterceptorRegistry(ir), webrtc.WithSettingEngine(se))
}
