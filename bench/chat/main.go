// Command chat is an external load driver for Owncast's chat protocol. It
// speaks only the public wire protocol (POST /api/chat/register for an
// accessToken, a WebSocket on /ws?accessToken=…, {"type":"CHAT","body":…}
// in, newline-batched events out), so it can be pointed at Hearth or at
// Owncast itself.
//
// Modes:
//
//	-mode fanout  N listeners; senders post -rate messages/s for -duration;
//	              every socket's send→receive latency (the sender's clock
//	              time is in the body), deliveries/s, events per frame, the
//	              driver's own CPU (drv-cores: what it took from a machine it
//	              shares with the server) and, with -pid, the server's CPU
//	              per delivery.
//	-mode steps   the same at each rate of -rates in turn, stopping after the
//	              first step whose p99 passes -p99-limit or that delivers
//	              under 95 % of what was sent: the stepped maximum throughput.
//	-mode idle    connect -listeners sockets, report the time to register and
//	              to connect them all, then (with -pid) the server's RSS
//	              growth per idle socket after -settle.
//
// Every mode reports the time to connect the listeners. The server's CPU and
// RSS come from /proc/<pid>/stat and /proc/<pid>/status, so -pid needs the
// server on the same machine; without it the driver reports no server figures.
// Against Hearth start the server with --chat-flood-rate 0, or give enough
// -senders that each stays under the flood limit (Owncast's is 1.5 msg/s per
// connection; by default the driver uses one sender per message/s).
//
//	go run ./bench/chat -url http://127.0.0.1:8080 -mode fanout -listeners 1000 -rate 20 -duration 30s -pid $(pgrep -n hearth)
//	go run ./bench/chat -url http://127.0.0.1:8080 -mode steps -listeners 5000 -rates 10,20,40,80,160 -pid …
//	go run ./bench/chat -url http://127.0.0.1:8080 -mode idle -listeners 12000 -pid …
package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"math/bits"
	"net"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hearth-community/hearth/bench/internal/procstat"
)

func main() {
	var o opts
	flag.StringVar(&o.base, "url", "http://127.0.0.1:8080", "server base URL (Hearth or Owncast)")
	flag.StringVar(&o.mode, "mode", "fanout", "fanout, steps or idle")
	flag.IntVar(&o.listeners, "listeners", 1000, "listening sockets")
	flag.IntVar(&o.senders, "senders", 0, "sending sockets (0: one per message/s of the highest rate, at least 5)")
	flag.Float64Var(&o.rate, "rate", 20, "fanout: messages per second, all senders together")
	flag.StringVar(&o.rates, "rates", "10,20,40,80,160,320", "steps: messages per second of each step")
	flag.DurationVar(&o.duration, "duration", 30*time.Second, "how long each rate is driven")
	flag.DurationVar(&o.p99Limit, "p99-limit", 25*time.Millisecond, "steps: stop after the first step whose p99 exceeds this")
	flag.IntVar(&o.pid, "pid", 0, "server process id on this machine, for its CPU (/proc/<pid>/stat) and RSS (/proc/<pid>/status)")
	flag.IntVar(&o.conc, "connect-concurrency", 64, "registrations and dials in flight while connecting")
	flag.IntVar(&o.users, "users", 0, "register this many chat users and spread the sockets over them (0: one user per socket)")
	flag.IntVar(&o.localIPs, "local-ips", 1, "dial from 127.0.0.1…127.0.0.N in turn (more than ~28k sockets to one loopback port need N > 1)")
	flag.DurationVar(&o.settle, "settle", 5*time.Second, "idle: wait this long after the last socket connected before reading RSS")
	flag.Parse()
	if err := run(o); err != nil {
		fmt.Fprintln(os.Stderr, "chat bench:", err)
		os.Exit(1)
	}
}

type opts struct {
	base               string
	mode               string
	listeners, senders int
	rate               float64
	rates              string
	duration, p99Limit time.Duration
	settle             time.Duration
	pid, conc, users   int
	localIPs           int
}

// marker precedes the sender's clock (Unix ns) in a message body; the body
// comes back rendered (<p>bcT…X</p>) and JSON-escaped, and the digits
// survive both.
const marker = "bcT"

func run(o opts) error {
	procstat.RaiseFDLimit()
	hc := &http.Client{Timeout: 60 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: o.conc}}
	var rates []float64
	switch o.mode {
	case "fanout":
		rates = []float64{o.rate}
	case "steps":
		for _, f := range strings.Split(o.rates, ",") {
			r, err := strconv.ParseFloat(strings.TrimSpace(f), 64)
			if err != nil || r <= 0 {
				return fmt.Errorf("bad -rates entry %q", f)
			}
			rates = append(rates, r)
		}
	case "idle":
	default:
		return fmt.Errorf("unknown -mode %q", o.mode)
	}
	senders := o.senders
	if senders == 0 && len(rates) > 0 {
		senders = max(5, int(math.Ceil(rates[len(rates)-1])))
	}
	wsBase := strings.Replace(strings.TrimRight(o.base, "/"), "http", "ws", 1)
	fmt.Printf("server %s  mode %s  listeners %d  senders %d  driver on this machine (pid %d)\n", o.base, o.mode, o.listeners, senders, os.Getpid())

	st := &stats{}
	rss0 := procstat.RSS(o.pid)

	// Register.
	nUsers := o.listeners + senders
	if o.users > 0 {
		nUsers = o.users
	}
	t0 := time.Now()
	tokens, err := registerAll(hc, o.base, nUsers, o.conc)
	if err != nil {
		return err
	}
	regTime := time.Since(t0)
	rss1 := procstat.RSS(o.pid)
	fmt.Printf("registered %d chat users in %s\n", nUsers, regTime.Round(time.Millisecond))

	// Connect: a socket counts once its CONNECTED_USER_INFO has arrived
	// (it is then authenticated and subscribed).
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	total := o.listeners + senders
	socks := make([]*sock, total)
	t1 := time.Now()
	connCPU0, connSelf0 := procstat.CPUSeconds(o.pid), procstat.CPUSeconds(os.Getpid())
	sem := make(chan struct{}, o.conc)
	var wg sync.WaitGroup
	var dialErr atomic.Value
	for i := range total {
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			var local net.IP
			if o.localIPs > 1 {
				local = net.IPv4(127, 0, 0, byte(1+i%o.localIPs))
			}
			s, err := dial(ctx, wsBase+"/ws?accessToken="+url.QueryEscape(tokens[i%len(tokens)]), local, st)
			if err != nil {
				dialErr.CompareAndSwap(nil, err)
				return
			}
			socks[i] = s
			go s.run()
			select {
			case <-s.ready:
			case <-s.done:
				dialErr.CompareAndSwap(nil, fmt.Errorf("socket %d closed before CONNECTED_USER_INFO: %v", i, s.err))
			case <-time.After(60 * time.Second):
				dialErr.CompareAndSwap(nil, fmt.Errorf("socket %d: no CONNECTED_USER_INFO in 60 s", i))
			}
		}()
	}
	wg.Wait()
	connTime := time.Since(t1)
	if err, _ := dialErr.Load().(error); err != nil {
		return err
	}
	fmt.Printf("connected %d sockets (each authenticated, CONNECTED_USER_INFO received) in %s; %d connect+register in %s\n",
		total, connTime.Round(time.Millisecond), total, (regTime + connTime).Round(time.Millisecond))
	if o.pid > 0 {
		// CPU per connect does not depend on how busy the machine is, the
		// connect time does.
		fmt.Printf("server CPU while connecting: %.2f s, %.0f µs per socket (upgrade, auth, subscribe, CONNECTED_USER_INFO); driver %.2f s\n",
			procstat.CPUSeconds(o.pid)-connCPU0, (procstat.CPUSeconds(o.pid)-connCPU0)*1e6/float64(total), procstat.CPUSeconds(os.Getpid())-connSelf0)
	}
	defer func() {
		for _, s := range socks {
			if s != nil {
				s.close()
			}
		}
	}()

	if o.mode == "idle" {
		time.Sleep(o.settle)
		if o.pid <= 0 {
			fmt.Println("no -pid: server memory not measured")
			return nil
		}
		rss2 := procstat.RSS(o.pid)
		fmt.Printf("server RSS: %.1f MiB before, %.1f MiB after registering, %.1f MiB with %d idle sockets %s later\n",
			procstat.MiB(rss0), procstat.MiB(rss1), procstat.MiB(rss2), total, o.settle)
		fmt.Printf("per idle socket: %.1f KiB (socket only: RSS growth since registration / sockets), %.1f KiB including its registration\n",
			float64(rss2-rss1)/1024/float64(total), float64(rss2-rss0)/1024/float64(total))
		fmt.Printf("server threads: %d\n", procstat.Threads(o.pid))
		reportLost(st)
		return nil
	}

	send := socks[o.listeners:]
	// Let join notices and the like pass before measuring.
	time.Sleep(time.Second)
	fmt.Printf("%-9s %10s %12s %9s %9s %9s %9s %12s %10s %10s %10s %s\n", "msgs/s", "sent", "delivered", "deliv%", "p50", "p99", "max", "deliveries/s", "ev/frame", "srv-cores", "drv-cores", "srv-µs/delivery")
	for _, r := range rates {
		res := step(o, st, send, r)
		fmt.Printf("%-9.0f %10d %12d %8.2f%% %9s %9s %9s %12.0f %10.2f %10s %10.2f %s\n", r, res.sent, res.delivered,
			100*float64(res.delivered)/math.Max(1, float64(res.sent*int64(total))), ms(res.p50), ms(res.p99), ms(res.max),
			float64(res.delivered)/res.wall.Seconds(), res.evPerFrame, cores(res), res.driverCPU/res.wall.Seconds(), perDelivery(res))
		if o.mode == "steps" && (res.p99 > o.p99Limit || float64(res.delivered) < 0.95*float64(res.sent*int64(total))) {
			fmt.Printf("stopped: p99 over %s or under 95 %% delivered at %.0f msgs/s\n", o.p99Limit, r)
			break
		}
	}
	if o.pid > 0 {
		fmt.Printf("server RSS at the end: %.1f MiB\n", procstat.MiB(procstat.RSS(o.pid)))
	}
	reportLost(st)
	return nil
}

type result struct {
	sent, delivered int64
	p50, p99, max   time.Duration
	wall            time.Duration
	evPerFrame      float64
	cpu             float64 // server CPU seconds; <0 when unknown
	driverCPU       float64 // this driver's own CPU seconds over the step
}

// step drives rate messages/s for o.duration, then waits up to 5 s for
// the last deliveries.
func step(o opts, st *stats, send []*sock, rate float64) result {
	st.reset()
	cpu0 := procstat.CPUSeconds(o.pid)
	self0 := procstat.CPUSeconds(os.Getpid())
	start := time.Now()
	interval := time.Duration(float64(time.Second) / rate)
	var sent int64
	var body []byte
	for i := 0; ; i++ {
		next := start.Add(time.Duration(i) * interval)
		if next.Sub(start) >= o.duration {
			break
		}
		if d := time.Until(next); d > 0 {
			time.Sleep(d)
		}
		body = body[:0]
		body = append(body, `{"type":"CHAT","body":"`+marker...)
		body = strconv.AppendInt(body, time.Now().UnixNano(), 10)
		body = append(body, `X"}`...)
		if err := send[i%len(send)].write(0x1, body); err != nil {
			fmt.Fprintln(os.Stderr, "send:", err)
			continue
		}
		sent++
	}
	want := sent * int64(st.sockets.Load())
	deadline := time.Now().Add(5 * time.Second)
	for st.delivered.Load() < want && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	wall := time.Since(start)
	res := result{sent: sent, delivered: st.delivered.Load(), wall: wall, cpu: -1, driverCPU: procstat.CPUSeconds(os.Getpid()) - self0}
	if o.pid > 0 {
		res.cpu = procstat.CPUSeconds(o.pid) - cpu0
	}
	res.p50, res.p99, res.max = st.hist.quantile(0.5), st.hist.quantile(0.99), st.hist.quantile(1)
	if f := st.frames.Load(); f > 0 {
		res.evPerFrame = float64(st.events.Load()) / float64(f)
	}
	return res
}

func reportLost(st *stats) {
	if n := st.lost.Load(); n > 0 {
		fmt.Printf("sockets closed by the server or failed during the run: %d (first: %v)\n", n, st.lostWhy.Load())
	} else {
		fmt.Println("no socket was closed during the run")
	}
}

func cores(r result) string {
	if r.cpu < 0 {
		return "-"
	}
	return fmt.Sprintf("%.2f", r.cpu/r.wall.Seconds())
}

func perDelivery(r result) string {
	if r.cpu < 0 || r.delivered == 0 {
		return "-"
	}
	return fmt.Sprintf("%.2f", r.cpu*1e6/float64(r.delivered))
}

func ms(d time.Duration) string { return fmt.Sprintf("%.2fms", float64(d)/1e6) }
func registerAll(hc *http.Client, base string, n, conc int) ([]string, error) {
	tokens := make([]string, n)
	sem := make(chan struct{}, conc)
	var wg sync.WaitGroup
	var firstErr atomic.Value
	for i := range n {
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			tok, err := register(hc, base, fmt.Sprintf("bench%d", i))
			if err != nil {
				firstErr.CompareAndSwap(nil, err)
				return
			}
			tokens[i] = tok
		}()
	}
	wg.Wait()
	if err, _ := firstErr.Load().(error); err != nil {
		return nil, err
	}
	return tokens, nil
}

func register(hc *http.Client, base, name string) (string, error) {
	body, _ := json.Marshal(map[string]string{"displayName": name})
	res, err := hc.Post(base+"/api/chat/register", "application/json", bytes.NewReader(body))
	if err != nil {
		return "", fmt.Errorf("register: %w", err)
	}
	defer res.Body.Close()
	var out struct {
		AccessToken string `json:"accessToken"`
	}
	raw, _ := io.ReadAll(res.Body)
	if res.StatusCode != http.StatusOK || json.Unmarshal(raw, &out) != nil || out.AccessToken == "" {
		return "", fmt.Errorf("register: %s: %.200s", res.Status, raw)
	}
	return out.AccessToken, nil
}

// stats are shared by every socket.
type stats struct {
	sockets   atomic.Int64
	lost      atomic.Int64 // sockets the server closed or that failed
	lostWhy   atomic.Value // the first such error
	delivered atomic.Int64 // marked CHAT events read
	events    atomic.Int64 // event lines read
	frames    atomic.Int64 // data frames read
	hist      hist
}

func (s *stats) reset() {
	s.delivered.Store(0)
	s.events.Store(0)
	s.frames.Store(0)
	s.hist.reset()
}

// hist is a log-linear latency histogram in microseconds (32 sub-buckets
// per power of two: under 3 % error), updated with atomics.
type hist struct {
	b [64 * 32]atomic.Int64
}

func bucket(us uint64) int {
	if us < 32 {
		return int(us)
	}
	e := bits.Len64(us) - 6 // us >> e is in [32, 64)
	return (e+1)*32 + int(us>>e) - 32
}

func bucketLow(i int) uint64 {
	if i < 32 {
		return uint64(i)
	}
	e := i/32 - 1
	return uint64(i%32+32) << e
}

func (h *hist) add(d time.Duration) {
	us := uint64(max(d, 0) / time.Microsecond)
	h.b[min(bucket(us), len(h.b)-1)].Add(1)
}

func (h *hist) reset() {
	for i := range h.b {
		h.b[i].Store(0)
	}
}

func (h *hist) quantile(q float64) time.Duration {
	var total int64
	for i := range h.b {
		total += h.b[i].Load()
	}
	if total == 0 {
		return 0
	}
	want := int64(math.Ceil(q * float64(total)))
	var seen int64
	for i := range h.b {
		seen += h.b[i].Load()
		if seen >= max(want, 1) {
			return time.Duration(bucketLow(i)) * time.Microsecond
		}
	}
	return 0
}

// sock is a minimal WebSocket client: one goroutine reads frames into a
// reusable buffer, answers pings and scans text frames for event lines and
// markers. It allocates nothing per frame, so the driver takes as little of
// the shared machine as it can.
type sock struct {
	nc      net.Conn
	br      *bufio.Reader
	st      *stats
	wmu     sync.Mutex
	wbuf    []byte
	ready   chan struct{}
	done    chan struct{}
	err     error
	seen    bool
	closing atomic.Bool
}

func dial(ctx context.Context, wsURL string, local net.IP, st *stats) (*sock, error) {
	u, err := url.Parse(wsURL)
	if err != nil {
		return nil, err
	}
	d := net.Dialer{Timeout: 30 * time.Second}
	if local != nil {
		d.LocalAddr = &net.TCPAddr{IP: local}
	}
	nc, err := d.DialContext(ctx, "tcp", u.Host)
	if err != nil {
		return nil, fmt.Errorf("dial: %w", err)
	}
	key := make([]byte, 16)
	_, _ = rand.Read(key)
	req := "GET " + u.RequestURI() + " HTTP/1.1\r\nHost: " + u.Host + "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
		"Sec-WebSocket-Key: " + base64.StdEncoding.EncodeToString(key) + "\r\nSec-WebSocket-Version: 13\r\n\r\n"
	_ = nc.SetDeadline(time.Now().Add(30 * time.Second))
	if _, err := io.WriteString(nc, req); err != nil {
		nc.Close()
		return nil, fmt.Errorf("upgrade: %w", err)
	}
	br := bufio.NewReaderSize(nc, 8<<10)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		nc.Close()
		return nil, fmt.Errorf("upgrade: %w", err)
	}
	if resp.StatusCode != http.StatusSwitchingProtocols {
		nc.Close()
		return nil, fmt.Errorf("upgrade: %s", resp.Status)
	}
	_ = nc.SetDeadline(time.Time{})
	st.sockets.Add(1)
	return &sock{nc: nc, br: br, st: st, ready: make(chan struct{}), done: make(chan struct{})}, nil
}

func (s *sock) run() {
	defer close(s.done)
	defer func() {
		if !s.closing.Load() {
			s.st.lost.Add(1)
			s.st.lostWhy.CompareAndSwap(nil, fmt.Sprint(s.err))
		}
	}()
	var hdr [14]byte
	payload := make([]byte, 0, 4<<10)
	for {
		if _, err := io.ReadFull(s.br, hdr[:2]); err != nil {
			s.err = err
			return
		}
		op := hdr[0] & 0x0f
		n := int(hdr[1] & 0x7f)
		switch n {
		case 126:
			if _, err := io.ReadFull(s.br, hdr[2:4]); err != nil {
				s.err = err
				return
			}
			n = int(binary.BigEndian.Uint16(hdr[2:4]))
		case 127:
			if _, err := io.ReadFull(s.br, hdr[2:10]); err != nil {
				s.err = err
				return
			}
			n = int(binary.BigEndian.Uint64(hdr[2:10]))
		}
		if cap(payload) < n {
			payload = make([]byte, n)
		}
		payload = payload[:n]
		if _, err := io.ReadFull(s.br, payload); err != nil {
			s.err = err
			return
		}
		now := time.Now()
		switch op {
		case 0x8:
			s.err = errors.New("closed by server: " + closeText(payload))
			return
		case 0x9:
			_ = s.write(0xA, payload)
		case 0x1, 0x2, 0x0:
			s.frame(payload, now)
		}
		if cap(payload) > 64<<10 {
			payload = make([]byte, 0, 4<<10)
		}
	}
}

func closeText(p []byte) string {
	if len(p) < 2 {
		return "no status"
	}
	return strconv.Itoa(int(binary.BigEndian.Uint16(p))) + " " + string(p[2:])
}

var connectedInfo = []byte(`"CONNECTED_USER_INFO"`)

func (s *sock) frame(p []byte, now time.Time) {
	s.st.frames.Add(1)
	for len(p) > 0 {
		line := p
		if i := bytes.IndexByte(p, '\n'); i >= 0 {
			line, p = p[:i], p[i+1:]
		} else {
			p = nil
		}
		if len(line) == 0 {
			continue
		}
		s.st.events.Add(1)
		if !s.seen && bytes.Contains(line, connectedInfo) {
			s.seen = true
			close(s.ready)
		}
		i := bytes.Index(line, []byte(marker))
		if i < 0 {
			continue
		}
		var ns int64
		for _, c := range line[i+len(marker):] {
			if c < '0' || c > '9' {
				break
			}
			ns = ns*10 + int64(c-'0')
		}
		s.st.delivered.Add(1)
		s.st.hist.add(now.Sub(time.Unix(0, ns)))
	}
}

// write sends one masked frame.
func (s *sock) write(op byte, payload []byte) error {
	s.wmu.Lock()
	defer s.wmu.Unlock()
	var mask [4]byte
	_, _ = rand.Read(mask[:])
	f := s.wbuf[:0]
	f = append(f, 0x80|op)
	switch n := len(payload); {
	case n <= 125:
		f = append(f, 0x80|byte(n))
	case n <= 0xffff:
		f = append(f, 0x80|126, byte(n>>8), byte(n))
	default:
		f = append(f, 0x80|127)
		f = binary.BigEndian.AppendUint64(f, uint64(n))
	}
	f = append(f, mask[:]...)
	for i, b := range payload {
		f = append(f, b^mask[i&3])
	}
	s.wbuf = f
	_ = s.nc.SetWriteDeadline(time.Now().Add(10 * time.Second))
	_, err := s.nc.Write(f)
	return err
}

func (s *sock) close() {
	s.closing.Store(true)
	_ = s.write(0x8, []byte{0x03, 0xe8})
	_ = s.nc.Close()
}
