package httpserver

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"golang.org/x/crypto/acme"
	"golang.org/x/crypto/acme/autocert"
)

// ACMEConfig is built-in TLS for a single binary with no proxy in front:
// certificates for Domains from an ACME CA (Let's Encrypt by default),
// cached in CacheDir.
type ACMEConfig struct {
	Domains      []string
	Email        string
	CacheDir     string
	DirectoryURL string       // "": Let's Encrypt's production directory
	HTTPClient   *http.Client // for talking to the CA; nil: http.DefaultClient (tests pass a client that trusts their CA)
}

// ACME is a certificate manager answering TLS-ALPN-01 challenges on the
// HTTPS listener and HTTP-01 challenges on the plain-HTTP one.
type ACME struct {
	m *autocert.Manager
}

// NewACME checks the config and builds the manager.
func NewACME(cfg ACMEConfig) (*ACME, error) {
	if len(cfg.Domains) == 0 {
		return nil, errors.New("--tls-domain: at least one domain name")
	}
	if cfg.CacheDir == "" {
		return nil, errors.New("acme: a cache directory is required")
	}
	m := &autocert.Manager{
		Prompt:     autocert.AcceptTOS,
		Cache:      autocert.DirCache(cfg.CacheDir),
		HostPolicy: autocert.HostWhitelist(cfg.Domains...),
		Email:      cfg.Email,
	}
	m.Client = &acme.Client{DirectoryURL: cfg.DirectoryURL, HTTPClient: cfg.HTTPClient}
	if m.Client.DirectoryURL == "" {
		m.Client.DirectoryURL = autocert.DefaultACMEDirectory
	}
	return &ACME{m: m}, nil
}

// TLSConfig is the HTTPS listener's TLS configuration (HTTP/2, TLS-ALPN-01).
func (a *ACME) TLSConfig() *tls.Config {
	c := a.m.TLSConfig()
	c.MinVersion = tls.VersionTLS12
	return c
}

// RunHTTP serves HTTP-01 challenges on addr and redirects every other
// request to HTTPS, until ctx is cancelled.
func (a *ACME) RunHTTP(ctx context.Context, addr string, logger *slog.Logger) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("--tls-http-addr %s: %w", addr, err)
	}
	srv := &http.Server{Handler: a.m.HTTPHandler(nil), ReadHeaderTimeout: 10 * time.Second,
		ErrorLog: slog.NewLogLogger(logger.Handler(), slog.LevelWarn)}
	logger.Info("ACME HTTP-01 and HTTPS redirect listening", "addr", ln.Addr().String())
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return fmt.Errorf("acme http: %w", err)
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	return srv.Shutdown(sctx)
}
