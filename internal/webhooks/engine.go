package webhooks

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hearth-community/hearth/internal/fault"
	"github.com/hearth-community/hearth/internal/identity"
)

// Engine is Hearth's one webhook delivery engine. Deliveries wait in a
// durable queue in the database (Queue), so a restart or a crash loses
// none; every node runs the engine and a delivery is leased by one node at
// a time, so it is sent once per cluster (at least once: a node that dies
// between the answer and recording it sends it again). Failed attempts are
// retried on the kind's delays; every request goes through the egress
// client.
//
// The engine knows no payload or signature format: each Kind (Owncast's
// webhooks, Together's, federation's ActivityPub deliveries) signs its own
// requests when they are sent and hears how every attempt went, so each
// keeps its wire format.
//
// A target (a kind's ref) is sent at most PerRef deliveries at once by a
// node, the rest waiting in the queue: an endpoint that answers slowly or never,
// with many deliveries queued, holds its share of the workers, not every
// worker, and the other targets' deliveries go out meanwhile.
//
// An engine sends only the kinds registered on it, so another engine over
// the same queue, with kinds of its own, is a worker pool of its own: the
// stage's go-live notifications (stagechat.GoLive) run one, so push
// services that never answer hold up no webhook, and no webhook a push.
type Engine struct {
	cfg    EngineConfig
	q      Queue
	client Doer
	log    *slog.Logger
	now    func() time.Time
	wake   chan struct{}

	mu    sync.RWMutex
	kinds map[string]*Kind

	sending sync.Mutex     // guards held
	held    map[RefKey]int // deliveries this node is sending, by target (PerRef)

	onceCalls atomic.Uint64 // EnqueueOnce calls, to prune claims now and then
}

// EngineConfig tunes an engine.
type EngineConfig struct {
	Workers int           // concurrent deliveries per node; default 4
	Poll    time.Duration // how often the queue is read when nothing woke the engine; default 1 s
	Lease   time.Duration // how long a node holds a delivery it is sending; default 2 min
	// PerRef is how many deliveries of one target (a kind's ref: one
	// webhook, one inbox, one push subscription) a node sends at once; the
	// others wait their turn in the queue. Default Workers/8, at least 1.
	PerRef int
}

// Queued is one delivery in the queue.
type Queued struct {
	ID        string
	Kind      string // the Kind that signs and hears about it
	Ref       string // the kind's reference: the webhook it is for
	URL       string
	Body      []byte
	Attempts  int // attempts made so far
	NextAt    time.Time
	CreatedAt time.Time
}

// Queue is the durable delivery queue (internal/store/webhook_queue.go).
type Queue interface {
	// AddDelivery stores d unless max (> 0) deliveries of its kind and ref
	// already wait; it reports whether d was stored. With keepNewest, d is
	// always stored and the oldest deliveries of its kind and ref past max
	// are dropped instead.
	AddDelivery(ctx context.Context, d *Queued, max int, keepNewest bool) (bool, error)
	// ClaimFairly leases up to n due deliveries of the given kinds until
	// leaseUntil (due is next_at passed and no unexpired lease), oldest due
	// first, at most perRef of one kind and ref counting the held ones
	// (the claimer's leases it has not given back).
	ClaimFairly(ctx context.Context, kinds []string, now, leaseUntil time.Time, n, perRef int, held map[RefKey]int) ([]*Queued, error)
	// AddDeliveriesOnce claims the event named key, once per cluster, and
	// stores ds (each as AddDelivery would) in one transaction: nothing is
	// stored, and claimed is false, when key was claimed before; a failure
	// (or a crash) before the commit leaves neither the claim nor a
	// delivery, so the event can still be claimed. stored says which of ds
	// were stored.
	AddDeliveriesOnce(ctx context.Context, key string, at time.Time, ds []*Queued, max int, keepNewest bool) (claimed bool, stored []bool, err error)
	// PruneEventClaims forgets claims made before before.
	PruneEventClaims(ctx context.Context, before time.Time) error
	// FinishDelivery removes a delivery (sent, or given up on).
	FinishDelivery(ctx context.Context, id string) error
	// RetryDelivery records attempts, schedules the next one and releases
	// the lease.
	RetryDelivery(ctx context.Context, id string, attempts int, next time.Time) error
}

// RefKey names a target: a kind's ref (one webhook, one inbox, one push
// subscription).
type RefKey struct{ Kind, Ref string }

// Kind is one family of webhooks on the engine: its retry policy, how its
// requests are signed and where each attempt is reported.
type Kind struct {
	Name string
	// Delays are the waits before each retry: len(Delays)+1 attempts.
	Delays []time.Duration
	// Timeout caps each request; default 15 s.
	Timeout time.Duration
	// MaxWaiting caps the deliveries waiting for one Ref (a dead endpoint
	// cannot grow the queue without bound); more are dropped and reported.
	// Default 10000.
	MaxWaiting int
	// KeepNewest drops the oldest waiting deliveries for the Ref past
	// MaxWaiting instead of the new one (a feed, where the latest matters).
	KeepNewest bool
	// Client, when set, sends this kind's requests instead of the engine's
	// client (a kind with its own egress rules).
	Client Doer
	// ClientFor, when set, picks the client of each attempt instead (a
	// kind whose deliveries may reach different addresses by whom they
	// are for); a nil Doer is Client's choice. Its errors are Sign's.
	ClientFor func(ctx context.Context, d *Queued) (Doer, error)
	// Sign sets the request's headers (besides Content-Type:
	// application/json) for attempt n, 1-based, sent at t. An error with
	// fault kind NotFound drops the delivery unsent (its webhook is gone);
	// another error counts as a failed attempt.
	Sign func(ctx context.Context, d *Queued, h http.Header, n int, t time.Time) error
	// Encode, when set, is used instead of Sign for a kind whose body is
	// made afresh for each attempt (Web Push encrypts every request with a
	// new key): it returns the body of attempt n, sent at t, made from the
	// queued one, and sets the headers as Sign would. Its errors are
	// Sign's.
	Encode func(ctx context.Context, d *Queued, h http.Header, n int, t time.Time) ([]byte, error)
	// Retry, when set, says whether a failed attempt may be retried
	// (default: every failure is, until the delays run out). A non-2xx
	// answer is a *StatusError.
	Retry func(err error) bool
	// Report, when set, is called after every attempt with its outcome
	// (nil on a 2xx answer); final says no retry follows. A delivery
	// dropped at Enqueue (the queue full, or the store failing) is
	// reported once, with n 1 and final.
	Report func(ctx context.Context, d *Queued, n int, err error, final bool)
}

// StatusError is an attempt the endpoint answered with a non-2xx status.
type StatusError struct{ Code int }

func (e *StatusError) Error() string { return fmt.Sprintf("webhook endpoint answered %d", e.Code) }

// ErrQueueFull is reported for a delivery the queue had no room for.
var ErrQueueFull = errors.New("webhooks: delivery queue full")

// NewEngine builds an engine over a durable queue; client sends the
// requests (the egress client). Register the kinds, then Run it.
func NewEngine(cfg EngineConfig, q Queue, client Doer, logger *slog.Logger) (*Engine, error) {
	if q == nil || client == nil {
		return nil, errors.New("webhooks: queue and client are required")
	}
	if cfg.Workers <= 0 {
		cfg.Workers = 4
	}
	if cfg.Poll <= 0 {
		cfg.Poll = time.Second
	}
	if cfg.PerRef <= 0 {
		cfg.PerRef = max(1, cfg.Workers/8)
	}
	if cfg.Lease <= 0 {
		cfg.Lease = 2 * time.Minute
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &Engine{cfg: cfg, q: q, client: client, log: logger, now: time.Now, wake: make(chan struct{}, 1),
		kinds: map[string]*Kind{}, held: map[RefKey]int{}}, nil
}

// Register adds a kind; its deliveries are sent from now on (including
// those a previous run left in the queue).
func (e *Engine) Register(k Kind) error {
	if k.Name == "" || (k.Sign == nil && k.Encode == nil) {
		return errors.New("webhooks: a kind needs a name and a signer")
	}
	if k.Timeout <= 0 {
		k.Timeout = 15 * time.Second
	}
	if k.MaxWaiting <= 0 {
		k.MaxWaiting = 10000
	}
	k.Delays = slices.Clone(k.Delays)
	e.mu.Lock()
	defer e.mu.Unlock()
	if _, dup := e.kinds[k.Name]; dup {
		return fmt.Errorf("webhooks: kind %q registered twice", k.Name)
	}
	e.kinds[k.Name] = &k
	e.poke()
	return nil
}

func (e *Engine) kind(name string) *Kind {
	e.mu.RLock()
	defer e.mu.RUnlock()
	return e.kinds[name]
}

func (e *Engine) kindNames() []string {
	e.mu.RLock()
	defer e.mu.RUnlock()
	names := make([]string, 0, len(e.kinds))
	for n := range e.kinds {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

func (e *Engine) poke() {
	select {
	case e.wake <- struct{}{}:
	default:
	}
}

// Enqueue stores body for url in the queue, for the registered kind, about
// ref. It does not wait for the delivery. The event has happened, so the
// write is not cut short when ctx (a request's) is cancelled. When the
// delivery cannot be stored (the ref's queue is full, or the store fails)
// it is reported (final) and false is returned.
func (e *Engine) Enqueue(ctx context.Context, kind, ref, url string, body []byte) bool {
	ctx = context.WithoutCancel(ctx)
	k := e.kind(kind)
	if k == nil {
		e.log.Error("webhook of an unregistered kind dropped", "kind", kind)
		return false
	}
	now := e.now().UTC()
	d := &Queued{ID: identity.NewID(), Kind: kind, Ref: ref, URL: url, Body: body, NextAt: now, CreatedAt: now}
	ok, err := e.q.AddDelivery(ctx, d, k.MaxWaiting, k.KeepNewest)
	if err == nil && !ok {
		err = ErrQueueFull
	}
	if err != nil {
		e.log.Warn("webhook delivery not queued", "kind", kind, "ref", ref, "err", err)
		if k.Report != nil {
			k.Report(ctx, d, 1, err, true)
		}
		return false
	}
	e.poke()
	return true
}

// Target is one delivery of an event: its kind's reference, URL and body.
type Target struct {
	Ref  string
	URL  string
	Body []byte
}

// claimRetention is how long an event's claim is remembered: far longer
// than the event takes to reach every node.
const claimRetention = 24 * time.Hour

// EnqueueOnce queues the deliveries of an event that every node sees (a
// bus event) on the one node that claims key first. The claim and the
// deliveries are stored in one transaction, so there is no moment where
// the event is claimed but not queued: a node killed (or failing) before
// the commit leaves the event unclaimed for another node, or a later try,
// and once committed the queue delivers at least once. It reports whether
// this call claimed the event; a claim with no targets is still recorded.
// An error means nothing was stored (the event is not claimed either).
// Deliveries the kind's queue has no room for are reported (final), as by
// Enqueue.
func (e *Engine) EnqueueOnce(ctx context.Context, key, kind string, ts []Target) (bool, error) {
	ctx = context.WithoutCancel(ctx)
	k := e.kind(kind)
	if k == nil {
		return false, fmt.Errorf("webhooks: kind %q is not registered", kind)
	}
	now := e.now().UTC()
	ds := make([]*Queued, len(ts))
	for i, t := range ts {
		ds[i] = &Queued{ID: identity.NewID(), Kind: kind, Ref: t.Ref, URL: t.URL, Body: t.Body, NextAt: now, CreatedAt: now}
	}
	claimed, stored, err := e.q.AddDeliveriesOnce(ctx, key, now, ds, k.MaxWaiting, k.KeepNewest)
	if err != nil {
		return false, err
	}
	if e.onceCalls.Add(1)%256 == 0 {
		if err := e.q.PruneEventClaims(ctx, now.Add(-claimRetention)); err != nil {
			e.log.Warn("prune event claims", "err", err)
		}
	}
	if !claimed {
		return false, nil
	}
	for i, d := range ds {
		if stored[i] {
			continue
		}
		e.log.Warn("webhook delivery not queued", "kind", kind, "ref", d.Ref, "err", ErrQueueFull)
		if k.Report != nil {
			k.Report(ctx, d, 1, ErrQueueFull, true)
		}
	}
	e.poke()
	return true, nil
}

// Run sends queued deliveries until ctx ends. A send that ctx cuts short is
// not counted as an attempt: it is put back in the queue, due at once, for
// the next run (this node's or another's).
func (e *Engine) Run(ctx context.Context) error {
	t := time.NewTicker(e.cfg.Poll)
	defer t.Stop()
	busy := make(chan struct{}, e.cfg.Workers)
	var wg sync.WaitGroup
	defer wg.Wait()
	for {
		for ctx.Err() == nil {
			free := cap(busy) - len(busy)
			if free == 0 {
				break
			}
			ds := e.claim(ctx, free)
			for _, d := range ds {
				busy <- struct{}{}
				wg.Add(1)
				e.hold(d, 1)
				go func() {
					defer func() { e.hold(d, -1); <-busy; wg.Done(); e.poke() }()
					e.deliver(ctx, d)
				}()
			}
			// Claim again until nothing is claimed: fewer than free may
			// only mean that a target reached its share (skipped now).
			if len(ds) == 0 {
				break
			}
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		case <-e.wake:
		}
	}
}

// hold counts d's target's deliveries this node is sending up (by 1) or
// down (by -1).
func (e *Engine) hold(d *Queued, by int) {
	k := RefKey{d.Kind, d.Ref}
	e.sending.Lock()
	defer e.sending.Unlock()
	if e.held[k] += by; e.held[k] <= 0 {
		delete(e.held, k)
	}
}

func (e *Engine) claim(ctx context.Context, n int) []*Queued {
	kinds := e.kindNames()
	if len(kinds) == 0 {
		return nil
	}
	now := e.now().UTC()
	e.sending.Lock()
	held := maps.Clone(e.held)
	e.sending.Unlock()
	ds, err := e.q.ClaimFairly(ctx, kinds, now, now.Add(e.cfg.Lease), n, e.cfg.PerRef, held)
	if err != nil {
		if ctx.Err() == nil {
			e.log.Warn("claim webhook deliveries", "err", err)
		}
		return nil
	}
	return ds
}

func (e *Engine) deliver(ctx context.Context, d *Queued) {
	bg := context.WithoutCancel(ctx)
	k := e.kind(d.Kind)
	n := d.Attempts + 1
	err := e.send(ctx, k, d, n)
	switch {
	case err != nil && ctx.Err() != nil:
		// Shutdown cut the attempt short: hand it back, due now.
		if err := e.q.RetryDelivery(bg, d.ID, d.Attempts, e.now().UTC()); err != nil {
			e.log.Warn("release webhook delivery", "err", err)
		}
		return
	case errors.Is(err, fault.NotFound):
		// Its webhook was deleted.
		if err := e.q.FinishDelivery(bg, d.ID); err != nil {
			e.log.Warn("drop webhook delivery", "err", err)
		}
		return
	}
	final := err == nil || n > len(k.Delays) || (k.Retry != nil && !k.Retry(err))
	if k.Report != nil {
		k.Report(bg, d, n, err, final)
	}
	if final {
		if err := e.q.FinishDelivery(bg, d.ID); err != nil {
			e.log.Warn("finish webhook delivery", "err", err)
		}
		return
	}
	wait := k.Delays[n-1]
	if err := e.q.RetryDelivery(bg, d.ID, n, e.now().UTC().Add(wait)); err != nil {
		e.log.Warn("schedule webhook retry", "err", err)
		return
	}
	// Look again when it is due rather than at the next poll.
	time.AfterFunc(wait, e.poke)
}

func (e *Engine) send(ctx context.Context, k *Kind, d *Queued, n int) error {
	rctx, cancel := context.WithTimeout(ctx, k.Timeout)
	defer cancel()
	h := http.Header{}
	h.Set("Content-Type", "application/json")
	body := d.Body
	var err error
	if k.Encode != nil {
		body, err = k.Encode(rctx, d, h, n, e.now())
	} else {
		err = k.Sign(rctx, d, h, n, e.now())
	}
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(rctx, http.MethodPost, d.URL, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header = h
	client := e.client
	if k.Client != nil {
		client = k.Client
	}
	if k.ClientFor != nil {
		c, err := k.ClientFor(rctx, d)
		if err != nil {
			return err
		}
		if c != nil {
			client = c
		}
	}
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return &StatusError{Code: resp.StatusCode}
	}
	return nil
}
