package egress

import (
	"errors"
	"strings"
	"testing"
)

// TestCheckURL is the pre-validation of user-supplied URLs.
//
// Advisories (perf.md §6.2):
//   - item 12, CVE-2026-2455: [::ffff:127.0.0.1], [::ffff:169.254.169.254],
//     IPv6 loopback, decimal/octal/hex IPv4, 0.0.0.0;
//   - item 4, Owncast #3014 (blind SSRF) and item 11 (OTT "direct" video URLs
//     fetched with no private-address filter): metadata and internal targets;
//   - item 5, CVE-2023-46480 (Owncast authHost): auth-provider URLs pointing at
//     loopback and metadata addresses;
//   - item 8, OTT cdfb3fdc (URL into an ffprobe shell string): URLs that are
//     not http(s), or that start with "-", never pass; what passes prints as
//     "http(s)://…".
func TestCheckURL(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		raw  string
		want error // nil, ErrInvalidURL or ErrForbiddenAddress
	}{
		{"public https", "https://example.com/watch?v=1", nil},
		{"public http with port", "http://example.com:8443/a", nil},
		{"public IPv4 literal", "http://8.8.8.8/", nil},
		{"public IPv6 literal", "http://[2606:4700:4700::1111]/", nil},
		{"uppercase scheme", "HTTPS://example.com/", nil},
		{"trailing dot name", "https://example.com./", nil},
		{"digits inside a name", "https://1password.com/", nil},
		{"hex-looking label not last", "https://0x7f.example.com/", nil},
		{"shell characters in path are data", "https://example.com/$(id)`id`;rm", nil},

		// item 12: loopback and metadata in every spelling.
		{"loopback", "http://127.0.0.1/", ErrForbiddenAddress},
		{"loopback trailing dot", "http://127.0.0.1./", ErrForbiddenAddress},
		{"loopback percent-encoded", "http://%31%32%37.0.0.1/", ErrInvalidURL}, // net/url refuses escapes in a host
		{"IPv4-mapped loopback", "http://[::ffff:127.0.0.1]/", ErrForbiddenAddress},
		{"IPv4-mapped loopback hex", "http://[::ffff:7f00:1]/", ErrForbiddenAddress},
		{"IPv4-mapped metadata", "http://[::ffff:169.254.169.254]/latest/meta-data/", ErrForbiddenAddress},
		{"IPv6 loopback", "http://[::1]:8080/", ErrForbiddenAddress},
		{"IPv6 unspecified", "http://[::]/", ErrForbiddenAddress},
		{"unspecified", "http://0.0.0.0:8080/", ErrForbiddenAddress},
		{"decimal", "http://2130706433/", ErrForbiddenAddress},
		{"octal", "http://0177.0.0.1/", ErrForbiddenAddress},
		{"octal single", "http://017700000001/", ErrForbiddenAddress},
		{"hex short", "http://0x7f.1/", ErrForbiddenAddress},
		{"hex whole", "http://0x7f000001/", ErrForbiddenAddress},
		{"hex dotted", "http://0x7f.0x0.0x0.0x1/", ErrForbiddenAddress},
		{"short form", "http://127.1/", ErrForbiddenAddress},
		{"short zero", "http://0/", ErrForbiddenAddress},
		{"leading zero octet", "http://127.000.000.001/", ErrForbiddenAddress},
		{"decimal metadata", "http://2852039166/", ErrForbiddenAddress},
		{"NAT64 loopback", "http://[64:ff9b::7f00:1]/", ErrForbiddenAddress},
		{"zoned link-local", "http://[fe80::1%25eth0]/", ErrForbiddenAddress},
		{"localhost", "http://localhost:8080/", ErrForbiddenAddress},
		{"localhost uppercase trailing dot", "http://LOCALHOST./", ErrForbiddenAddress},
		{"sub.localhost", "http://app.localhost/", ErrForbiddenAddress},

		// items 4, 11: metadata and private targets.
		{"metadata", "http://169.254.169.254/latest/meta-data/iam/", ErrForbiddenAddress},
		{"private 10/8", "http://10.0.0.5/admin", ErrForbiddenAddress},
		{"private 192.168", "https://192.168.1.1/", ErrForbiddenAddress},
		{"CGNAT", "http://100.64.0.1/", ErrForbiddenAddress},
		{"ULA", "http://[fd00::1]/", ErrForbiddenAddress},
		{"benchmark", "http://198.18.0.1/", ErrForbiddenAddress},
		{"documentation", "http://192.0.2.10/", ErrForbiddenAddress},
		{"broadcast", "http://255.255.255.255/", ErrForbiddenAddress},
		{"multicast", "http://224.0.0.251/", ErrForbiddenAddress},

		// item 5: auth-provider host fields.
		{"authHost loopback", "http://127.0.0.1:8080/auth", ErrForbiddenAddress},
		{"authHost metadata", "https://169.254.169.254/", ErrForbiddenAddress},

		// Schemes, userinfo, malformed.
		{"file", "file:///etc/passwd", ErrInvalidURL},
		{"gopher", "gopher://127.0.0.1:6379/_FLUSHALL", ErrInvalidURL},
		{"ftp", "ftp://example.com/", ErrInvalidURL},
		{"data", "data:text/plain,hi", ErrInvalidURL},
		{"javascript", "javascript:alert(1)", ErrInvalidURL},
		{"ffmpeg concat", "concat:http://example.com/a|file:///etc/passwd", ErrInvalidURL},
		{"no scheme", "example.com/video.mp4", ErrInvalidURL},
		{"relative", "/video.mp4", ErrInvalidURL},
		{"option injection", "-i /etc/passwd", ErrInvalidURL},
		{"option injection url", "-protocol_whitelist file http://example.com/", ErrInvalidURL},
		{"opaque", "http:example.com", ErrInvalidURL},
		{"userinfo", "http://user:pass@example.com/", ErrInvalidURL},
		{"userinfo trick", "http://example.com@127.0.0.1/", ErrInvalidURL},
		{"empty host", "http:///path", ErrInvalidURL},
		{"port zero", "http://example.com:0/", ErrInvalidURL},
		{"port too big", "http://example.com:65536/", ErrInvalidURL},
		{"empty", "", ErrInvalidURL},
		{"leading space", " http://example.com/", ErrInvalidURL},
		{"control char", "http://exa\x00mple.com/", ErrInvalidURL},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			u, err := CheckURL(tt.raw)
			if tt.want == nil {
				if err != nil {
					t.Fatalf("CheckURL(%q) = %v, want ok", tt.raw, err)
				}
				s := u.String()
				if !strings.HasPrefix(s, "http://") && !strings.HasPrefix(s, "https://") {
					t.Fatalf("CheckURL(%q).String() = %q, want an http(s) prefix", tt.raw, s)
				}
				return
			}
			if !errors.Is(err, tt.want) {
				t.Fatalf("CheckURL(%q) = %v, want %v", tt.raw, err, tt.want)
			}
			if u != nil {
				t.Fatalf("CheckURL(%q) returned a URL with an error", tt.raw)
			}
		})
	}
}

// TestClientCheckURLPolicy: the Client's CheckURL honours AllowPrivate but
// never opens loopback or metadata.
func TestClientCheckURLPolicy(t *testing.T) {
	t.Parallel()
	c, err := New(Config{AllowPrivate: true})
	if err != nil {
		t.Fatal(err)
	}
	for _, raw := range []string{"http://10.1.2.3/", "http://[fd12::1]/", "http://192.168.0.10:8080/"} {
		if _, err := c.CheckURL(raw); err != nil {
			t.Errorf("AllowPrivate: CheckURL(%q) = %v, want ok", raw, err)
		}
	}
	for _, raw := range []string{"http://127.0.0.1/", "http://169.254.169.254/", "http://[fd00:ec2::254]/", "http://[::ffff:127.0.0.1]/"} {
		if _, err := c.CheckURL(raw); !errors.Is(err, ErrForbiddenAddress) {
			t.Errorf("AllowPrivate: CheckURL(%q) = %v, want ErrForbiddenAddress", raw, err)
		}
	}
}
