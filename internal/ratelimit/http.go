package ratelimit

import (
	"math"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"time"
)

// Header names set by Middleware and SetHeaders.
const (
	HeaderLimit      = "X-RateLimit-Limit"
	HeaderRemaining  = "X-RateLimit-Remaining"
	HeaderReset      = "X-RateLimit-Reset"
	HeaderRetryAfter = "Retry-After"
)

// DenyFunc writes the response for a request that was refused. Each surface
// supplies its own, in its own error shape; the rate-limit headers and
// Retry-After are already set on w when it is called, and it must write the
// status (normally 429).
type DenyFunc func(w http.ResponseWriter, r *http.Request, d Decision)

// Middleware charges cost tokens to the bucket of key(r) before each request.
// Every request it charges carries X-RateLimit-Limit, X-RateLimit-Remaining
// and X-RateLimit-Reset (see SetHeaders); a refused one also gets
// Retry-After (whole seconds, at least 1) and is answered by deny, and the
// next handler is not called. A nil deny writes a plain-text 429.
//
// key returning "" exempts the request (e.g. moderators, who skip Owncast's
// chat limit): it passes without a charge or headers. Key functions must
// therefore never return "" for an ordinary client; ClientIP never does for a
// request from net/http.
//
// A nil l or key is a wiring bug; rather than silently letting everything
// through (OTT PR #805's failure), such a middleware answers 500.
//
// Routes whose cost depends on the request body (OTT charges 3 per queued
// video) call l.Allow themselves and then SetHeaders / SetRetryAfter.
func Middleware(l *Limiter, key func(*http.Request) string, cost int, deny DenyFunc) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if l == nil || key == nil {
				http.Error(w, "rate limiter not configured", http.StatusInternalServerError)
				return
			}
			k := key(r)
			if k == "" {
				next.ServeHTTP(w, r)
				return
			}
			d := l.Allow(k, cost)
			SetHeaders(w.Header(), d)
			if !d.Allowed {
				SetRetryAfter(w.Header(), d)
				if deny == nil {
					http.Error(w, http.StatusText(http.StatusTooManyRequests), http.StatusTooManyRequests)
					return
				}
				deny(w, r, d)
				return
			}
			next.ServeHTTP(w, r)
		})
	}
}

// SetHeaders sets X-RateLimit-Limit, X-RateLimit-Remaining and
// X-RateLimit-Reset as OpenTogetherTube does (server/rate-limit.ts): the
// limit is the bucket's capacity, remaining is what is left after this
// request, and reset is when the bucket is full again, written the way
// JavaScript's Date.prototype.toString writes it in UTC
// ("Tue Jul 21 2026 14:03:00 GMT+0000 (Coordinated Universal Time)"),
// which is what OTT's Express server sends.
func SetHeaders(h http.Header, d Decision) {
	h.Set(HeaderLimit, strconv.Itoa(d.Limit))
	h.Set(HeaderRemaining, strconv.Itoa(max(d.Remaining, 0)))
	h.Set(HeaderReset, FormatReset(d.Reset))
}

// SetRetryAfter sets Retry-After to RetryAfterSeconds(d).
func SetRetryAfter(h http.Header, d Decision) {
	h.Set(HeaderRetryAfter, strconv.Itoa(RetryAfterSeconds(d)))
}

// RetryAfterSeconds is d.RetryAfter in whole seconds, rounded up and at least
// 1 (OTT sends at least 1; rounding up means a client that waits exactly that
// long is allowed).
func RetryAfterSeconds(d Decision) int {
	s := math.Ceil(d.RetryAfter.Seconds())
	if s < 1 {
		return 1
	}
	if s > math.MaxInt32 {
		return math.MaxInt32
	}
	return int(s)
}

// jsDateLayout is JavaScript's Date.prototype.toString in UTC.
const jsDateLayout = "Mon Jan 02 2006 15:04:05 GMT-0700"

// FormatReset writes t as JavaScript's Date.prototype.toString does for a
// UTC server, the X-RateLimit-Reset format of OpenTogetherTube.
func FormatReset(t time.Time) string {
	return t.UTC().Format(jsDateLayout) + " (Coordinated Universal Time)"
}

// ClientIP returns the client's IP address for rate limiting and bans.
//
// With trustProxy false it is the peer address of the connection
// (r.RemoteAddr). With trustProxy true (Hearth runs behind one reverse proxy
// that the operator controls, config --trust-proxy) it is the last address in
// X-Forwarded-For: the one that proxy appended. Earlier entries are written by
// the client and are not believed. If the header is absent or its last entry
// is not an address, the peer address is used.
//
// IPv4-mapped IPv6 addresses are returned as IPv4 and zones are dropped. If
// RemoteAddr is not an address at all it is returned as it is, so the result
// is never empty for a request served by net/http.
func ClientIP(r *http.Request, trustProxy bool) string {
	if trustProxy {
		if a, ok := lastForwardedFor(r.Header.Values("X-Forwarded-For")); ok {
			return a.String()
		}
	}
	if a, ok := remoteAddr(r.RemoteAddr); ok {
		return a.String()
	}
	return r.RemoteAddr
}

// IPKey returns a key function for Middleware that limits by client IP:
// "ip:" followed by the IPv4 address, or by the IPv6 /64 prefix, since one
// IPv6 subscriber normally holds a whole /64 and could otherwise rotate
// through fresh buckets.
func IPKey(trustProxy bool) func(*http.Request) string {
	return func(r *http.Request) string {
		return AddrKey(ClientIP(r, trustProxy))
	}
}

// AddrKey is the bucket key of a client address as ClientIP returns it:
// "ip:" followed by the IPv4 address, or by the IPv6 /64 prefix. Anything
// that is not an address is kept as it is, after the prefix.
func AddrKey(addr string) string {
	a, err := netip.ParseAddr(addr)
	if err != nil {
		return "ip:" + addr
	}
	a = a.Unmap().WithZone("")
	if a.Is6() {
		p, err := a.Prefix(64)
		if err == nil {
			return "ip:" + p.String()
		}
	}
	return "ip:" + a.String()
}

func lastForwardedFor(values []string) (netip.Addr, bool) {
	for i := len(values) - 1; i >= 0; i-- {
		v := strings.TrimSpace(values[i])
		if v == "" {
			continue
		}
		if j := strings.LastIndexByte(v, ','); j >= 0 {
			v = strings.TrimSpace(v[j+1:])
		}
		return parseHostMaybePort(v)
	}
	return netip.Addr{}, false
}

func remoteAddr(s string) (netip.Addr, bool) {
	return parseHostMaybePort(s)
}

// parseHostMaybePort accepts "1.2.3.4", "1.2.3.4:5", "::1", "[::1]" and
// "[::1]:5".
func parseHostMaybePort(s string) (netip.Addr, bool) {
	if a, err := netip.ParseAddr(s); err == nil {
		return a.Unmap().WithZone(""), true
	}
	if host, _, err := net.SplitHostPort(s); err == nil {
		s = host
	} else {
		s = strings.TrimSuffix(strings.TrimPrefix(s, "["), "]")
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Addr{}, false
	}
	return a.Unmap().WithZone(""), true
}
