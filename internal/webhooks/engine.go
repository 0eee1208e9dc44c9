package webhooks

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"sync"
	"time"
)

// Engine is Hearth's one webhook delivery engine: a bounded queue, a pool
// of workers, retries with backoff and a per-attempt report, every request
// through the egress client. It knows no payload or signature format: each
// Delivery brings its body and signs its own requests, so Owncast's
// webhooks (Service) and Together's share it and keep their wire formats.
type Engine struct {
	cfg    EngineConfig
	client Doer
	log    *slog.Logger
	now    func() time.Time

	queue chan *Delivery
	wg    sync.WaitGroup
}

// EngineConfig tunes an engine.
type EngineConfig struct {
	Workers   int // concurrent deliveries; default 4
	QueueSize int // pending deliveries before new ones are dropped; default 10000
	// Delays are the waits before each retry: len(Delays)+1 attempts in
	// all. When nil, Attempts tries are made, the first retry after
	// Backoff and each next one after twice the last.
	Delays   []time.Duration
	Attempts int           // default 5
	Backoff  time.Duration // default 2 s
	Timeout  time.Duration // per request; default 15 s
}

// Delivery is one payload for one endpoint.
type Delivery struct {
	URL  string
	Body []byte
	// Sign sets the request's headers (besides Content-Type:
	// application/json) for attempt n, 1-based, sent at t.
	Sign func(h http.Header, n int, t time.Time)
	// Report, when set, is called after every attempt with its outcome
	// (nil on a 2xx answer); final says no retry follows. A delivery
	// dropped because the queue is full is reported once, as final.
	Report func(ctx context.Context, n int, err error, final bool)

	attempt int
}

// ErrQueueFull is reported for a delivery the engine had no room for.
var ErrQueueFull = errors.New("webhooks: delivery queue full")

// NewEngine builds an engine; client sends the requests (the egress client).
func NewEngine(cfg EngineConfig, client Doer, logger *slog.Logger) (*Engine, error) {
	if client == nil {
		return nil, errors.New("webhooks: client is required")
	}
	if cfg.Workers <= 0 {
		cfg.Workers = 4
	}
	if cfg.QueueSize <= 0 {
		cfg.QueueSize = 10000
	}
	if cfg.Attempts <= 0 {
		cfg.Attempts = 5
	}
	if cfg.Delays != nil {
		cfg.Attempts = len(cfg.Delays) + 1
	}
	if cfg.Backoff <= 0 {
		cfg.Backoff = 2 * time.Second
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 15 * time.Second
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &Engine{cfg: cfg, client: client, log: logger, now: time.Now, queue: make(chan *Delivery, cfg.QueueSize)}, nil
}

// Enqueue queues d for delivery. It never blocks: when the queue is full d
// is dropped, reported (ErrQueueFull, final) and false is returned.
func (e *Engine) Enqueue(ctx context.Context, d *Delivery) bool {
	d.attempt = 1
	select {
	case e.queue <- d:
		return true
	default:
		if d.Report != nil {
			d.Report(ctx, 1, ErrQueueFull, true)
		}
		return false
	}
}

// Run delivers queued payloads until ctx is cancelled.
func (e *Engine) Run(ctx context.Context) error {
	for range e.cfg.Workers {
		e.wg.Add(1)
		go func() {
			defer e.wg.Done()
			for {
				select {
				case <-ctx.Done():
					return
				case d := <-e.queue:
					e.deliver(ctx, d)
				}
			}
		}()
	}
	<-ctx.Done()
	e.wg.Wait()
	return nil
}

// delay is the wait after failed attempt n.
func (e *Engine) delay(n int) time.Duration {
	if e.cfg.Delays != nil {
		return e.cfg.Delays[n-1]
	}
	return e.cfg.Backoff << (n - 1)
}

func (e *Engine) deliver(ctx context.Context, d *Delivery) {
	err := e.send(ctx, d)
	final := err == nil || d.attempt >= e.cfg.Attempts
	if d.Report != nil {
		d.Report(context.WithoutCancel(ctx), d.attempt, err, final)
	}
	if final {
		return
	}
	wait := e.delay(d.attempt)
	d.attempt++
	time.AfterFunc(wait, func() {
		if ctx.Err() != nil {
			return
		}
		select {
		case e.queue <- d:
		default:
			e.log.Warn("webhook queue full; retry dropped", "url", d.URL)
			if d.Report != nil {
				d.Report(context.WithoutCancel(ctx), d.attempt, ErrQueueFull, true)
			}
		}
	})
}

func (e *Engine) send(ctx context.Context, d *Delivery) error {
	rctx, cancel := context.WithTimeout(ctx, e.cfg.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(rctx, http.MethodPost, d.URL, bytes.NewReader(d.Body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	if d.Sign != nil {
		d.Sign(req.Header, d.attempt, e.now())
	}
	resp, err := e.client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return fmt.Errorf("webhook endpoint answered %d", resp.StatusCode)
	}
	return nil
}
