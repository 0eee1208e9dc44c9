package httpserver

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"io"
	"log"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/letsencrypt/pebble/v2/ca"
	"github.com/letsencrypt/pebble/v2/db"
	"github.com/letsencrypt/pebble/v2/va"
	"github.com/letsencrypt/pebble/v2/wfe"
)

// TestACMEAgainstPebble runs Let's Encrypt's test CA (Pebble) in process and
// serves Hearth's listener with --tls-domain's manager: the first TLS
// handshake for "hearth.test" makes the manager order a certificate, Pebble
// validates it with a real TLS-ALPN-01 challenge against that listener, and
// the handshake completes with a certificate chaining to Pebble's root.
func TestACMEAgainstPebble(t *testing.T) {
	t.Setenv("PEBBLE_VA_NOSLEEP", "1") // Pebble otherwise waits up to 15 s before validating
	quiet := log.New(io.Discard, "", 0)

	a, err := NewACME(ACMEConfig{Domains: []string{"hearth.test"}, CacheDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	s, err := New(Config{Addr: "127.0.0.1:0", TLS: a.TLSConfig()}, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	port := s.Addr().(*net.TCPAddr).Port

	store := db.NewMemoryStore()
	authority := ca.New(quiet, store, "", "ecdsa", 0, 1, map[string]ca.Profile{"default": {Description: "default"}})
	// Pebble resolves the name through this DNS server: every A query is
	// answered with 127.0.0.1 (autocert refuses dotless names like localhost).
	// (Pebble's resolver speaks DNS over TCP.)
	dnsLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dnsSrv := &dns.Server{Listener: dnsLn, Handler: dns.HandlerFunc(func(w dns.ResponseWriter, q *dns.Msg) {
		m := new(dns.Msg)
		m.SetReply(q)
		for _, qq := range q.Question {
			if qq.Qtype == dns.TypeA {
				m.Answer = append(m.Answer, &dns.A{Hdr: dns.RR_Header{Name: qq.Name, Rrtype: dns.TypeA, Class: dns.ClassINET, Ttl: 60}, A: net.IPv4(127, 0, 0, 1)})
			}
		}
		_ = w.WriteMsg(m)
	})}
	go func() { _ = dnsSrv.ActivateAndServe() }()
	defer dnsSrv.Shutdown()
	validator := va.New(quiet, 0, port, false, dnsLn.Addr().String(), store)
	front := wfe.New(quiet, store, validator, authority, nil, false, false, 0, 0)
	pebble := httptest.NewTLSServer(front.Handler())
	defer pebble.Close()
	a.m.Client.DirectoryURL = pebble.URL + "/dir"
	a.m.Client.HTTPClient = pebble.Client()

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	defer func() { cancel(); <-done }()

	roots := x509.NewCertPool()
	roots.AddCert(authority.GetRootCert(0).Cert)
	client := &http.Client{Timeout: 2 * time.Minute, Transport: &http.Transport{
		TLSClientConfig: &tls.Config{ServerName: "hearth.test", RootCAs: roots},
		DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, network, s.Addr().String())
		},
	}}
	if s.URL()[:8] != "https://" {
		t.Fatalf("URL = %s, want https", s.URL())
	}
	// The first handshake waits for the order; the server cuts a handshake
	// at its header deadline (10 s), which a loaded machine's order can
	// outlast (seen in CI: EOF after 16 s). The order goes on without the
	// connection, so ask again until the certificate is there.
	var resp *http.Response
	for deadline := time.Now().Add(2 * time.Minute); ; {
		resp, err = client.Get("https://hearth.test:" + itoa(port) + "/healthz")
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("HTTPS request with a certificate from the ACME CA: %v", err)
		}
		time.Sleep(500 * time.Millisecond)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status %d", resp.StatusCode)
	}
	if got := resp.TLS.PeerCertificates[0].DNSNames; len(got) != 1 || got[0] != "hearth.test" {
		t.Errorf("certificate names %v, want [hearth.test]", got)
	}

	// Names outside --tls-domain get no certificate (and no order at the CA).
	_, err = tls.Dial("tcp", s.Addr().String(), &tls.Config{ServerName: "other.example", RootCAs: roots})
	if err == nil {
		t.Error("a handshake for a name outside --tls-domain succeeded")
	}
}

func itoa(n int) string { return (&net.TCPAddr{Port: n}).String()[1:] }
