// Package egress is Hearth's one outbound HTTP client for URLs that users
// supply: webhooks, video metadata, link previews, federation. It exists so
// that none of those can be turned into server-side request forgery (SSRF)
// against loopback, the private network or a cloud metadata service.
//
// The protections, and the advisories they answer (research/perf.md §6.2):
//
//   - The address is checked at dial time, in net.Dialer.ControlContext, which
//     sees the IP actually being connected to after DNS resolution. A name
//     that resolves, or re-resolves (DNS rebinding), to an internal address is
//     refused. Checking the hostname before the request is not enough
//     (Synapse #4242, item 20).
//   - Refused: loopback, private, link-local (cloud metadata), unspecified,
//     multicast, broadcast, CGNAT, benchmarking, documentation and other
//     special-purpose ranges, and the IPv4-mapped and NAT64 forms of those
//     (CVE-2026-2455, item 12). See addr.go for the tables.
//   - Only http and https; no userinfo; no ambiguous numeric hosts such as
//     "2130706433" or "0177.0.0.1" (CheckURL).
//   - Every redirect hop is re-validated, and the number of hops is capped
//     (CVE-2026-40168, item 21). The dial check applies to every hop too.
//   - Response bodies are capped: reading past MaxBodyBytes is an error
//     (ErrBodyTooLarge), never a silent truncation. The cap counts decoded
//     bytes, so a compressed bomb is stopped as well.
//   - One total time limit covers connecting, redirects and reading the body.
//   - Proxies from the environment are ignored: a proxy would make the
//     connection to itself, bypassing the dial check.
//
// Ports are not restricted: a public host may serve HTTP on any port, and the
// address check already keeps requests off internal hosts.
//
// Errors wrap ErrForbiddenAddress or ErrInvalidURL when the target is
// refused; a surface maps both to a 4xx. ErrBodyTooLarge and
// ErrTooManyRedirects mean the remote misbehaved.
package egress

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"syscall"
	"time"
)

// Errors. They are wrapped; test with errors.Is.
var (
	// ErrForbiddenAddress: the target address (literal, resolved, or reached
	// by a redirect) is in a refused range.
	ErrForbiddenAddress = errors.New("egress: forbidden address")
	// ErrInvalidURL: not an absolute http(s) URL Hearth will fetch (bad
	// scheme, userinfo, empty host, bad port).
	ErrInvalidURL = errors.New("egress: invalid URL")
	// ErrBodyTooLarge: the response body is longer than MaxBodyBytes.
	ErrBodyTooLarge = errors.New("egress: response body too large")
	// ErrTooManyRedirects: more than MaxRedirects redirects.
	ErrTooManyRedirects = errors.New("egress: too many redirects")
)

// Defaults for zero Config fields.
const (
	DefaultTimeout      = 10 * time.Second
	DefaultMaxBodyBytes = 5 << 20 // 5 MiB
	DefaultMaxRedirects = 5
	DefaultUserAgent    = "Hearth (+https://github.com/hearth-community/hearth)"

	// maxHeaderBytes caps response headers (the body cap does not cover them).
	maxHeaderBytes = 256 << 10
)

// Config configures a Client. The zero value is usable and safe.
type Config struct {
	// Timeout caps the whole exchange: dial, TLS, every redirect and reading
	// the body. Zero means DefaultTimeout.
	Timeout time.Duration
	// MaxBodyBytes caps the (decoded) response body. Zero means
	// DefaultMaxBodyBytes.
	MaxBodyBytes int64
	// MaxRedirects caps redirect hops. Zero means DefaultMaxRedirects; a
	// negative value follows no redirects (a redirect is then an error).
	MaxRedirects int
	// UserAgent is sent when the request has none. Empty means
	// DefaultUserAgent.
	UserAgent string
	// AllowPrivate lets requests reach the private-use ranges 10/8,
	// 172.16/12, 192.168/16, 100.64/10 and fc00::/7. Operator opt-in, off by
	// default. Loopback, link-local and cloud metadata addresses stay refused.
	AllowPrivate bool
	// AllowAddr, if set, is asked first about every address and port about
	// to be dialled (and every IP-literal URL); returning true allows it
	// whatever the other rules say. It exists for tests (to reach an
	// httptest server on loopback) and for operators who must reach one
	// specific internal service. Keep it as narrow as possible.
	AllowAddr func(netip.AddrPort) bool
	// Resolver resolves host names. Nil means net.DefaultResolver. Whatever
	// it returns, the address is checked at dial time.
	Resolver *net.Resolver
}

// Client is the SSRF-safe outbound HTTP client. It is safe for concurrent use.
type Client struct {
	policy       addrPolicy
	maxBody      int64
	maxRedirects int
	userAgent    string
	transport    *http.Transport
	http         *http.Client
}

// Response is a fetched response whose body has been read in full (within
// MaxBodyBytes).
type Response struct {
	StatusCode int
	Header     http.Header
	Body       []byte
	// URL is the final URL, after redirects.
	URL *url.URL
}

// New builds a Client.
func New(cfg Config) (*Client, error) {
	if cfg.Timeout < 0 {
		return nil, fmt.Errorf("egress: negative Timeout %s", cfg.Timeout)
	}
	if cfg.MaxBodyBytes < 0 {
		return nil, fmt.Errorf("egress: negative MaxBodyBytes %d", cfg.MaxBodyBytes)
	}
	if cfg.Timeout == 0 {
		cfg.Timeout = DefaultTimeout
	}
	if cfg.MaxBodyBytes == 0 {
		cfg.MaxBodyBytes = DefaultMaxBodyBytes
	}
	switch {
	case cfg.MaxRedirects == 0:
		cfg.MaxRedirects = DefaultMaxRedirects
	case cfg.MaxRedirects < 0:
		cfg.MaxRedirects = 0
	}
	if cfg.UserAgent == "" {
		cfg.UserAgent = DefaultUserAgent
	}

	c := &Client{
		policy:       addrPolicy{allowPrivate: cfg.AllowPrivate, allowAddr: cfg.AllowAddr},
		maxBody:      cfg.MaxBodyBytes,
		maxRedirects: cfg.MaxRedirects,
		userAgent:    cfg.UserAgent,
	}
	dialer := &net.Dialer{
		Timeout:        cfg.Timeout,
		KeepAlive:      30 * time.Second,
		Resolver:       cfg.Resolver,
		ControlContext: c.control,
	}
	c.transport = &http.Transport{
		Proxy:                  nil, // never from the environment: a proxy bypasses the dial check
		DialContext:            dialer.DialContext,
		ForceAttemptHTTP2:      true,
		MaxIdleConns:           100,
		MaxIdleConnsPerHost:    4,
		IdleConnTimeout:        90 * time.Second,
		TLSHandshakeTimeout:    cfg.Timeout,
		ResponseHeaderTimeout:  cfg.Timeout,
		ExpectContinueTimeout:  time.Second,
		MaxResponseHeaderBytes: maxHeaderBytes,
	}
	c.http = &http.Client{
		Transport:     c.transport,
		CheckRedirect: c.checkRedirect,
		Timeout:       cfg.Timeout,
	}
	return c, nil
}

// control runs after the socket is created and before connect(2), with the
// numeric address actually being connected to. This is the check that DNS
// rebinding cannot get round.
func (c *Client) control(_ context.Context, network, address string, _ syscall.RawConn) error {
	switch network {
	case "tcp", "tcp4", "tcp6":
	default:
		return fmt.Errorf("%w: network %q", ErrForbiddenAddress, network)
	}
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return fmt.Errorf("%w: unparsable dial address %q", ErrForbiddenAddress, address)
	}
	return c.policy.check(ap)
}

func (c *Client) checkRedirect(req *http.Request, via []*http.Request) error {
	if len(via) > c.maxRedirects {
		return fmt.Errorf("%w: more than %d", ErrTooManyRedirects, c.maxRedirects)
	}
	if err := checkURL(req.URL, c.policy); err != nil {
		return fmt.Errorf("redirect to %s: %w", req.URL.Redacted(), err)
	}
	return nil
}

// Do sends req after validating its URL. Redirects are followed under the
// same rules. The returned response's Body returns an error wrapping
// ErrBodyTooLarge once more than MaxBodyBytes have been read; a response that
// declares a longer Content-Length is refused up front. The caller closes
// the Body, as with net/http.
func (c *Client) Do(req *http.Request) (*http.Response, error) {
	if req == nil {
		return nil, fmt.Errorf("%w: nil request", ErrInvalidURL)
	}
	if err := checkURL(req.URL, c.policy); err != nil {
		return nil, err
	}
	if req.Header.Get("User-Agent") == "" {
		req = req.Clone(req.Context())
		req.Header.Set("User-Agent", c.userAgent)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		if resp != nil && resp.Body != nil {
			_ = resp.Body.Close()
		}
		return nil, fmt.Errorf("egress: %w", err)
	}
	if resp.ContentLength > c.maxBody {
		_ = resp.Body.Close()
		return nil, fmt.Errorf("%w: Content-Length %d exceeds %d", ErrBodyTooLarge, resp.ContentLength, c.maxBody)
	}
	resp.Body = &cappedBody{rc: resp.Body, left: c.maxBody, max: c.maxBody}
	return resp, nil
}

// Get fetches rawURL and reads the whole body (at most MaxBodyBytes). A
// non-2xx status is not an error: the caller reads StatusCode.
func (c *Client) Get(ctx context.Context, rawURL string) (*Response, error) {
	u, err := c.CheckURL(rawURL)
	if err != nil {
		return nil, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidURL, err)
	}
	resp, err := c.Do(req)
	if err != nil {
		return nil, err
	}
	defer func() { _ = resp.Body.Close() }()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, fmt.Errorf("egress: reading body of %s: %w", u.Redacted(), err)
	}
	return &Response{StatusCode: resp.StatusCode, Header: resp.Header, Body: body, URL: resp.Request.URL}, nil
}

// CloseIdleConnections closes kept-alive connections (for shutdown and tests).
func (c *Client) CloseIdleConnections() {
	c.transport.CloseIdleConnections()
}

// cappedBody returns the underlying body's bytes up to max, then an error
// wrapping ErrBodyTooLarge if any byte remains.
type cappedBody struct {
	rc   io.ReadCloser
	left int64
	max  int64
	err  error // sticky ErrBodyTooLarge
}

func (b *cappedBody) Read(p []byte) (int, error) {
	if b.err != nil {
		return 0, b.err
	}
	if b.left <= 0 {
		// At the cap: the body is fine only if it ends here.
		var one [1]byte
		for range 100 {
			n, err := b.rc.Read(one[:])
			if n > 0 {
				b.err = fmt.Errorf("%w: more than %d bytes", ErrBodyTooLarge, b.max)
				return 0, b.err
			}
			if err != nil {
				return 0, err
			}
		}
		return 0, io.ErrNoProgress
	}
	if int64(len(p)) > b.left {
		p = p[:b.left]
	}
	n, err := b.rc.Read(p)
	b.left -= int64(n)
	return n, err
}

func (b *cappedBody) Close() error {
	return b.rc.Close()
}
