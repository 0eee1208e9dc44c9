// Package directory lists the stage in an Owncast directory (YP), as
// Owncast's config/directoryenabled does: while the setting is on and the
// server URL is set, the server pings <directory>/api/ping with its URL and
// the registration key the directory gave it; the directory then reads the
// public /api/yp document. /api/admin/yp/reset forgets the key, so the
// next ping registers afresh.
package directory

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/hearth-community/hearth/internal/fault"
)

// KeyName is the instance value holding the registration key.
const KeyName = "owncast.directory.key"

// Store keeps the registration key.
type Store interface {
	InstanceValue(ctx context.Context, key string) (string, error)
	SetInstanceValue(ctx context.Context, key, value string) error
}

// Doer sends requests: the egress client.
type Doer interface {
	Do(req *http.Request) (*http.Response, error)
}

// Config configures the pinger.
type Config struct {
	// URL is the directory's base URL (Owncast's is
	// https://directory.owncast.online).
	URL string
	// Interval between pings; default 4 minutes.
	Interval time.Duration
	// Settings returns whether the directory is enabled and the server URL.
	Settings func() (enabled bool, serverURL string)
	// Claim reports whether this node sends the ping of a round (once per
	// cluster); nil: always.
	Claim func(ctx context.Context, key string) (bool, error)
}

// Service pings the directory.
type Service struct {
	cfg    Config
	st     Store
	client Doer
	log    *slog.Logger
	now    func() time.Time
}

// New builds the service.
func New(cfg Config, st Store, client Doer, log *slog.Logger) (*Service, error) {
	if st == nil || client == nil || cfg.Settings == nil {
		return nil, errors.New("directory: store, client and settings are required")
	}
	u, err := url.Parse(cfg.URL)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return nil, fmt.Errorf("directory: URL %q must be an http(s) URL", cfg.URL)
	}
	cfg.URL = strings.TrimRight(cfg.URL, "/")
	if cfg.Interval <= 0 {
		cfg.Interval = 4 * time.Minute
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Service{cfg: cfg, st: st, client: client, log: log.With("component", "directory"), now: time.Now}, nil
}

// Run pings every interval until ctx ends.
func (s *Service) Run(ctx context.Context) error {
	t := time.NewTicker(s.cfg.Interval)
	defer t.Stop()
	for {
		if err := s.Ping(ctx); err != nil {
			s.log.Warn("directory ping", "err", err)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// Ping sends one ping if the directory is enabled (and this node won the
// round).
func (s *Service) Ping(ctx context.Context) error {
	enabled, serverURL := s.cfg.Settings()
	if !enabled || serverURL == "" {
		return nil
	}
	if s.cfg.Claim != nil {
		round := s.now().UTC().Truncate(s.cfg.Interval).Format(time.RFC3339)
		if ok, err := s.cfg.Claim(ctx, "yp:"+round); err != nil || !ok {
			return err
		}
	}
	key, err := s.st.InstanceValue(ctx, KeyName)
	if err != nil && !errors.Is(err, fault.NotFound) {
		return err
	}
	body, _ := json.Marshal(map[string]string{"key": key, "url": serverURL})
	rctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(rctx, http.MethodPost, s.cfg.URL+"/api/ping", bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := s.client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	var out struct {
		Success bool   `json:"success"`
		Error   string `json:"error"`
		Key     string `json:"key"`
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, 64<<10)).Decode(&out); err != nil {
		return fmt.Errorf("directory answered %d with no JSON: %w", resp.StatusCode, err)
	}
	if !out.Success {
		return fmt.Errorf("directory refused the ping: %s", out.Error)
	}
	if out.Key != "" && out.Key != key {
		return s.st.SetInstanceValue(ctx, KeyName, out.Key)
	}
	return nil
}

// Reset forgets the registration key (/api/admin/yp/reset).
func (s *Service) Reset(ctx context.Context) error {
	return s.st.SetInstanceValue(ctx, KeyName, "")
}
