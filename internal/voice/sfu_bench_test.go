package voice_test

import (
	"runtime"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"
)

// BenchmarkSFUForwardAudio: one publisher's Opus-sized packets forwarded
// to subs subscribers, all pion peers in this process over loopback UDP.
// One op is one packet delivered to one subscriber, so ns/op is the CPU
// time of the whole process (SFU receive, fan-out, SRTP encrypt and send,
// and the subscribers' own receive and decrypt, which a browser would pay
// on its own machine) per forwarded packet: an upper bound on the SFU's
// cost. An audio stream is 50 packets/s.
func BenchmarkSFUForwardAudio(b *testing.B) {
	for _, subs := range []int{1, 10, 25} {
		b.Run("subs="+strconv.Itoa(subs), func(b *testing.B) {
			w := newWorld(b)
			ctx := testCtx(b)
			pub := w.join(ctx, w.owner)
			mic, err := webrtc.NewTrackLocalStaticRTP(webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeOpus, ClockRate: 48000, Channels: 2}, "mic", pub.acct)
			if err != nil {
				b.Fatal(err)
			}
			if _, err := pub.pub.AddTrack(mic); err != nil {
				b.Fatal(err)
			}
			peers := make([]*peer, subs)
			for i := range peers {
				peers[i] = w.join(ctx, w.member("s"+strconv.Itoa(i)))
			}
			offer, _ := pub.pub.CreateOffer(nil)
			done := webrtc.GatheringCompletePromise(pub.pub)
			_ = pub.pub.SetLocalDescription(offer)
			<-done
			answer, err := pub.part.Publish(ctx, pub.pub.LocalDescription().SDP, nil)
			if err != nil {
				b.Fatal(err)
			}
			if err := pub.pub.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeAnswer, SDP: answer}); err != nil {
				b.Fatal(err)
			}
			seq := uint16(0)
			send := func() {
				seq++
				_ = mic.WriteRTP(&rtp.Packet{Header: rtp.Header{Version: 2, SequenceNumber: seq, Timestamp: uint32(seq) * 960}, Payload: make([]byte, 80)})
			}
			received := func() (least int) {
				least = -1
				for _, p := range peers {
					p.mu.Lock()
					n := p.count(pub.acct, "mic")
					p.mu.Unlock()
					if least < 0 || n < least {
						least = n
					}
				}
				return least
			}
			// Warm up: every subscriber connected and receiving.
			for received() < 5 {
				send()
				time.Sleep(5 * time.Millisecond)
			}
			base := received()
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			cpu0 := cpuTime()
			b.ResetTimer()
			packets := max(b.N/subs, 1)
			for i := 0; i < packets; i++ {
				send()
				// Keep the publisher at most 64 packets ahead of the
				// slowest subscriber, so socket buffers do not drop.
				for j := 0; received()-base < i-64; j++ {
					runtime.Gosched()
					if j > 1e6 {
						b.Fatalf("subscribers stalled at %d of %d", received()-base, i)
					}
				}
			}
			deadline := time.Now().Add(10 * time.Second)
			for received()-base < packets*95/100 && time.Now().Before(deadline) {
				time.Sleep(time.Millisecond)
			}
			b.StopTimer()
			cpu := cpuTime() - cpu0
			runtime.ReadMemStats(&after)
			fwd := float64(received() - base)
			b.ReportMetric(float64(cpu.Nanoseconds())/(fwd*float64(subs)), "cpu-ns/pkt")
			// Audio streams one core forwards: 50 packets/s each.
			b.ReportMetric(1e9/(float64(cpu.Nanoseconds())/(fwd*float64(subs)))/50, "streams/core")
			b.ReportMetric(float64(after.HeapInuse)/float64(1<<20), "heapMiB")
			b.ReportMetric(float64(received()-base)/float64(packets)*100, "%delivered")
		})
	}
}

// cpuTime is the process's user+system CPU time.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
