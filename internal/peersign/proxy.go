package peersign

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/url"
	"sync"
	"time"

	"golang.org/x/sync/semaphore"

	"github.com/hearth-community/hearth/internal/ratelimit"
)

// Proxy answers a request with another node's answer at a URL signed for
// it (Query): a recording's file, a clip's MP4, a live stage's HLS. The
// node the client talks to has checked the client; the proxy passes a few
// request headers on and a few answer headers back, and bounds what it
// forwards: fetches at once, the wait for the peer's headers and for each
// of its bytes, an answer's time and size. Identical concurrent requests
// may share one fetch (Fetch.Key), and an answer that never changes may be
// kept a few seconds for the identical requests that follow (Fetch.Keep).
// How a failure is answered is the surface's (Fetch.Fail), in its own
// error shape.
type Proxy struct {
	cfg     ProxyConfig
	client  *http.Client
	slots   chan struct{}
	memory  *semaphore.Weighted
	mu      sync.Mutex
	flights map[string]*flight
	kept    map[string]keptAnswer // Fetch.Keep's answers, by key
	callers *ratelimit.Shares     // Fetch.Caller's unshared fetches running (PerCaller; nil: no bound)
}

// keptAnswer is a finished shared fetch kept for later identical requests
// until until; it holds one of fl's references (flight.left).
type keptAnswer struct {
	fl    *flight
	until time.Time
}

// maxKept bounds how many answers are kept at once (their bytes are
// within MaxBuffered, and given back when a fetch needs the room).
const maxKept = 4096

// ProxyConfig bounds a Proxy and says what passes through it.
type ProxyConfig struct {
	// MaxAtOnce is how many fetches run at once; a request past it fails
	// Busy at once (not queued). Requests sharing a fetch count once.
	MaxAtOnce int
	// PerCaller is how many unshared fetches one caller (Fetch.Caller)
	// runs at once; a request past it fails Busy at once, so that one
	// client holding its answers open (reading a little now and then)
	// cannot take every fetch. 0: no bound.
	PerCaller int
	// Timeout bounds one fetch, its answer's bytes included (0: none, for
	// answers that stream a whole recording; Idle still applies).
	Timeout time.Duration
	// HeaderTimeout bounds the wait for the peer's answer headers
	// (default 30 s), Idle each wait for its next bytes (default 30 s).
	HeaderTimeout, Idle time.Duration
	// MaxBody bounds one answer (0: none). A shared fetch holds its
	// answer in memory: at most MaxBuffered bytes across shared fetches
	// (default 256 MiB), past which they fail Busy. What counts is the
	// buffers' capacity, a buffer being grown counting with its successor.
	MaxBody, MaxBuffered int64
	// Request and Query are the request headers and query parameters
	// passed on; Answer the answer headers passed back.
	Request, Query, Answer []string
	// ForbiddenFails makes a peer's 403 (the nodes' keys or clocks
	// disagree) a Failed fetch rather than an answer passed back.
	ForbiddenFails bool
	// Client fetches (nil: one with a 5 s connect timeout, following no
	// redirect: a peer answers itself).
	Client *http.Client
	// Now is the clock of kept answers (nil: time.Now).
	Now func() time.Time
}

// Failure is why a proxied request did not get the peer's answer.
type Failure int

const (
	// Busy: MaxAtOnce fetches run, or shared answers fill MaxBuffered.
	Busy Failure = iota + 1
	// NoAnswer: the peer could not be reached, or did not answer in time.
	NoAnswer
	// Failed: the peer answered a 5xx other than 503.
	Failed
	// TooLarge: the answer is over MaxBody.
	TooLarge
	// PeerBusy: the peer answered 503 (its own slots are taken); a client
	// may retry shortly.
	PeerBusy
	// Refused: the peer answered 403 (with ForbiddenFails), refusing this
	// node's signed request: the nodes do not share the key, or their
	// clocks disagree. The caller was checked here, so it is never the
	// caller's fault; RefusedHint is the line for the operator's log.
	Refused
)

// RefusedHint is what an operator is told when a peer refuses this node's
// signed request (Refused).
const RefusedHint = "the node holding it refused this node's signed request: do the nodes share the database's peer " +
	"key, and do their clocks agree?"

// Fetch is one proxied request.
type Fetch struct {
	// URL is the signed URL of the peer's answer.
	URL string
	// Key, when set, names what URL fetches without its signature: an
	// identical request (same Key, passed query and headers) arriving
	// while one is fetched waits for that fetch and gets its answer.
	Key string
	// Fail answers the client for f; cause is what went wrong (nil for a
	// request that shared a fetch: the fetching one has it, to log once).
	Fail func(w http.ResponseWriter, f Failure, cause error)
	// NotFound, when set, answers for the peer's 404.
	NotFound http.HandlerFunc
	// Caller names who asks (an address, an account) for PerCaller.
	Caller string
	// Keep, with Key, keeps a shared fetch's 200 or 206 answer this long
	// after it ended, for identical requests arriving later (a file that
	// never changes, such as a live segment: not a playlist). Kept answers
	// count within MaxBuffered and are dropped, oldest first, when a fetch
	// needs their room.
	Keep time.Duration
}

// NewProxy builds a Proxy.
func NewProxy(cfg ProxyConfig) *Proxy {
	if cfg.MaxAtOnce <= 0 {
		cfg.MaxAtOnce = 1024
	}
	if cfg.HeaderTimeout <= 0 {
		cfg.HeaderTimeout = 30 * time.Second
	}
	if cfg.Idle <= 0 {
		cfg.Idle = 30 * time.Second
	}
	if cfg.MaxBuffered <= 0 {
		cfg.MaxBuffered = 256 << 20
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	c := cfg.Client
	if c == nil {
		c = &http.Client{
			Transport: &http.Transport{Proxy: nil, DialContext: (&net.Dialer{Timeout: 5 * time.Second}).DialContext,
				TLSHandshakeTimeout: 5 * time.Second, ResponseHeaderTimeout: cfg.HeaderTimeout,
				MaxIdleConnsPerHost: 256, IdleConnTimeout: 90 * time.Second},
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		}
	}
	return &Proxy{cfg: cfg, client: c, slots: make(chan struct{}, cfg.MaxAtOnce), memory: semaphore.NewWeighted(cfg.MaxBuffered),
		flights: map[string]*flight{}, kept: map[string]keptAnswer{}, callers: ratelimit.NewShares(cfg.PerCaller)}
}

// enterCaller counts an unshared fetch of caller, false when it runs its
// PerCaller share already (an unnamed caller is not counted); leaveCaller
// ends it.
func (p *Proxy) enterCaller(caller string) bool {
	return caller == "" || p.callers.Enter(caller)
}

func (p *Proxy) leaveCaller(caller string) {
	if caller != "" {
		p.callers.Leave(caller)
	}
}

// Unreachable reports whether cause (a NoAnswer's) is a failure to
// connect: nothing listens at the peer's address, or it did not take the
// connection in time.
func Unreachable(cause error) bool {
	var op *net.OpError
	return errors.As(cause, &op) && op.Op == "dial"
}

// Serve answers r with the peer's answer for f.
func (p *Proxy) Serve(w http.ResponseWriter, r *http.Request, f Fetch) {
	u, key := p.target(r, f)
	if f.Key != "" {
		p.shared(w, r, f, u, key)
		return
	}
	if !p.enterCaller(f.Caller) {
		f.Fail(w, Busy, nil)
		return
	}
	defer p.leaveCaller(f.Caller)
	select {
	case p.slots <- struct{}{}:
		defer func() { <-p.slots }()
	default:
		f.Fail(w, Busy, nil)
		return
	}
	ctx, cancel := p.context(r.Context())
	defer cancel()
	res, err := p.get(ctx, r, u)
	if err != nil {
		f.Fail(w, NoAnswer, err)
		return
	}
	defer res.Body.Close()
	if fail, cause := p.judge(res); fail != 0 {
		f.Fail(w, fail, cause)
		return
	}
	if res.StatusCode == http.StatusNotFound && f.NotFound != nil {
		f.NotFound(w, r)
		return
	}
	p.header(w, res.Header, res.StatusCode)
	w.WriteHeader(res.StatusCode)
	body := io.Reader(&idleReader{r: res.Body, t: time.AfterFunc(p.cfg.Idle, cancel), d: p.cfg.Idle})
	if p.cfg.MaxBody > 0 {
		body = io.LimitReader(body, p.cfg.MaxBody+1)
	}
	n, err := io.Copy(w, body)
	if (err != nil || p.cfg.MaxBody > 0 && n > p.cfg.MaxBody) && r.Context().Err() == nil {
		// The peer went away mid-answer, stalled, or sent too much: cut
		// this answer short too.
		panic(http.ErrAbortHandler)
	}
}

// target is the URL with the passed query parameters, and the key of
// what it asks for (f.Key, those parameters and the passed headers).
func (p *Proxy) target(r *http.Request, f Fetch) (string, string) {
	q := url.Values{}
	for _, k := range p.cfg.Query {
		if v := r.URL.Query().Get(k); v != "" {
			q.Set(k, v)
		}
	}
	u, key := f.URL, f.Key
	if r.Method == http.MethodHead {
		key = "HEAD " + key // an answer without its body
	}
	if len(q) > 0 {
		u += "&" + q.Encode()
		key += "?" + q.Encode()
	}
	for _, h := range p.cfg.Request {
		if v := r.Header.Get(h); v != "" {
			key += "\n" + h + ": " + v
		}
	}
	return u, key
}

func (p *Proxy) context(parent context.Context) (context.Context, context.CancelFunc) {
	if p.cfg.Timeout > 0 {
		return context.WithTimeout(parent, p.cfg.Timeout)
	}
	return context.WithCancel(parent)
}

// get asks the peer for u: a HEAD as a HEAD (its headers, no body to
// fetch and throw away), anything else as a GET.
func (p *Proxy) get(ctx context.Context, r *http.Request, u string) (*http.Response, error) {
	method := http.MethodGet
	if r.Method == http.MethodHead {
		method = http.MethodHead
	}
	req, err := http.NewRequestWithContext(ctx, method, u, nil)
	if err != nil {
		return nil, err
	}
	for _, h := range p.cfg.Request {
		if v := r.Header.Get(h); v != "" {
			req.Header.Set(h, v)
		}
	}
	return p.client.Do(req)
}

// judge is the failure an answer is, if any.
func (p *Proxy) judge(res *http.Response) (Failure, error) {
	switch {
	case res.StatusCode == http.StatusServiceUnavailable:
		return PeerBusy, &StatusError{Status: res.StatusCode}
	case res.StatusCode == http.StatusForbidden && p.cfg.ForbiddenFails:
		return Refused, &StatusError{Status: res.StatusCode}
	case res.StatusCode >= 500:
		return Failed, &StatusError{Status: res.StatusCode}
	case p.cfg.MaxBody > 0 && res.ContentLength > p.cfg.MaxBody:
		return TooLarge, &StatusError{Status: res.StatusCode, Bytes: res.ContentLength}
	}
	return 0, nil
}

// StatusError is the cause of a Failed, PeerBusy, Refused or TooLarge
// fetch.
type StatusError struct {
	Status int
	Bytes  int64 // the answer's size, when known (TooLarge)
}

func (e *StatusError) Error() string {
	if e.Bytes > 0 {
		return "peer answer of " + http.StatusText(e.Status) + " too large"
	}
	return "peer answered " + http.StatusText(e.Status)
}

// header passes the peer's answer headers on. A Content-Disposition the
// handler set already (its own name for the file) is kept, and an error
// answer carries none: it is not the file.
func (p *Proxy) header(w http.ResponseWriter, h http.Header, status int) {
	if status >= 400 {
		w.Header().Del("Content-Disposition")
	}
	for _, k := range p.cfg.Answer {
		if k == "Content-Disposition" && (status >= 400 || w.Header().Get(k) != "") {
			continue
		}
		if v := h.Get(k); v != "" {
			w.Header().Set(k, v)
		}
	}
}

// idleReader cancels the fetch (t's function) when the peer sends nothing
// for d while it is waited for.
type idleReader struct {
	r io.Reader
	t *time.Timer
	d time.Duration
}

func (i *idleReader) Read(b []byte) (int, error) {
	i.t.Reset(i.d)
	n, err := i.r.Read(b)
	i.t.Stop()
	return n, err
}

// flight is one fetch shared by identical requests: its answer, held in
// memory until every request sharing it has written it.
type flight struct {
	done   chan struct{}
	joined int // requests waiting on it besides the fetching one
	fail   Failure
	status int
	header http.Header
	body   []byte
	// left counts the requests still to write the answer once the fetch
	// ended (Proxy.mu); the last gives held back to the proxy's memory.
	left int
	held int64 // the capacity of body's buffer, counted in Proxy.memory

}

func (p *Proxy) shared(w http.ResponseWriter, r *http.Request, f Fetch, u, key string) {
	p.mu.Lock()
	if k, ok := p.kept[key]; ok {
		if p.cfg.Now().Before(k.until) {
			k.fl.left++ // this request's reference, given back by answer
			p.mu.Unlock()
			p.answer(w, r, f, k.fl, nil)
			return
		}
		delete(p.kept, key)
		p.mu.Unlock()
		p.leave(k.fl)
		p.mu.Lock()
	}
	fl := p.flights[key]
	if fl != nil {
		fl.joined++
		p.mu.Unlock()
		select {
		case <-fl.done:
		case <-r.Context().Done():
			p.leave(fl)
			return
		}
		p.answer(w, r, f, fl, nil)
		return
	}
	select {
	case p.slots <- struct{}{}:
	default:
		p.mu.Unlock()
		f.Fail(w, Busy, nil)
		return
	}
	fl = &flight{done: make(chan struct{})}
	p.flights[key] = fl
	p.mu.Unlock()

	// The fetch outlives this request's client: others wait on it.
	ctx, cancel := p.context(context.WithoutCancel(r.Context()))
	cause := p.fill(ctx, cancel, r, u, fl)
	cancel()
	p.mu.Lock()
	delete(p.flights, key)
	fl.left = fl.joined + 1
	if f.Keep > 0 && fl.fail == 0 && (fl.status == http.StatusOK || fl.status == http.StatusPartialContent) {
		p.keep(key, fl, f.Keep)
	}
	p.mu.Unlock()
	<-p.slots
	close(fl.done)
	p.answer(w, r, f, fl, cause)
}

// keep (with p.mu held) keeps fl's answer for later requests of key,
// after dropping the kept answers that are past their time. The kept
// answer holds one of fl's references.
func (p *Proxy) keep(key string, fl *flight, d time.Duration) {
	now := p.cfg.Now()
	var gone []*flight
	for k, a := range p.kept {
		if !now.Before(a.until) {
			delete(p.kept, k)
			gone = append(gone, a.fl)
		}
	}
	if len(p.kept) < maxKept {
		fl.left++
		p.kept[key] = keptAnswer{fl: fl, until: now.Add(d)}
	}
	for _, g := range gone {
		p.leaveLocked(g)
	}
}

// dropKept drops the kept answer that ends first and reports whether there
// was one, so that a fetch may have its memory.
func (p *Proxy) dropKept() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	first := ""
	for k, a := range p.kept {
		if first == "" || a.until.Before(p.kept[first].until) {
			first = k
		}
	}
	if first == "" {
		return false
	}
	fl := p.kept[first].fl
	delete(p.kept, first)
	p.leaveLocked(fl)
	return true
}

// fill fetches u into fl.
func (p *Proxy) fill(ctx context.Context, cancel context.CancelFunc, r *http.Request, u string, fl *flight) error {
	res, err := p.get(ctx, r, u)
	if err != nil {
		fl.fail = NoAnswer
		return err
	}
	defer res.Body.Close()
	if fail, cause := p.judge(res); fail != 0 {
		fl.fail = fail
		return cause
	}
	body := &idleReader{r: res.Body, t: time.AfterFunc(p.cfg.Idle, cancel), d: p.cfg.Idle}
	// The answer's buffer counts within MaxBuffered by its capacity, from
	// before it is made: room for a known length and the read that finds
	// the end, grown by doubling (to the known length or MaxBody at most),
	// the old buffer counting with the new one until copied into it.
	size := min(max(res.ContentLength+1, 512), 1<<20)
	if !p.grab(size) {
		fl.fail = Busy
		return nil
	}
	fl.held = size
	buf := make([]byte, 0, size)
	for {
		if len(buf) == cap(buf) {
			next := 2 * int64(cap(buf))
			if res.ContentLength >= 0 {
				next = min(next, res.ContentLength+1)
			}
			if p.cfg.MaxBody > 0 {
				next = min(next, p.cfg.MaxBody+1)
			}
			next = max(next, int64(cap(buf))+1)
			if !p.grab(next) {
				p.memory.Release(fl.held)
				fl.held, fl.fail = 0, Busy
				return nil
			}
			grown := make([]byte, len(buf), next)
			copy(grown, buf)
			p.memory.Release(fl.held) // the old buffer is garbage now
			buf, fl.held = grown, next
		}
		n, err := body.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if p.cfg.MaxBody > 0 && int64(len(buf)) > p.cfg.MaxBody {
			p.memory.Release(fl.held)
			fl.held, fl.fail = 0, TooLarge
			return &StatusError{Status: res.StatusCode, Bytes: int64(len(buf))}
		}
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			p.memory.Release(fl.held)
			fl.held, fl.fail = 0, NoAnswer
			return err
		}
	}
	fl.status, fl.body, fl.header = res.StatusCode, buf, http.Header{}
	for _, k := range p.cfg.Answer {
		if v := res.Header.Get(k); v != "" {
			fl.header.Set(k, v)
		}
	}
	return nil
}

// grab takes n bytes of the proxy's memory, dropping kept answers (they
// give way to a fetch) while it is short, and reports whether it could.
func (p *Proxy) grab(n int64) bool {
	ok := p.memory.TryAcquire(n)
	for !ok && p.dropKept() {
		ok = p.memory.TryAcquire(n)
	}
	return ok
}

// answer writes fl's outcome for one request sharing it.
func (p *Proxy) answer(w http.ResponseWriter, r *http.Request, f Fetch, fl *flight, cause error) {
	defer p.leave(fl)
	switch {
	case fl.fail != 0:
		f.Fail(w, fl.fail, cause)
	case fl.status == http.StatusNotFound && f.NotFound != nil:
		f.NotFound(w, r)
	default:
		p.header(w, fl.header, fl.status)
		w.WriteHeader(fl.status)
		_, _ = w.Write(fl.body)
	}
}

// leave is one request (or a kept answer) done with fl; the last frees
// its answer.
func (p *Proxy) leave(fl *flight) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.leaveLocked(fl)
}

func (p *Proxy) leaveLocked(fl *flight) {
	if fl.left == 0 {
		fl.joined-- // gave up before the fetch ended
		return
	}
	fl.left--
	if fl.left == 0 && fl.held > 0 {
		p.memory.Release(fl.held)
	}
}

// Waiting is how many requests wait now on a fetch another request
// started (Fetch.Key).
func (p *Proxy) Waiting() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	n := 0
	for _, fl := range p.flights {
		n += fl.joined
	}
	return n
}
