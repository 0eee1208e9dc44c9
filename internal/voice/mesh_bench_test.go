package voice_test

import (
	"context"
	"encoding/json"
	"maps"
	"runtime"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/hearth-community/hearth/internal/voice"
	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"
)

// meshPeer is a Together mesh client driven through SFU.MeshSignal: one
// connection per peer, the same microphone on each, trickled candidates,
// answers applied (the shape of Together's useWebRTC, in pion).
type meshPeer struct {
	w    *world
	via  *voice.SFU // the SFU its signals go through; nil: the world's
	acct string
	mic  *webrtc.TrackLocalStaticRTP
	stop chan struct{}

	mu      sync.Mutex
	pcs     map[string]*webrtc.PeerConnection
	got     map[string]int // audio packets received, by peer
	changed chan struct{}
}

// enableMesh routes the SFU's mesh signals to the world's mesh peers.
func (w *world) enableMesh(peers func() []*meshPeer) {
	w.sfu.EnableMesh(meshConfig(peers))
}

// meshConfig routes an SFU's mesh signals to the given mesh peers.
func meshConfig(peers func() []*meshPeer) voice.MeshConfig {
	return voice.MeshConfig{
		Peers: func(context.Context, string) ([]string, error) {
			var ids []string
			for _, m := range peers() {
				ids = append(ids, m.acct)
			}
			return ids, nil
		},
		Send: func(_ context.Context, to, from string, sig voice.MeshSignal) {
			for _, m := range peers() {
				if m.acct == to {
					go m.onSignal(from, sig)
				}
			}
		},
	}
}

func (w *world) newMeshPeer(acct string) *meshPeer {
	m := &meshPeer{w: w, acct: acct, stop: make(chan struct{}), pcs: map[string]*webrtc.PeerConnection{},
		got: map[string]int{}, changed: make(chan struct{}, 1)}
	var err error
	m.mic, err = webrtc.NewTrackLocalStaticRTP(webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeOpus, ClockRate: 48000, Channels: 2}, "mic", acct)
	if err != nil {
		w.t.Fatal(err)
	}
	w.t.Cleanup(func() {
		close(m.stop)
		m.mu.Lock()
		defer m.mu.Unlock()
		for _, pc := range m.pcs {
			_ = pc.Close()
		}
	})
	go func() {
		tick := time.NewTicker(20 * time.Millisecond)
		defer tick.Stop()
		for seq := uint16(0); ; seq++ {
			select {
			case <-m.stop:
				return
			case <-tick.C:
			}
			_ = m.mic.WriteRTP(&rtp.Packet{Header: rtp.Header{Version: 2, SequenceNumber: seq, Timestamp: uint32(seq) * 960, PayloadType: 111},
				Payload: make([]byte, 60)})
		}
	}()
	return m
}

func (m *meshPeer) signal(to string, sig voice.MeshSignal) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	via := m.via
	if via == nil {
		via = m.w.sfu
	}
	if _, err := via.MeshSignal(ctx, m.acct, m.w.voice, to, sig); err != nil {
		select {
		case <-m.stop:
			// The test is over: a late ICE candidate's signal meets the
			// bus or node already closed by the cleanups.
		default:
			m.w.t.Errorf("mesh signal %s: %v", sig.Type, err)
		}
	}
}

func (m *meshPeer) pc(id string) *webrtc.PeerConnection {
	m.mu.Lock()
	defer m.mu.Unlock()
	if pc := m.pcs[id]; pc != nil {
		return pc
	}
	pc, err := m.w.client.NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		m.w.t.Error(err)
		return nil
	}
	m.pcs[id] = pc
	_, _ = pc.AddTrack(m.mic)
	pc.OnICECandidate(func(c *webrtc.ICECandidate) {
		if c != nil {
			raw, _ := json.Marshal(c.ToJSON())
			m.signal(id, voice.MeshSignal{Type: "candidate", Candidate: string(raw)})
		}
	})
	pc.OnTrack(func(tr *webrtc.TrackRemote, _ *webrtc.RTPReceiver) {
		buf := make([]byte, 1500)
		for {
			if _, _, err := tr.Read(buf); err != nil {
				return
			}
			m.mu.Lock()
			m.got[id]++
			m.mu.Unlock()
			select {
			case m.changed <- struct{}{}:
			default:
			}
		}
	})
	return pc
}

// offer is the newcomer's offer to an SFU participant.
func (m *meshPeer) offer(to string) {
	m.signal(to, voice.MeshSignal{Type: "offer", SDP: m.localOffer(to)})
}

// localOffer makes the offer of the connection to account to and returns
// its SDP, not yet sent.
func (m *meshPeer) localOffer(to string) string {
	pc := m.pc(to)
	o, err := pc.CreateOffer(nil)
	if err != nil {
		m.w.t.Fatal(err)
	}
	if err := pc.SetLocalDescription(o); err != nil {
		m.w.t.Fatal(err)
	}
	return o.SDP
}

func (m *meshPeer) onSignal(from string, sig voice.MeshSignal) {
	pc := m.pc(from)
	switch sig.Type {
	case "offer":
		if pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeOffer, SDP: sig.SDP}) != nil {
			return
		}
		a, err := pc.CreateAnswer(nil)
		if err != nil || pc.SetLocalDescription(a) != nil {
			return
		}
		m.signal(from, voice.MeshSignal{Type: "answer", SDP: a.SDP})
	case "answer":
		_ = pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeAnswer, SDP: sig.SDP})
	}
}

func (m *meshPeer) until(ctx context.Context, what string, cond func() bool) {
	m.w.t.Helper()
	for {
		m.mu.Lock()
		ok := cond()
		m.mu.Unlock()
		if ok {
			return
		}
		select {
		case <-m.changed:
		case <-ctx.Done():
			m.mu.Lock()
			got := maps.Clone(m.got)
			m.mu.Unlock()
			m.w.t.Fatalf("%s never happened (audio packets received, by peer: %v)", what, got)
		}
	}
}

// BenchmarkSFUMeshBridge: a room of k web-app (SFU) participants, all
// talking, and one more talker that is either a Together mesh client
// bridged by the server ("mesh": k bridge connections, k copies of its
// audio in, one forwarded) or another web app ("sfu"). Every talker hears
// every other: (k+1)×k streams. Like BenchmarkSFURoom it takes the whole
// process's CPU over five seconds per packet delivered, and the heap in
// use; the difference between the two variants is the bridge's cost.
// Run with -benchtime 1x.
func BenchmarkSFUMeshBridge(b *testing.B) {
	for _, k := range []int{5, 10} {
		for _, kind := range []string{"sfu", "mesh"} {
			b.Run("k="+strconv.Itoa(k)+"/extra="+kind, func(b *testing.B) {
				w := newWorld(b)
				var mu sync.Mutex
				var meshes []*meshPeer
				w.enableMesh(func() []*meshPeer { mu.Lock(); defer mu.Unlock(); return meshes })
				ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
				defer cancel()
				peers := w.joinN(ctx, k)
				for _, p := range peers {
					if err := p.publish(ctx, true, false); err != nil {
						b.Fatal(err)
					}
				}
				extra := w.member("extra")
				var mp *meshPeer
				if kind == "mesh" {
					mp = w.newMeshPeer(extra)
					mu.Lock()
					meshes = []*meshPeer{mp}
					mu.Unlock()
					for _, p := range peers {
						mp.offer(p.acct)
					}
					mp.until(ctx, "the mesh client hears every talker", func() bool {
						for _, p := range peers {
							if mp.got[p.acct] < 5 {
								return false
							}
						}
						return true
					})
				} else {
					p := w.join(ctx, extra)
					if err := p.publish(ctx, true, false); err != nil {
						b.Fatal(err)
					}
					peers = append(peers, p)
				}
				talkers := append([]string{extra}, func() (ids []string) {
					for _, p := range peers {
						ids = append(ids, p.acct)
					}
					return ids
				}()...)
				for _, p := range peers {
					for _, t := range talkers {
						if t != p.acct {
							p.until(ctx, "every talker heard", func() bool { return p.count(t, "mic") >= 5 })
						}
					}
				}
				received := func() (n int) {
					for _, p := range peers {
						p.mu.Lock()
						for _, t := range talkers {
							if t != p.acct {
								n += p.count(t, "mic")
							}
						}
						p.mu.Unlock()
					}
					if mp != nil {
						mp.mu.Lock()
						for _, c := range mp.got {
							n += c
						}
						mp.mu.Unlock()
					}
					return n
				}
				runtime.GC()
				var ms runtime.MemStats
				runtime.ReadMemStats(&ms)
				streams := (k + 1) * k
				b.ResetTimer()
				for range b.N {
					cpu0, t0, got0 := cpuTime(), time.Now(), received()
					time.Sleep(5 * time.Second)
					cpu, wall := cpuTime()-cpu0, time.Since(t0)
					got := float64(received() - got0)
					b.ReportMetric(got*100/(wall.Seconds()*50*float64(streams)), "%delivered")
					b.ReportMetric(float64(cpu)/float64(wall)*100, "%core")
					b.ReportMetric(float64(cpu.Microseconds())/got, "cpu-µs/pkt")
				}
				b.StopTimer()
				b.ReportMetric(float64(ms.HeapInuse)/float64(1<<20), "heapMiB")
			})
		}
	}
}
