package live

import (
	"context"
	"fmt"
	"runtime"
	"syscall"
	"testing"
	"time"

	"github.com/pion/ice/v4"
	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"

	"github.com/hearth-community/hearth/internal/rtc"
)

// rusageThread is Linux's RUSAGE_THREAD: the calling thread's CPU.
const rusageThread = 1

func cpuTime(who int) time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(who, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkWHEPFanout measures the CPU a stage's fan-out costs per WebRTC
// viewer: V pion viewers (each on its own sockets, in this process) are
// bound to one relay on a real media plane, and b.N video packets of
// 1,200 bytes (a 2.5 Mbit/s stream is ~260 a second) are forwarded through
// it, each packet's sends batched (sendmmsg) as the relay does, or one
// sendto per viewer as before batching. Two CPU figures: cpu-ns is the
// whole process's (getrusage): the server's SRTP and UDP sends and also
// the viewers' receiving and decrypting; server-ns is the forwarding
// thread's alone (RUSAGE_THREAD, the loop locked to its thread): the
// relay, interceptors, SRTP and the system calls, including the kernel's
// loopback delivery to the viewers' sockets, but not the server's
// background RTCP work.
func BenchmarkWHEPFanout(b *testing.B) {
	for _, viewers := range []int{10, 50, 200} {
		for _, batch := range []bool{false, true} {
			b.Run(fmt.Sprintf("viewers=%d/batch=%t", viewers, batch), func(b *testing.B) { benchFanout(b, viewers, batch) })
		}
	}
}

func benchFanout(b *testing.B, viewers int, batch bool) {
	plane, err := rtc.New(rtc.Config{UDPAddr: "127.0.0.1:0"}, nil)
	if err != nil {
		b.Fatal(err)
	}
	defer plane.Close()
	rl := newRelay(&stage{id: "bench"}, webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeH264, ClockRate: 90000,
		SDPFmtpLine: "level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f"}, webrtc.RTPCodecCapability{}, nil)
	if batch {
		rl.sends = plane
	}
	var se webrtc.SettingEngine
	se.SetIncludeLoopbackCandidate(true)
	se.SetICEMulticastDNSMode(ice.MulticastDNSModeDisabled)
	se.SetNetworkTypes([]webrtc.NetworkType{webrtc.NetworkTypeUDP4})
	api := webrtc.NewAPI(webrtc.WithSettingEngine(se))
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	for range viewers {
		c, err := api.NewPeerConnection(webrtc.Configuration{})
		if err != nil {
			b.Fatal(err)
		}
		defer c.Close()
		if _, err := c.AddTransceiverFromKind(webrtc.RTPCodecTypeVideo, webrtc.RTPTransceiverInit{Direction: webrtc.RTPTransceiverDirectionRecvonly}); err != nil {
			b.Fatal(err)
		}
		got := make(chan struct{})
		c.OnTrack(func(t *webrtc.TrackRemote, _ *webrtc.RTPReceiver) {
			close(got)
			buf := make([]byte, 1500)
			for {
				if _, _, err := t.Read(buf); err != nil {
					return
				}
			}
		})
		s, err := plane.NewPeerConnection()
		if err != nil {
			b.Fatal(err)
		}
		defer s.Close()
		o, _ := c.CreateOffer(nil)
		g := webrtc.GatheringCompletePromise(c)
		_ = c.SetLocalDescription(o)
		<-g
		if _, err := answer(ctx, s, c.LocalDescription().SDP, func() error { _, err := s.AddTrack(rl.video); return err }); err != nil {
			b.Fatal(err)
		}
		if err := c.SetRemoteDescription(*s.LocalDescription()); err != nil {
			b.Fatal(err)
		}
		// Packets flow until the viewer's track opens (its first packet).
		for open := false; !open; {
			rl.forwardVideo(&rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: 102, Timestamp: 1}, Payload: make([]byte, 1200)})
			select {
			case <-got:
				open = true
			case <-ctx.Done():
				b.Fatal("a viewer never received media")
			case <-time.After(10 * time.Millisecond):
			}
		}
	}
	pkt := &rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: 102}, Payload: make([]byte, 1200)}
	b.SetBytes(int64(len(pkt.Payload) * viewers))
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	c0, t0 := cpuTime(syscall.RUSAGE_SELF), cpuTime(rusageThread)
	b.ResetTimer()
	for i := range b.N {
		pkt.SequenceNumber = uint16(i)
		pkt.Timestamp = uint32(i / 8 * 3600)
		pkt.Marker = i%8 == 7
		rl.forwardVideo(pkt)
	}
	b.StopTimer()
	per := func(d time.Duration) float64 { return float64(d.Nanoseconds()) / float64(b.N) / float64(viewers) }
	all, server := per(cpuTime(syscall.RUSAGE_SELF)-c0), per(cpuTime(rusageThread)-t0)
	b.ReportMetric(all, "cpu-ns/pkt/viewer")
	b.ReportMetric(server, "server-ns/pkt/viewer")
	// A 2.5 Mbit/s stream in 1,200-byte packets is 260 packets a second.
	b.ReportMetric(1e9/(server*260), "viewers/core@2.5Mbit/s")
}
