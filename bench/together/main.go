// Command together is a load driver shaped like Together's k6 scenarios
// (load-tests/test-http.js and test-websocket.js): N virtual users register,
// log in, join one public server with four text channels, hold a gateway
// WebSocket open, and loop over test-http.js's mix — 40 % list 50 messages,
// 25 % list servers and the server's members, 20 % send, 10 % refresh the
// token, 5 % /users/@me — on a random channel with 0.5–2 s think time. It
// reports p50/p95/p99 per operation, the delivery lag of MESSAGE_CREATE (REST
// send → frame on other users' sockets), the HEARTBEAT → HEARTBEAT_ACK round
// trip (what Together's k6 calls ws_message_lag) and the server's peak RSS
// and CPU. The -lag-sample sockets that measure read every frame; the others
// drain what has arrived every -drain (see rawws.go), so that the driver,
// sharing the server's machine, does not take the CPU it measures.
//
//	go run ./bench/together -base http://127.0.0.1:8080 -vus 500 -duration 60s -pid $(pgrep -n hearth)
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"maps"
	"math"
	"math/rand/v2"
	"net/http"
	"os"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"

	"github.com/hearth-community/hearth/bench/internal/procstat"
)

type recorder struct {
	mu      sync.Mutex
	samples map[string][]time.Duration
	errors  map[string]int
	// first and last are the first and the last error of each op, with the
	// time the failed attempt took, printed after the run: how an op failed
	// says which side to look at.
	first, last map[string]string
}

// failed counts an error of op, keeping the first and the last.
func (r *recorder) failed(op string, err error, took time.Duration) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.errors[op]++
	msg := fmt.Sprintf("after %s: %v", took.Round(time.Millisecond), err)
	if len(msg) > 300 {
		msg = msg[:300] + "…"
	}
	if r.first == nil {
		r.first, r.last = map[string]string{}, map[string]string{}
	}
	if _, ok := r.first[op]; !ok {
		r.first[op] = msg
	}
	r.last[op] = msg
}

func (r *recorder) add(op string, d time.Duration) {
	r.mu.Lock()
	r.samples[op] = append(r.samples[op], d)
	r.mu.Unlock()
}

// fail counts an error of op and returns how many there have been.
func (r *recorder) fail(op string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.errors[op]++
	return r.errors[op]
}

type client struct {
	base  string
	token string
	http  *http.Client
}

func (c *client) do(method, path string, body any, want int) (map[string]any, error) {
	var rd io.Reader
	if body != nil {
		raw, _ := json.Marshal(body)
		rd = bytes.NewReader(raw)
	}
	req, err := http.NewRequest(method, c.base+path, rd)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != want {
		return nil, fmt.Errorf("%s %s: %d %s", method, path, resp.StatusCode, raw)
	}
	var out map[string]any
	if len(raw) > 0 && raw[0] == '{' {
		_ = json.Unmarshal(raw, &out)
	}
	return out, nil
}

// busyRetries is how often a sign-up or login the server answered 429 or
// 503 (its bounded password hashing was full) is tried again (-signin-retries).
var busyRetries = 0

// rampFor is -ramp.
var rampFor = 30 * time.Second

func (c *client) timed(rec *recorder, op, method, path string, body any, want int) (map[string]any, error) {
	start := time.Now()
	out, err := c.do(method, path, body, want)
	for try := 0; err != nil && try < busyRetries && (op == "register" || op == "login") && busy(err); try++ {
		time.Sleep(time.Duration(500+rand.IntN(1500)) * time.Millisecond)
		start = time.Now()
		out, err = c.do(method, path, body, want)
	}
	if err != nil {
		rec.failed(op, err, time.Since(start))
		return nil, err
	}
	rec.add(op, time.Since(start))
	return out, nil
}

// busy reports whether err is the server's 429 or 503 answer.
func busy(err error) bool {
	m := err.Error()
	return strings.Contains(m, ": 429 ") || strings.Contains(m, ": 503 ")
}

func pct(ds []time.Duration, p float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	return ds[min(len(ds)-1, int(float64(len(ds))*p))]
}

// liveHeap reads go_memstats_heap_inuse_bytes + stack_inuse_bytes from
// the server's Prometheus endpoint.
func liveHeap(hc *http.Client, base string) int64 {
	req, err := http.NewRequest("GET", base+"/metrics", nil)
	if err != nil {
		return 0
	}
	// Uncompressed: gzipping the scrape every second was the measuring
	// harness's own largest allocation in the server.
	req.Header.Set("Accept-Encoding", "identity")
	resp, err := hc.Do(req)
	if err != nil {
		return 0
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var total float64
	for _, l := range strings.Split(string(raw), "\n") {
		for _, name := range []string{"go_memstats_heap_inuse_bytes ", "go_memstats_stack_inuse_bytes "} {
			if v, ok := strings.CutPrefix(l, name); ok {
				f, _ := strconv.ParseFloat(strings.TrimSpace(v), 64)
				total += f
			}
		}
	}
	return int64(total)
}

func main() {
	base := flag.String("base", "http://127.0.0.1:8080", "Hearth base URL (Together routes, no /api)")
	vus := flag.Int("vus", 500, "virtual users")
	dur := flag.Duration("duration", 60*time.Second, "steady-state duration after ramp-up")
	lagSample := flag.Int("lag-sample", 50, "how many users' sockets record delivery lag")
	pid := flag.Int("pid", 0, "server pid, to sample its RSS")
	drain := flag.Duration("drain", 100*time.Millisecond, "the sockets that do not measure read what has arrived once per this interval (0: every frame as it comes, through a full WebSocket client)")
	idle := flag.Int("idle", 0, "idle mode: open this many gateway sockets (spread over -vus users, all members of one server with four text channels), wait for READY on each, hold them -settle and report the server's RSS growth per socket; no REST load")
	settle := flag.Duration("settle", 10*time.Second, "idle: wait this long after the last READY before reading the server's RSS")
	flag.DurationVar(&rampFor, "ramp", 30*time.Second, "spread the users' sign-ups over this long (Together's k6 ramp: 30 s)")
	flag.IntVar(&busyRetries, "signin-retries", 0, "try a sign-up or login the server answered 429 or 503 (bounded password hashing full) again this many times, after 0.5–2 s; the retried attempt's time is what is recorded")
	localIPs := flag.Int("local-ips", 1, "idle: dial from 127.0.0.1…127.0.0.N in turn (past one loopback address's ephemeral ports)")
	flag.Parse()
	if *idle > 0 {
		if err := runIdle(*base, *vus, *idle, *pid, *settle, *localIPs); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		return
	}
	if err := run(*base, *vus, *dur, *lagSample, *pid, *drain); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

func run(base string, vus int, dur time.Duration, lagSample, pid int, drain time.Duration) error {
	tr := &http.Transport{MaxIdleConnsPerHost: vus, MaxConnsPerHost: 0}
	hc := &http.Client{Transport: tr, Timeout: 180 * time.Second}
	rec := &recorder{samples: map[string][]time.Duration{}, errors: map[string]int{}}
	run := strconv.FormatInt(time.Now().Unix()%1e6, 10)
	admin, sid, cids, err := setupServer(hc, base, run)
	if err != nil {
		return err
	}
	cid := cids[0]
	for i := range 50 {
		if _, err := admin.do("POST", "/channels/"+cid+"/messages", map[string]any{"content": fmt.Sprintf("seed %d", i)}, 201); err != nil {
			return err
		}
	}
	var peak, peakSteady atomic.Int64
	var cpuStart atomic.Uint64
	var peakHeap atomic.Int64
	var steady atomic.Bool
	stopRSS := make(chan struct{})
	if pid > 0 {
		go func() {
			t := time.NewTicker(250 * time.Millisecond)
			defer t.Stop()
			ticks := 0
			for {
				select {
				case <-stopRSS:
					return
				case <-t.C:
					v := procstat.RSS(pid)
					if v > peak.Load() {
						peak.Store(v)
					}
					if steady.Load() && v > peakSteady.Load() {
						peakSteady.Store(v)
					}
					// /metrics once a second: scraping it costs the server
					// a gather and a gzip.
					if ticks++; steady.Load() && ticks%4 == 0 {
						if h := liveHeap(hc, base); h > peakHeap.Load() {
							peakHeap.Store(h)
						}
					}
				}
			}
		}()
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	var connected atomic.Int64
	var sent, delivered, framesIn atomic.Int64
	// Phase 1: every user registers, logs in, joins and connects (ramped
	// over 30 s); phase 2 starts when all are done and lasts dur.
	var setup sync.WaitGroup
	setup.Add(vus)
	startSteady := make(chan struct{})
	var end time.Time
	go func() {
		setup.Wait()
		end = time.Now().Add(dur)
		if pid > 0 {
			cpuStart.Store(math.Float64bits(procstat.CPUSeconds(pid)))
		}
		steady.Store(true)
		close(startSteady)
	}()
	wsBase := "ws" + strings.TrimPrefix(base, "http") + "/ws?token="
	for v := range vus {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ready := false
			defer func() {
				if !ready {
					setup.Done()
				}
			}()
			time.Sleep(time.Duration(v) * rampFor / time.Duration(vus)) // ramp
			c := &client{base: base, http: hc}
			name := fmt.Sprintf("lt_%s_%d", run, v)
			if _, err := c.timed(rec, "register", "POST", "/auth/register", map[string]string{"username": name, "password": "LoadPass99!"}, 201); err != nil {
				return
			}
			out, err := c.timed(rec, "login", "POST", "/auth/login", map[string]string{"username": name, "password": "LoadPass99!"}, 200)
			if err != nil {
				return
			}
			c.token = out["access_token"].(string)
			refresh, _ := out["refresh_token"].(string)
			if _, err := c.timed(rec, "join", "POST", "/servers/"+sid+"/join", nil, 201); err != nil {
				return
			}
			start := time.Now()
			measure := v < lagSample
			var conn *websocket.Conn
			var raw *rawSocket
			if measure || drain == 0 {
				conn, _, err = websocket.Dial(ctx, wsBase+c.token, nil)
			} else {
				raw, err = dialRaw(ctx, wsBase+c.token, &framesIn)
			}
			if err != nil {
				rec.fail("ws_connect")
				return
			}
			rec.add("ws_connect", time.Since(start))
			connected.Add(1)
			switch {
			case raw != nil:
				go func() {
					if err := raw.run(ctx, drain); err != nil {
						if rec.fail("ws_dropped") == 1 {
							fmt.Fprintln(os.Stderr, "first dropped socket:", err)
						}
					}
				}()
			case !measure:
				conn.SetReadLimit(1 << 20)
				go func() {
					for {
						if _, _, err := conn.Read(ctx); err != nil {
							return
						}
						framesIn.Add(1)
					}
				}()
			default:
				conn.SetReadLimit(1 << 20)
				// Together's k6 "ws_message_lag" is HEARTBEAT → HEARTBEAT_ACK;
				// the sampled sockets also measure that, once a second.
				var hbSent atomic.Int64
				go func() {
					t := time.NewTicker(time.Second)
					defer t.Stop()
					for {
						select {
						case <-ctx.Done():
							return
						case <-t.C:
							hbSent.Store(time.Now().UnixNano())
							if conn.Write(ctx, websocket.MessageText, []byte(`{"op":"HEARTBEAT"}`)) != nil {
								return
							}
						}
					}
				}()
				go func() {
					for {
						_, data, err := conn.Read(ctx)
						if err != nil {
							return
						}
						if bytes.HasPrefix(data, []byte(`{"op":"HEARTBEAT_ACK"`)) {
							if at := hbSent.Swap(0); at != 0 && steady.Load() {
								rec.add("ws_heartbeat_rtt", time.Since(time.Unix(0, at)))
							}
							continue
						}
						if !bytes.Contains(data, []byte(`"MESSAGE_CREATE"`)) {
							continue
						}
						var f struct {
							D struct {
								Content string `json:"content"`
							} `json:"d"`
						}
						if json.Unmarshal(data, &f) != nil || !strings.HasPrefix(f.D.Content, "lt ") {
							continue
						}
						ns, err := strconv.ParseInt(strings.Fields(f.D.Content)[1], 10, 64)
						if err == nil {
							rec.add("ws_delivery_lag", time.Since(time.Unix(0, ns)))
							delivered.Add(1)
						}
					}
				}()
			}
			ready = true
			setup.Done()
			<-startSteady
			// Start as if from the middle of a think time: released at once,
			// 500 users would all send their first request in the same
			// millisecond, a burst no ramped k6 run has.
			time.Sleep(time.Duration(rand.IntN(2000)) * time.Millisecond)
			for time.Now().Before(end) {
				ch := cids[rand.IntN(len(cids))]
				switch r := rand.Float64(); {
				case r < 0.40:
					_, _ = c.timed(rec, "messages_list", "GET", "/channels/"+ch+"/messages?limit=50", nil, 200)
				case r < 0.65:
					_, _ = c.timed(rec, "servers_list", "GET", "/servers", nil, 200)
					_, _ = c.timed(rec, "members_list", "GET", "/servers/"+sid+"/members", nil, 200)
				case r < 0.85:
					body := map[string]any{"content": fmt.Sprintf("lt %d from %d", time.Now().UnixNano(), v)}
					if _, err := c.timed(rec, "messages_send", "POST", "/channels/"+ch+"/messages", body, 201); err == nil {
						sent.Add(1)
					}
				case r < 0.95:
					anon := &client{base: base, http: hc}
					if out, err := anon.timed(rec, "refresh", "POST", "/auth/refresh", map[string]string{"refresh_token": refresh}, 200); err == nil {
						c.token, refresh = out["access_token"].(string), out["refresh_token"].(string)
					}
				default:
					_, _ = c.timed(rec, "users_me", "GET", "/users/@me", nil, 200)
				}
				time.Sleep(time.Duration(500+rand.IntN(1500)) * time.Millisecond)
			}
			if raw != nil {
				raw.close()
			} else {
				_ = conn.Close(websocket.StatusNormalClosure, "")
			}
		}()
	}
	wg.Wait()
	cpuUsed := 0.0
	if pid > 0 {
		cpuUsed = procstat.CPUSeconds(pid) - math.Float64frombits(cpuStart.Load())
	}
	cancel()
	close(stopRSS)
	fmt.Printf("vus=%d steady=%s connected=%d sent=%d lag-samples=%d (from %d sockets) frames-read-by-the-other-sockets=%d (drain %s)\n",
		vus, dur, connected.Load(), sent.Load(), delivered.Load(), lagSample, framesIn.Load(), drain)
	ops := make([]string, 0, len(rec.samples))
	for op := range rec.samples {
		ops = append(ops, op)
	}
	sort.Strings(ops)
	fmt.Printf("%-16s %8s %10s %10s %10s %7s\n", "op", "count", "p50", "p95", "p99", "errors")
	for _, op := range ops {
		ds := rec.samples[op]
		sort.Slice(ds, func(i, j int) bool { return ds[i] < ds[j] })
		fmt.Printf("%-16s %8d %10s %10s %10s %7d\n", op, len(ds), pct(ds, 0.5).Round(10*time.Microsecond),
			pct(ds, 0.95).Round(10*time.Microsecond), pct(ds, 0.99).Round(10*time.Microsecond), rec.errors[op])
	}
	for op, n := range rec.errors {
		if _, ok := rec.samples[op]; !ok {
			fmt.Printf("%-16s %8d %10s %10s %10s %7d\n", op, 0, "-", "-", "-", n)
		}
	}
	for _, op := range slices.Sorted(maps.Keys(rec.first)) {
		fmt.Printf("%s: first error %s\n", op, rec.first[op])
		if rec.errors[op] > 1 {
			fmt.Printf("%s: last error %s\n", op, rec.last[op])
		}
	}
	if pid > 0 {
		fmt.Printf("server CPU in steady state: %.1f s over %s (%.0f%% of one core)\n", cpuUsed, dur, 100*cpuUsed/dur.Seconds())
		// Every MESSAGE_CREATE goes to every connected user's socket.
		if deliveries := sent.Load() * connected.Load(); deliveries > 0 {
			fmt.Printf("server CPU per delivery: %.1f µs (steady-state CPU / (%d sends × %d sockets); the REST work of all operations is included)\n",
				cpuUsed*1e6/float64(deliveries), sent.Load(), connected.Load())
		}
		fmt.Printf("server peak Go heap in use + stacks (from /metrics) in steady state: %.1f MiB\n", float64(peakHeap.Load())/(1<<20))
		fmt.Printf("server peak RSS: %.1f MiB overall (sign-ups hash passwords with argon2id), %.1f MiB in steady state\n",
			float64(peak.Load())/(1<<20), float64(peakSteady.Load())/(1<<20))
	}
	if connected.Load() == 0 {
		return errors.New("no virtual user connected")
	}
	return nil
}
