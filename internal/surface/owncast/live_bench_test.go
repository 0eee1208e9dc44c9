package owncast_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os/exec"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/hearth-community/hearth/internal/bus"
	"github.com/hearth-community/hearth/internal/httpserver"
	"github.com/hearth-community/hearth/internal/identity"
	"github.com/hearth-community/hearth/internal/identity/identitytest"
	"github.com/hearth-community/hearth/internal/live"
	"github.com/hearth-community/hearth/internal/rtmp"
	"github.com/hearth-community/hearth/internal/store/storetest"
	"github.com/hearth-community/hearth/internal/surface/owncast"
)

// arrivals wraps the live service's RTMP handler and records when each
// video message (by RTMP timestamp) entered the server.
type arrivals struct {
	h  rtmp.Handler
	mu sync.Mutex
	at map[uint32]time.Time
	ts []uint32
}

func (a *arrivals) Publish(ctx context.Context, req rtmp.PublishRequest) (rtmp.Stream, error) {
	st, err := a.h.Publish(ctx, req)
	if err != nil {
		return nil, err
	}
	return &arrivalStream{Stream: st, a: a}, nil
}

type arrivalStream struct {
	rtmp.Stream
	a *arrivals
}

func (s *arrivalStream) Video(ts uint32, b []byte) {
	s.a.mu.Lock()
	if _, ok := s.a.at[ts]; !ok {
		s.a.at[ts] = time.Now()
		s.a.ts = append(s.a.ts, ts)
	}
	s.a.mu.Unlock()
	s.Stream.Video(ts, b)
}

// arrival returns when the first video message at or after ms entered.
func (a *arrivals) arrival(ms uint32) (time.Time, bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	i := sort.Search(len(a.ts), func(i int) bool { return a.ts[i] >= ms })
	if i == len(a.ts) {
		return time.Time{}, false
	}
	return a.at[a.ts[i]], true
}

// firstVideoPTS returns the PTS of the first video PES in a TS segment.
func firstVideoPTS(b []byte) (int64, bool) {
	for ; len(b) >= 188; b = b[188:] {
		if b[0] != 0x47 || b[1]&0x40 == 0 {
			continue
		}
		p := 4
		if b[3]&0x20 != 0 {
			p = 5 + int(b[4])
		}
		if p+14 > 188 {
			continue
		}
		pes := b[p:]
		if pes[0] == 0 && pes[1] == 0 && pes[2] == 1 && pes[3] == 0xe0 && pes[7]&0x80 != 0 {
			t := pes[9:]
			return int64(t[0]>>1&7)<<30 | int64(t[1])<<22 | int64(t[2]>>1)<<15 | int64(t[3])<<7 | int64(t[4]>>1), true
		}
	}
	return 0, false
}

func cpuSelf() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func cpuChildren() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_CHILDREN, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

type liveRun struct {
	latencies  []time.Duration // frame entering RTMP → its segment listed
	serverCPU  time.Duration   // Hearth's own CPU (this process)
	ffmpegCPU  time.Duration   // transcoder children
	wall       time.Duration
	segSeconds float64
}

// benchLiveNode runs a node for the live benchmarks until the benchmark
// ends: SQLite, local bus, the live service with the default stage's key
// abc123 and the given variants and latency level, an RTMP server on
// loopback (its handler from handler, or the live service itself) and the
// Owncast routes on loopback HTTP. stop ends the node and waits for it.
func benchLiveNode(b *testing.B, variants []live.Variant, level int, handler func(*live.Service) rtmp.Handler) (svc *live.Service, rs *rtmp.Server, srv *httpserver.Server, stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	db := storetest.OpenSQLite(b)
	bs := bus.NewLocal()
	idn, err := identity.New(ctx, identity.Config{Argon2: identitytest.Argon2}, db.Identity(), bs, nil)
	if err != nil {
		b.Fatal(err)
	}
	svc, err = live.New(ctx, live.Config{DataDir: b.TempDir(), DefaultStreamKey: "abc123", ThumbnailEvery: time.Hour}, db.Live(), bs, discard())
	if err != nil {
		b.Fatal(err)
	}
	_ = svc.SetVariants(ctx, svc.DefaultStageID(), variants)
	_ = svc.SetLatencyLevel(ctx, svc.DefaultStageID(), level)
	var h rtmp.Handler = svc
	if handler != nil {
		h = handler(svc)
	}
	rs, err = rtmp.NewServer(rtmp.Config{Addr: "127.0.0.1:0"}, h, discard())
	if err != nil {
		b.Fatal(err)
	}
	s, _ := owncast.New(owncast.Deps{Identity: idn, Live: svc, Log: discard()})
	srv, _ = httpserver.New(httpserver.Config{Addr: "127.0.0.1:0"}, discard())
	s.Register(srv)
	var wg sync.WaitGroup
	for _, run := range []func(context.Context) error{srv.Run, rs.Run, svc.Run} {
		wg.Add(1)
		go func() { defer wg.Done(); _ = run(ctx) }()
	}
	return svc, rs, srv, func() { cancel(); wg.Wait(); bs.Close() }
}

// runLive publishes secs seconds of the 1280x720@60 test pattern and
// polls the media playlist every 20 ms like an eager player.
func runLive(b *testing.B, variants []live.Variant, level, secs int) liveRun {
	var arr *arrivals
	svc, rs, srv, stop := benchLiveNode(b, variants, level, func(svc *live.Service) rtmp.Handler {
		arr = &arrivals{h: svc, at: map[uint32]time.Time{}}
		return arr
	})
	defer stop()

	cpu0, child0, t0 := cpuSelf(), cpuChildren(), time.Now()
	cmd := exec.Command("ffmpeg", "-hide_banner", "-loglevel", "error", "-re",
		"-f", "lavfi", "-i", "testsrc=size=1280x720:rate=60", "-f", "lavfi", "-i", "sine=frequency=400:sample_rate=44100",
		"-t", strconv.Itoa(secs), "-c:v", "libx264", "-preset", "ultrafast", "-tune", "zerolatency", "-g", "60", "-pix_fmt", "yuv420p",
		"-c:a", "aac", "-f", "flv", "rtmp://"+rs.Addr().String()+"/live/abc123")
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()

	var run liveRun
	seen := map[string]bool{}
	var firstPTS int64 = -1
	var firstMS uint32
	client := &http.Client{Timeout: 5 * time.Second}
	fetch := func(path string) []byte {
		resp, err := client.Get(srv.URL() + path)
		if err != nil {
			return nil
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return body
	}
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
loop:
	for {
		select {
		case <-exited:
			break loop
		case <-tick.C:
		}
		pl := string(fetch("/hls/0/stream.m3u8"))
		listed := time.Now()
		for _, l := range strings.Split(pl, "\n") {
			if !strings.HasSuffix(l, ".ts") || seen[l] || l == "offline.ts" {
				continue
			}
			seen[l] = true
			pts, ok := firstVideoPTS(fetch("/hls/0/" + l))
			if !ok {
				continue
			}
			if firstPTS < 0 {
				arr.mu.Lock()
				if len(arr.ts) > 0 {
					firstMS = arr.ts[0]
				}
				arr.mu.Unlock()
				firstPTS = pts
			}
			ms := firstMS + uint32((pts-firstPTS)/90)
			if at, ok := arr.arrival(ms); ok {
				run.latencies = append(run.latencies, listed.Sub(at))
			}
		}
	}
	pub := cmd.ProcessState.SysUsage().(*syscall.Rusage)
	svc.WaitOffline(svc.DefaultStageID(), 10*time.Second)
	run.wall = time.Since(t0)
	run.serverCPU = cpuSelf() - cpu0
	run.ffmpegCPU = cpuChildren() - child0 - time.Duration(pub.Utime.Nano()+pub.Stime.Nano())
	if lv, ok := live.LatencyLevelFor(level); ok {
		run.segSeconds = float64(lv.SecondsPerSegment)
	}
	return run
}

func median(ds []time.Duration) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := append([]time.Duration(nil), ds...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	return s[len(s)/2]
}

func needBenchFFmpeg(b *testing.B) {
	if _, err := exec.LookPath("ffmpeg"); err != nil {
		b.Skip("ffmpeg not installed")
	}
}

// BenchmarkLiveLatency measures, per latency level and for a passthrough
// and a 720p30 x264 variant, the time from a frame entering RTMP to its
// segment being listed in the playlist, and the CPU used. Run with
// -benchtime=1x; numbers go to docs/performance.md.
func BenchmarkLiveLatency(b *testing.B) {
	needBenchFFmpeg(b)
	pass := []live.Variant{{VideoPassthrough: true, AudioPassthrough: true}}
	x264 := []live.Variant{{VideoBitrate: 2500, ScaledHeight: 720, Framerate: 30, CPUUsageLevel: 2, AudioPassthrough: true}}
	for _, tc := range []struct {
		name     string
		variants []live.Variant
	}{{"passthrough", pass}, {"x264-720p30", x264}} {
		for level := 0; level <= 5; level++ {
			b.Run(fmt.Sprintf("%s/level%d", tc.name, level), func(b *testing.B) {
				secs := 12
				if level >= 3 {
					secs = 20
				}
				for i := 0; i < b.N; i++ {
					r := runLive(b, tc.variants, level, secs)
					if len(r.latencies) == 0 {
						b.Fatal("no segments listed")
					}
					b.Logf("latencies %v", r.latencies)
					b.ReportMetric(median(r.latencies).Seconds(), "s-median-latency")
					b.ReportMetric(float64(r.serverCPU)/float64(r.wall), "hearth-cores")
					b.ReportMetric(float64(r.ffmpegCPU)/float64(r.wall), "ffmpeg-cores")
				}
			})
		}
	}
}
