package httpserver

import (
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/hearth-community/hearth/internal/ratelimit"
)

// DefaultBodyReadTimeout is how long one read of a request body may wait
// for the client's next bytes when Config.BodyReadTimeout is zero.
const DefaultBodyReadTimeout = 30 * time.Second

// DefaultWriteTimeout is how long one write of a response may wait for
// the client to take its bytes when Config.WriteTimeout is zero.
const DefaultWriteTimeout = 30 * time.Second

// MaxRanges is the most byte ranges a Range header may name and still be
// honoured (Apache's MaxRanges default). Past it the header is dropped and
// the whole file is sent, as RFC 9110 §14.2 allows a server to do.
const MaxRanges = 200

// dropManyRanges removes a Range header naming more than MaxRanges ranges
// before any handler sees it. http.ServeContent answers every range it is
// given with a part of its own (ranges that overlap past the file's size
// excepted), so a 1 MiB header of one-byte ranges made a ~12 MiB
// multipart response and ~1.4 s of CPU from any public file (the web app's
// script, the logo, a segment); a file sent whole costs no more than its
// size.
func dropManyRanges(r *http.Request) {
	for _, v := range r.Header.Values("Range") {
		if strings.Count(v, ",") >= MaxRanges {
			r.Header.Del("Range")
			return
		}
	}
}

// ipLimitListener closes connections beyond max open ones per remote IP,
// so one address cannot take every file descriptor of the process with idle
// keep-alive connections or unfinished requests. A connection stops counting
// once it is hijacked (a WebSocket upgrade: each surface bounds its own
// sockets, and an idle one costs a few KiB, see docs/performance.md), and
// loopback is not bounded (a reverse proxy or load tool on the same host
// without --trust-proxy: every connection would share one address). An
// IPv6 client counts by its /64, as the rate limits do: one subscriber
// normally holds the whole prefix and could otherwise open max connections
// from each of its addresses.
type ipLimitListener struct {
	net.Listener
	max   int
	plain bool // no TLS above: a refused client is told why
	// bounded says whether an address is counted: all but loopback
	// (tests count loopback too).
	bounded func(net.IP) bool

	mu    sync.Mutex
	perIP map[string]int
}

func newIPLimitListener(ln net.Listener, max int, plain bool) *ipLimitListener {
	return &ipLimitListener{Listener: ln, max: max, plain: plain, perIP: map[string]int{},
		bounded: func(ip net.IP) bool { return !ip.IsLoopback() }}
}

// refusal is written, unencrypted, to a connection refused for its
// address's count before it is closed.
const refusal = "HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain; charset=utf-8\r\nConnection: close\r\n" +
	"Retry-After: 10\r\nContent-Length: 44\r\n\r\ntoo many open connections from your address"

func (l *ipLimitListener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		if a, ok := c.RemoteAddr().(*net.TCPAddr); ok && !l.bounded(a.IP) {
			return c, nil
		}
		ip := ratelimit.AddrKey(remoteIP(c))
		l.mu.Lock()
		if l.perIP[ip] >= l.max {
			l.mu.Unlock()
			if l.plain {
				_ = c.SetWriteDeadline(time.Now().Add(time.Second))
				_, _ = io.WriteString(c, refusal)
			}
			_ = c.Close()
			continue
		}
		l.perIP[ip]++
		l.mu.Unlock()
		return &countedConn{Conn: c, release: func() { l.release(ip) }}, nil
	}
}

func (l *ipLimitListener) release(ip string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.perIP[ip]--; l.perIP[ip] <= 0 {
		delete(l.perIP, ip)
	}
}

// open is how many connections ip's address (or /64) holds (tests).
func (l *ipLimitListener) open(ip string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.perIP[ratelimit.AddrKey(ip)]
}

// stopCounting releases a hijacked connection's place in its address's
// count (http.Server.ConnState; the connection may be TLS over a counted
// one).
func stopCounting(c net.Conn, state http.ConnState) {
	if state != http.StateHijacked {
		return
	}
	if t, ok := c.(interface{ NetConn() net.Conn }); ok {
		c = t.NetConn()
	}
	if cc, ok := c.(*countedConn); ok {
		cc.once.Do(cc.release)
	}
}

func remoteIP(c net.Conn) string {
	if a, ok := c.RemoteAddr().(*net.TCPAddr); ok {
		return a.IP.String()
	}
	host, _, err := net.SplitHostPort(c.RemoteAddr().String())
	if err != nil {
		return c.RemoteAddr().String()
	}
	return host
}

type countedConn struct {
	net.Conn
	once    sync.Once
	release func()
}

func (c *countedConn) Close() error {
	err := c.Conn.Close()
	c.once.Do(c.release)
	return err
}

// deadlineBody bounds each read of a request body: the connection's read
// deadline is set for the time one read may wait for the client, and
// cleared when the read returns, so the time a handler spends between reads
// (or after the last) is never counted. Without it a client that sends the
// headers and then trickles, or never sends, the body it announced holds
// its connection and handler forever (the server's own deadlines cover
// only the headers).
type deadlineBody struct {
	io.ReadCloser
	rc      *http.ResponseController
	timeout time.Duration
	ended   bool // a read returned io.EOF: nothing is left to read
	failed  bool // a read failed (timed out): waiting again is pointless
}

func (b *deadlineBody) Read(p []byte) (int, error) {
	if b.rc.SetReadDeadline(time.Now().Add(b.timeout)) != nil {
		return b.ReadCloser.Read(p)
	}
	n, err := b.ReadCloser.Read(p)
	_ = b.rc.SetReadDeadline(time.Time{})
	if err == io.EOF {
		b.ended = true
	} else if err != nil {
		b.failed = true
	}
	return n, err
}

// handlerDone bounds what net/http does with a body the handler left
// unread: it reads the rest (up to 256 KiB) before answering, to keep the
// connection, and that read has no deadline of its own, so a handler that
// answers without reading (a refusal, a rate limit) would otherwise wait on
// a client that never sends; after a read that timed out, that discard
// would wait again with no deadline. No read of the body is running once
// the handler has returned and the body has not ended, so the deadline cuts
// only that discard (the next request's header read sets its own).
func (b *deadlineBody) handlerDone() {
	switch {
	case b.failed:
		_ = b.rc.SetReadDeadline(time.Now())
	case !b.ended:
		_ = b.rc.SetReadDeadline(time.Now().Add(b.timeout))
	}
}
