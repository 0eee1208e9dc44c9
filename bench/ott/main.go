// Command ott is a load driver for Hearth's OpenTogetherTube surface: it
// opens many watch rooms with many WebSocket clients each, has one client
// per room issue seeks and chat messages, and reports how long sync deltas
// and chat messages take to reach the other clients (p50/p99), with the
// CPU time and memory used.
//
//	go run ./bench/ott -rooms 200 -clients 10 -duration 30s
//
// By default it starts a Hearth node in process (SQLite, local bus, rate
// limits off); -url points it at a running server instead (start that one
// with --no-ott-rate-limit), and then CPU and memory are the driver's only;
// -pid adds the server's CPU per delivery from /proc/<pid>/stat.
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net/http"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/alecthomas/kong"
	"github.com/coder/websocket"

	"github.com/hearth-community/hearth/bench/internal/procstat"
	"github.com/hearth-community/hearth/internal/app"
	"github.com/hearth-community/hearth/internal/config"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

type sample struct {
	kind string // "sync" or "chat"
	d    time.Duration
}

func run() error {
	rooms := flag.Int("rooms", 200, "rooms")
	clients := flag.Int("clients", 10, "clients per room (one of them drives)")
	duration := flag.Duration("duration", 30*time.Second, "how long to drive load")
	interval := flag.Duration("interval", time.Second, "time between actions of each room's driver (seek and chat alternate)")
	target := flag.String("url", "", "base URL of a running Hearth (empty: start one in process)")
	pid := flag.Int("pid", 0, "with -url: the server's process id on this machine, for its CPU per delivery (/proc/<pid>/stat)")
	idle := flag.Bool("idle", false, "with -url and -pid: join -rooms × -clients sockets (each authenticated and in its room), hold them -settle, and report the server's RSS growth per socket; no load")
	settle := flag.Duration("settle", 10*time.Second, "idle: wait this long after the last join before reading the server's RSS")
	flag.Parse()
	if *idle {
		if *target == "" || *pid <= 0 {
			return errors.New("-idle needs -url and -pid")
		}
		return runIdle(*target, *pid, *rooms, *clients, *settle)
	}

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	base := *target
	if base == "" {
		dir, err := os.MkdirTemp("", "hearth-bench")
		if err != nil {
			return err
		}
		defer func() { _ = os.RemoveAll(dir) }()
		var cli struct {
			config.Config `embed:""`
		}
		p, err := kong.New(&cli)
		if err != nil {
			return err
		}
		if _, err := p.Parse([]string{"--addr=127.0.0.1:0", "--data-dir=" + dir, "--no-ott-rate-limit", "--max-conns-per-ip=0", "--admin-password=benchmark-admin", "--log-level=error", "--rtmp-addr="}); err != nil {
			return err
		}
		a, err := app.New(ctx, cli.Config, slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelError})))
		if err != nil {
			return err
		}
		done := make(chan error, 1)
		go func() { done <- a.Run(ctx) }()
		defer func() { cancel(); _ = <-done; _ = a.Close() }()
		base = a.HTTP.URL()
	}
	hc := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 64}}

	var mu sync.Mutex
	var samples []sample
	sent := sync.Map{} // op id → time sent
	var missed atomic.Int64
	var frames atomic.Int64 // data frames read by every socket while driving

	fmt.Printf("connecting %d rooms × %d clients to %s\n", *rooms, *clients, base)
	startConnect := time.Now()
	type roomConns struct {
		driver *websocket.Conn
		all    []*websocket.Conn
	}
	rs := make([]roomConns, *rooms)
	sem := make(chan struct{}, 32)
	var wg sync.WaitGroup
	var firstErr error
	var errOnce sync.Once
	for i := range *rooms {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			name := fmt.Sprintf("bench-%d-%d", os.Getpid(), i)
			tok, err := grant(ctx, hc, base)
			if err == nil {
				err = post(ctx, hc, base+"/api/room/create", tok, map[string]any{"name": name})
			}
			for c := 0; c < *clients && err == nil; c++ {
				var t string
				if t, err = grant(ctx, hc, base); err != nil {
					break
				}
				var ws *websocket.Conn
				if ws, err = join(ctx, base, name, t); err != nil {
					break
				}
				rs[i].all = append(rs[i].all, ws)
			}
			if err != nil {
				errOnce.Do(func() { firstErr = err })
				return
			}
			rs[i].driver = rs[i].all[0]
		}()
	}
	wg.Wait()
	if firstErr != nil {
		return firstErr
	}
	fmt.Printf("connected %d sockets in %s\n", *rooms**clients, time.Since(startConnect).Round(time.Millisecond))

	// Readers: every socket records the latency of what the drivers sent.
	readCtx, stopRead := context.WithCancel(ctx)
	defer stopRead()
	var readers sync.WaitGroup
	for i := range rs {
		for j, ws := range rs[i].all {
			readers.Add(1)
			go func() {
				defer readers.Done()
				for {
					_, b, err := ws.Read(readCtx)
					if err != nil {
						return
					}
					now := time.Now()
					frames.Add(1)
					if j == 0 {
						continue // the driver's own echo
					}
					var m struct {
						Action   string   `json:"action"`
						Position *float64 `json:"playbackPosition"`
						Text     string   `json:"text"`
					}
					if json.Unmarshal(b, &m) != nil {
						continue
					}
					var key string
					switch {
					case m.Action == "sync" && m.Position != nil && *m.Position >= 1e6:
						key = "s" + strconv.FormatInt(int64(*m.Position), 10)
					case m.Action == "chat" && strings.HasPrefix(m.Text, "c"):
						key = m.Text
					default:
						continue
					}
					if t0, ok := sent.Load(key); ok {
						kind := "sync"
						if key[0] == 'c' {
							kind = "chat"
						}
						mu.Lock()
						samples = append(samples, sample{kind, now.Sub(t0.(time.Time))})
						mu.Unlock()
					}
				}
			}()
		}
	}

	// The joins' own events (each join is a join event, a sync and a user
	// update to every socket already in the room) are still being read:
	// wait until no frame has arrived for half a second, so the frames
	// counted below, the divisor of the CPU per delivery, are the drive's.
	settled := time.Now()
	for last := int64(-1); time.Since(settled) < 30*time.Second; {
		time.Sleep(500 * time.Millisecond)
		n := frames.Load()
		if n == last {
			break
		}
		last = n
	}
	fmt.Printf("join backlog read: %d frames in %s\n", frames.Load(), time.Since(settled).Round(time.Millisecond))

	var ru0 syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru0)
	srv0 := procstat.CPUSeconds(*pid)
	frames.Store(0)
	wall0 := time.Now()
	var op atomic.Int64
	op.Store(1_000_000)
	driveCtx, stopDrive := context.WithTimeout(ctx, *duration)
	defer stopDrive()
	var drivers sync.WaitGroup
	for i := range rs {
		drivers.Add(1)
		go func() {
			defer drivers.Done()
			// Spread the drivers over the interval.
			t := time.NewTimer(time.Duration(float64(*interval) * float64(i) / float64(len(rs))))
			defer t.Stop()
			seek := true
			for {
				select {
				case <-driveCtx.Done():
					return
				case <-t.C:
				}
				id := op.Add(1)
				var msg map[string]any
				if seek {
					sent.Store("s"+strconv.FormatInt(id, 10), time.Now())
					msg = map[string]any{"action": "req", "request": map[string]any{"type": 4, "value": float64(id)}}
				} else {
					key := "c" + strconv.FormatInt(id, 10)
					sent.Store(key, time.Now())
					msg = map[string]any{"action": "req", "request": map[string]any{"type": 11, "text": key}}
				}
				seek = !seek
				b, _ := json.Marshal(msg)
				wctx, c := context.WithTimeout(ctx, 5*time.Second)
				if err := rs[i].driver.Write(wctx, websocket.MessageText, b); err != nil {
					missed.Add(1)
				}
				c()
				t.Reset(*interval)
			}
		}()
	}
	drivers.Wait()
	// Let the last deliveries land.
	time.Sleep(500 * time.Millisecond)
	wall := time.Since(wall0)
	var ru1 syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru1)
	srvCPU := procstat.CPUSeconds(*pid) - srv0
	nFrames := frames.Load()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	stopRead()
	for i := range rs {
		for _, ws := range rs[i].all {
			_ = ws.CloseNow()
		}
	}
	readers.Wait()

	cpu := tv(ru1.Utime) + tv(ru1.Stime) - tv(ru0.Utime) - tv(ru0.Stime)
	fmt.Printf("rooms=%d clients/room=%d duration=%s interval=%s actions=%d write-errors=%d\n",
		*rooms, *clients, duration.String(), interval.String(), op.Load()-1_000_000, missed.Load())
	for _, kind := range []string{"sync", "chat"} {
		var ds []time.Duration
		for _, s := range samples {
			if s.kind == kind {
				ds = append(ds, s.d)
			}
		}
		if len(ds) == 0 {
			fmt.Printf("%s: no deliveries\n", kind)
			continue
		}
		slices.Sort(ds)
		fmt.Printf("%s deliveries=%d p50=%s p99=%s max=%s\n", kind, len(ds), pct(ds, 0.50), pct(ds, 0.99), ds[len(ds)-1].Round(time.Microsecond))
	}
	fmt.Printf("cpu=%.2fs over %.1fs wall (%.0f%% of one core) heap-inuse=%.1fMiB sys=%.1fMiB maxrss=%.1fMiB goroutines=%d\n",
		cpu.Seconds(), wall.Seconds(), 100*cpu.Seconds()/wall.Seconds(), float64(ms.HeapInuse)/(1<<20), float64(ms.Sys)/(1<<20),
		float64(ru1.Maxrss)/1024, runtime.NumGoroutine())
	switch {
	case nFrames == 0:
	case *target == "":
		fmt.Printf("deliveries (frames read by all sockets)=%d; CPU per delivery, server and driver in one process: %.1f µs\n",
			nFrames, cpu.Seconds()*1e6/float64(nFrames))
	case *pid > 0:
		fmt.Printf("deliveries (frames read by all sockets)=%d; server CPU %.2fs (%.0f%% of one core), %.1f µs per delivery, %.0f µs per action\n",
			nFrames, srvCPU, 100*srvCPU/wall.Seconds(), srvCPU*1e6/float64(nFrames), srvCPU*1e6/float64(op.Load()-1_000_000))
	}
	return nil
}

func tv(t syscall.Timeval) time.Duration {
	return time.Duration(t.Sec)*time.Second + time.Duration(t.Usec)*time.Microsecond
}

func pct(ds []time.Duration, p float64) time.Duration {
	i := int(math.Ceil(p*float64(len(ds)))) - 1
	return ds[max(i, 0)].Round(time.Microsecond)
}

func grant(ctx context.Context, hc *http.Client, base string) (string, error) {
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, base+"/api/auth/grant", nil)
	res, err := hc.Do(req)
	if err != nil {
		return "", err
	}
	defer res.Body.Close()
	var b struct {
		Token string `json:"token"`
	}
	if err := json.NewDecoder(res.Body).Decode(&b); err != nil || b.Token == "" {
		return "", fmt.Errorf("grant: status %d: %v", res.StatusCode, err)
	}
	return b.Token, nil
}

func post(ctx context.Context, hc *http.Client, url, tok string, body any) error {
	bb, _ := json.Marshal(body)
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(bb))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+tok)
	res, err := hc.Do(req)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	if res.StatusCode/100 != 2 {
		b, _ := io.ReadAll(res.Body)
		return fmt.Errorf("POST %s: %d %s", url, res.StatusCode, b)
	}
	return nil
}

func join(ctx context.Context, base, room, tok string) (*websocket.Conn, error) {
	dctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	ws, _, err := websocket.Dial(dctx, strings.Replace(base, "http", "ws", 1)+"/api/room/"+room, nil)
	if err != nil {
		return nil, err
	}
	ws.SetReadLimit(1 << 20)
	b, _ := json.Marshal(map[string]any{"action": "auth", "token": tok})
	if err := ws.Write(dctx, websocket.MessageText, b); err != nil {
		return nil, err
	}
	for {
		_, msg, err := ws.Read(dctx)
		if err != nil {
			return nil, err
		}
		if bytes.Contains(msg, []byte(`"action":"you"`)) {
			return ws, nil
		}
		if errors.Is(dctx.Err(), context.DeadlineExceeded) {
			return nil, dctx.Err()
		}
	}
}
