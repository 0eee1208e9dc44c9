package federation

import (
	"context"
	"net/netip"
	"net/url"
	"strings"
	"time"

	"golang.org/x/net/publicsuffix"

	"github.com/hearth-community/hearth/internal/fault"
	"github.com/hearth-community/hearth/internal/ratelimit"
)

// Bounds on what remote servers can make a node keep and do. HTTP
// signatures prove only that an activity comes from the server that
// publishes its signer's key, and anyone may run such a server, with as
// many actors as it likes: one attacker's domain could follow a stage
// without end (each follower a row, in the admin's lists, and a delivery
// of every post when its actors give no shared inbox), like and boost
// without end (each a row and a chat notice), and send without pause.
// Owncast bounds none of these. Each bound is far above what an honest
// server does and is counted per remote domain (domainOf), so one domain
// cannot use up the room of others; the admin's blocked domains remain
// the answer to an attacker with many.
const (
	// MaxDomainFollowers bounds a local actor's followers and pending
	// follow requests from one remote domain. An honest server's accounts
	// following one stage number in the hundreds even on the largest
	// instances; 5,000 leaves an order of magnitude of room and holds one
	// attacker's domain to 5,000 rows (a few MB) per stage.
	MaxDomainFollowers = 5000
	// MaxDomainInboxes bounds the distinct inboxes a local actor's
	// followers from one remote domain are delivered to: what one post
	// fans out to there. Servers with many accounts (Mastodon, Misskey,
	// GoToSocial, Pleroma) give a shared inbox, one delivery for all their
	// followers; servers without one are single-account (Owncast,
	// WriteFreely) or a few. An attacker's actors each naming their own
	// inbox had every post sent once per actor.
	MaxDomainInboxes = 100
	// DomainPace and DomainBurst pace the activities one remote domain
	// sends to this node's inboxes: DomainBurst at once, then DomainPace a
	// minute (5 a second). A go-live post's likes and boosts from even a
	// large server come at human speed, well inside the burst; past it
	// the sender is answered 429 with Retry-After and delivers later, as
	// ActivityPub servers retry (nothing is lost).
	DomainPace  = 300
	DomainBurst = 300
	// MaxActions bounds the engagement actions (follows, likes, boosts)
	// kept per local actor; recording one past it deletes the oldest. It
	// is the admin's log (/api/admin/federation/actions) and what makes an
	// account's like of a post count once: a like older than the newest
	// 10,000 engagements of its stage counts again.
	MaxActions = 10_000
	// NoticePace and NoticeBurst pace the engagement notices put in one
	// local actor's chat (FEDIVERSE_ENGAGEMENT_* events): NoticeBurst at
	// once, then NoticePace a minute. A stream's go-live post gets its
	// likes over minutes; a flood of them (a burst of real ones, or one
	// attacker's thousands) shows only so many lines, and the chat stays
	// a chat. The engagement is recorded and its webhooks fire either way.
	NoticePace  = 10
	NoticeBurst = 10
)

var (
	errDomainFollowers = fault.New(fault.Forbidden, "this stage has as many followers from your domain as it takes")
	errDomainInboxes   = fault.New(fault.Forbidden, "this stage delivers to as many inboxes on your domain as it takes; "+
		"give a shared inbox")
)

// domainOf is the remote domain an actor IRI counts against: the
// registrable domain of its host (by the public suffix list), so that
// a1.evil.example and a2.evil.example are one; an IP address, or a name
// the list cannot split, is its own. "" when iri has no host.
func domainOf(iri string) string {
	u, err := url.Parse(iri)
	if err != nil {
		return ""
	}
	h := strings.ToLower(strings.TrimSuffix(u.Hostname(), "."))
	if _, err := netip.ParseAddr(h); err == nil || h == "" {
		return h
	}
	if d, err := publicsuffix.EffectiveTLDPlusOne(h); err == nil {
		return d
	}
	return h
}

// deliveryInbox is where posts to f are delivered: its shared inbox when
// it gives one.
func deliveryInbox(f *Follower) string {
	if f.SharedInbox != "" {
		return f.SharedInbox
	}
	return f.Inbox
}

// newPace builds a per-key pace of perMinute a minute and burst at once.
func newPace(perMinute float64, burst int, now func() time.Time) *ratelimit.Limiter {
	l, err := ratelimit.New(ratelimit.Config{Limit: perMinute, Interval: time.Minute, Burst: burst, Clock: now})
	if err != nil {
		panic(err) // the values are checked in New
	}
	return l
}

// paceDomain charges one activity to the sender's domain, or refuses it
// as rate limited (429 with Retry-After).
func (s *Service) paceDomain(actorIRI string) error {
	d := s.domainPace.Allow(domainOf(actorIRI), 1)
	if d.Allowed {
		return nil
	}
	return &fault.Error{Kind: fault.RateLimited, RetryAfter: d.RetryAfter,
		Msg: "too many activities from your domain; try again later"}
}

// roomFor refuses a follow (or a follower's new inboxes) that would take
// its remote domain past MaxDomainFollowers or MaxDomainInboxes for the
// local actor. isNew: f is not yet a follower. Call with followMu held.
func (s *Service) roomFor(ctx context.Context, f *Follower, isNew bool) error {
	n, inboxes, known, err := s.st.DomainFollowers(ctx, f.Actor, f.Domain, deliveryInbox(f), f.IRI)
	switch {
	case err != nil:
		return err
	case isNew && n >= s.cfg.DomainFollowers:
		return errDomainFollowers
	case !known && inboxes >= s.cfg.DomainInboxes:
		return errDomainInboxes
	}
	return nil
}

// notice reports whether an engagement of a local actor may be put in its
// chat now (NoticePace), taking its turn.
func (s *Service) notice(username string) bool {
	return s.notices.Allow(username, 1).Allowed
}
