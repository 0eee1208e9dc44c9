package web_test

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
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/pion/ice/v4"
	"github.com/pion/rtp"
	"github.com/pion/rtp/codecs"
	"github.com/pion/webrtc/v4"
	"github.com/pion/webrtc/v4/pkg/media"
	"github.com/pion/webrtc/v4/pkg/media/h264reader"
	"github.com/pion/webrtc/v4/pkg/media/oggreader"

	"github.com/hearth-community/hearth/internal/config"
)

// TestMeasureWHIPLatency is a measurement, not a check (it asserts
// nothing about time): HEARTH_MEASURE_WEBRTC=1 go test -run
// TestMeasureWHIPLatency -v ./internal/surface/web/. Measured as the HLS
// figures are, the age of the frame on screen counted from when it reached
// Hearth: a pion publisher in this process sends 320x240@25 H.264 (x264
// ultrafast zerolatency, 1 s keyframes) and Opus over WHIP, stamping each
// frame's RTP timestamp with the wall clock at the moment it sends it
// (loopback: that is when it reaches Hearth, to well under a millisecond).
// Hearth forwards RTP with its timestamps, so headless Chromium playing
// /live over WHEP reads the send time back from requestVideoFrameCallback's
// rtpTimestamp and subtracts it from when the frame is shown
// (performance.timeOrigin + expectedDisplayTime, the same machine's clock).
// It also logs the browser's own share, receiveTime → expectedDisplayTime.
func TestMeasureWHIPLatency(t *testing.T) {
	if os.Getenv("HEARTH_MEASURE_WEBRTC") == "" {
		t.Skip("a measurement: set HEARTH_MEASURE_WEBRTC=1")
	}
	needBrowser(t)
	if _, err := exec.LookPath("ffmpeg"); err != nil {
		t.Skip("no ffmpeg")
	}
	_, base := startApp(t, func(c *config.Config) { c.DefaultStreamKey = "whip-measure-key" })
	h264, opus := whipMedia(t)

	var se webrtc.SettingEngine
	se.SetIncludeLoopbackCandidate(true)
	se.SetICEMulticastDNSMode(ice.MulticastDNSModeDisabled)
	se.SetNetworkTypes([]webrtc.NetworkType{webrtc.NetworkTypeUDP4})
	pc, err := webrtc.NewAPI(webrtc.WithSettingEngine(se)).NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = pc.Close() })
	vt, err := webrtc.NewTrackLocalStaticRTP(webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeH264, ClockRate: 90000,
		SDPFmtpLine: "level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f"}, "video", "measure")
	if err != nil {
		t.Fatal(err)
	}
	at, err := webrtc.NewTrackLocalStaticSample(webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeOpus}, "audio", "measure")
	if err != nil {
		t.Fatal(err)
	}
	for _, tr := range []webrtc.TrackLocal{vt, at} {
		if _, err := pc.AddTransceiverFromTrack(tr, webrtc.RTPTransceiverInit{Direction: webrtc.RTPTransceiverDirectionSendonly}); err != nil {
			t.Fatal(err)
		}
	}
	offer, err := pc.CreateOffer(nil)
	if err != nil {
		t.Fatal(err)
	}
	gathered := webrtc.GatheringCompletePromise(pc)
	if err := pc.SetLocalDescription(offer); err != nil {
		t.Fatal(err)
	}
	<-gathered
	req, _ := http.NewRequest("POST", base+"/api/whip/default", strings.NewReader(pc.LocalDescription().SDP))
	req.Header.Set("Content-Type", "application/sdp")
	req.Header.Set("Authorization", "Bearer whip-measure-key")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	ans, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != 201 {
		t.Fatalf("WHIP: %d %s", res.StatusCode, ans)
	}
	if err := pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeAnswer, SDP: string(ans)}); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	var seq uint16
	go loopMedia(ctx, func(ctx context.Context) error { return sendStampedH264(ctx, h264, vt, &seq) })
	go loopMedia(ctx, func(ctx context.Context) error { return sendOggOpus(ctx, opus, at) })
	waitOnline(t, base)

	viewer := newTab(t, newBrowser(t), "whip-latency")
	viewer.do("open the stage", chromedp.Navigate(base+"/live"))
	viewer.waitFor("video playing over WebRTC", `(() => { const v = document.querySelector('[data-testid="stage-video"]'); return v && v.srcObject instanceof MediaStream && v.currentTime > 3; })()`, 90*time.Second)
	// The publisher's stamp is wall-clock ms × 90 modulo 2^32; the age is
	// the display time's stamp minus the frame's, modulo 2^32, in ms.
	js := `new Promise(res => {
		const v = document.querySelector('[data-testid="stage-video"]'); const age = [], browser = []; let n = 0;
		const f = (now, m) => {
			n++;
			if (m.rtpTimestamp !== undefined) {
				const shown = Math.round((performance.timeOrigin + m.expectedDisplayTime) * 90) % 4294967296;
				age.push(((shown - m.rtpTimestamp + 4294967296) % 4294967296) / 90);
			}
			if (m.receiveTime) browser.push(m.expectedDisplayTime - m.receiveTime);
			if (n < 150) v.requestVideoFrameCallback(f); else res({age, browser}); };
		v.requestVideoFrameCallback(f); })`
	out := evalWithin[map[string][]float64](viewer, "sample frames", js, 90*time.Second)
	for _, k := range []string{"age", "browser"} {
		ms := out[k]
		if len(ms) == 0 {
			t.Logf("%s: no samples", k)
			continue
		}
		slices.Sort(ms)
		t.Logf("%s over %d frames: min %.1f ms, median %.1f ms, p90 %.1f ms, max %.1f ms",
			map[string]string{"age": "reached Hearth → shown", "browser": "received by Chromium → shown"}[k],
			len(ms), ms[0], ms[len(ms)/2], ms[len(ms)*9/10], ms[len(ms)-1])
	}
	stats := evalWithin[map[string]float64](viewer, "read the playback quality", `(() => {
		const q = document.querySelector('[data-testid="stage-video"]').getVideoPlaybackQuality(); return {frames: q.totalVideoFrames, dropped: q.droppedVideoFrames}; })()`, 30*time.Second)
	t.Logf("frames %v, dropped %v", stats["frames"], stats["dropped"])
}

// whipMedia makes 20 s of H.264 (Annex B, baseline, no B-frames, a
// keyframe a second, x264 zerolatency on one thread: one slice a frame,
// which sendStampedH264 expects) and Opus (Ogg, 20 ms pages).
func whipMedia(t *testing.T) (h264, opus string) {
	t.Helper()
	dir := t.TempDir()
	h264, opus = filepath.Join(dir, "v.h264"), filepath.Join(dir, "a.ogg")
	for _, args := range [][]string{
		{"-f", "lavfi", "-i", "testsrc=size=320x240:rate=25", "-t", "20", "-c:v", "libx264", "-preset", "ultrafast", "-tune", "zerolatency",
			"-threads", "1", "-profile:v", "baseline", "-g", "25", "-bf", "0", "-pix_fmt", "yuv420p", "-bsf:v", "h264_mp4toannexb", "-f", "h264", h264},
		{"-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000", "-t", "20", "-c:a", "libopus", "-b:a", "48k",
			"-frame_duration", "20", "-page_duration", "20000", "-f", "ogg", opus},
	} {
		if out, err := exec.Command("ffmpeg", append([]string{"-hide_banner", "-loglevel", "error", "-y"}, args...)...).CombinedOutput(); err != nil {
			t.Fatalf("ffmpeg: %v %s", err, out)
		}
	}
	return h264, opus
}

// loopMedia runs send over and over until ctx ends or it fails.
func loopMedia(ctx context.Context, send func(context.Context) error) {
	for ctx.Err() == nil {
		if send(ctx) != nil {
			return
		}
	}
}

// sendStampedH264 paces an Annex B file's access units at 25 fps into an
// RTP track, each frame's timestamp the wall clock when it is sent
// (milliseconds × 90, modulo 2^32).
// seq carries the sequence numbers on from one call to the next.
func sendStampedH264(ctx context.Context, path string, tr *webrtc.TrackLocalStaticRTP, seq *uint16) error {
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
	var pay codecs.H264Payloader
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
			return ctx.Err()
		case <-tick.C:
		}
		ts := uint32(time.Now().UnixMilli() * 90) //nolint:gosec // wraps on purpose, as RTP timestamps do
		payloads := pay.Payload(1200, au)
		for i, p := range payloads {
			*seq++
			pkt := &rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: 102, SequenceNumber: *seq, Timestamp: ts, Marker: i == len(payloads)-1}, Payload: p}
			if err := tr.WriteRTP(pkt); err != nil {
				return err
			}
		}
		au = nil
	}
}

// sendOggOpus paces an Ogg Opus file's 20 ms packets into a track.
func sendOggOpus(ctx context.Context, path string, tr *webrtc.TrackLocalStaticSample) error {
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
		if bytes.HasPrefix(page, []byte("OpusHead")) || bytes.HasPrefix(page, []byte("OpusTags")) {
			continue
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-tick.C:
		}
		if err := tr.WriteSample(media.Sample{Data: page, Duration: 20 * time.Millisecond}); err != nil {
			return err
		}
	}
}
