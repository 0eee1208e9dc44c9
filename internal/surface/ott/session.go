package ott

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"math/big"
	"time"

	"github.com/hearth-community/hearth/internal/fault"
	"github.com/hearth-community/hearth/internal/identity"

	"github.com/hearth-community/hearth/internal/store"
)

// Session is an OpenTogetherTube session token: an opaque token (only its
// hash is stored) that acts as an account. A new token acts as a fresh
// Hearth guest; logging in points it at the registered account, logging out
// points it back at the guest.
type Session = store.OTTSession

// SessionStore persists sessions. SessionByHash returns fault.NotFound for
// an unknown token.
type SessionStore interface {
	CreateOttSession(ctx context.Context, s *Session) error
	OttSessionByHash(ctx context.Context, hash string) (*Session, error)
	UpdateOttSession(ctx context.Context, s *Session) error
	DeleteExpiredOttSessions(ctx context.Context, before time.Time) (int, error)
	// ExpiredOttGuests returns up to limit guest accounts whose every
	// session expired before the given time.
	ExpiredOttGuests(ctx context.Context, before time.Time, limit int) ([]string, error)
}

// Run sweeps expired sessions and their guests every hour until ctx ends.
func (s *Surface) Run(ctx context.Context) error {
	t := time.NewTicker(time.Hour)
	defer t.Stop()
	for {
		if n, err := s.Sweep(ctx); err != nil && ctx.Err() == nil {
			s.log.Warn("sweep expired OTT sessions", "err", err)
		} else if n > 0 {
			s.log.Info("deleted expired OTT guests", "count", n)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// sweepBatch is how many guests one sweep round looks at.
const sweepBatch = 500

// Sweep does what Redis's expiry does for OpenTogetherTube: an anonymous
// identity whose token went unused past its lifetime is gone. The guest
// account behind every session that expired is deleted, unless another
// live session still uses it or it is connected to a room on any node;
// registered accounts are never touched (their expired sessions go, the
// account stays). It returns how many guests were deleted.
func (s *Surface) Sweep(ctx context.Context) (int, error) {
	now := s.now()
	deleted := 0
	kept := map[string]bool{}
	for {
		limit := sweepBatch + len(kept)
		ids, err := s.d.Sessions.ExpiredOttGuests(ctx, now, limit)
		if err != nil {
			return deleted, err
		}
		var todo []string
		for _, id := range ids {
			if !kept[id] {
				todo = append(todo, id)
			}
		}
		if len(todo) == 0 {
			break
		}
		present, err := s.d.Watch.PresentAccounts(ctx, todo)
		if err != nil {
			return deleted, err
		}
		for _, id := range todo {
			if present[id] {
				// Still watching: the guest stays (its expired session keeps
				// it a candidate for the next sweep).
				kept[id] = true
				continue
			}
			if err := s.d.Identity.DeleteAccount(ctx, id); err != nil && !errors.Is(err, fault.NotFound) {
				if ctx.Err() != nil {
					return deleted, ctx.Err()
				}
				s.log.Warn("delete expired guest", "account", id, "err", err)
				kept[id] = true
				continue
			}
			deleted++
		}
		if len(ids) < limit {
			break
		}
	}
	if _, err := s.d.Sessions.DeleteExpiredOttSessions(ctx, now); err != nil {
		return deleted, err
	}
	return deleted, nil
}

// Token lifetimes (OpenTogetherTube: 14 days anonymous, 240 days signed in,
// refreshed on every write).
const (
	anonTTL   = 14 * 24 * time.Hour
	loggedTTL = 240 * 24 * time.Hour
)

// principal is the caller of an authenticated request.
type principal struct {
	token   string
	sess    *Session
	account *identity.Account
}

func (p *principal) loggedIn() bool { return p.account.Kind == identity.Registered }

// sessionID tags sockets and room members: a prefix of the token hash.
func (p *principal) sessionID() string { return "ott-" + p.sess.TokenHash[:32] }

func newToken() (string, error) {
	b := make([]byte, 512)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("ott: random token: %w", err)
	}
	return base64.StdEncoding.EncodeToString(b), nil
}

// grant mints a token acting as a new guest.
func (s *Surface) grant(ctx context.Context) (string, *principal, error) {
	tok, err := newToken()
	if err != nil {
		return "", nil, err
	}
	g, err := s.d.Identity.CreateGuest(ctx, randomName())
	if err != nil {
		return "", nil, err
	}
	now := s.now()
	sess := &Session{TokenHash: identity.HashToken(tok), AccountID: g.ID, GuestID: g.ID, CreatedAt: now, ExpiresAt: now.Add(anonTTL)}
	if err := s.d.Sessions.CreateOttSession(ctx, sess); err != nil {
		return "", nil, err
	}
	return tok, &principal{token: tok, sess: sess, account: g}, nil
}

// lookup resolves a token; fault.Unauthorized when unknown, expired or
// disabled.
func (s *Surface) lookup(ctx context.Context, tok string) (*principal, error) {
	if tok == "" || len(tok) > 4096 {
		return nil, fault.New(fault.Unauthorized, "missing token")
	}
	p, err := s.lookupHash(ctx, identity.HashToken(tok))
	if err != nil {
		return nil, err
	}
	p.token = tok
	return p, nil
}

// lookupHash is lookup by the token's hash (what a room socket keeps
// instead of the 684-character token); the principal has no token.
func (s *Surface) lookupHash(ctx context.Context, hash string) (*principal, error) {
	sess, err := s.d.Sessions.OttSessionByHash(ctx, hash)
	if errors.Is(err, fault.NotFound) || (err == nil && !sess.ExpiresAt.After(s.now())) {
		return nil, fault.New(fault.Unauthorized, "missing token")
	}
	if err != nil {
		return nil, err
	}
	a, err := s.d.Identity.Account(ctx, sess.AccountID)
	if errors.Is(err, fault.NotFound) {
		return nil, fault.New(fault.Unauthorized, "missing token")
	}
	if err != nil {
		return nil, err
	}
	if a.Disabled() {
		return nil, fault.New(fault.Unauthorized, "missing token")
	}
	return &principal{sess: sess, account: a}, nil
}

// setAccount points the session at an account and refreshes its lifetime.
func (s *Surface) setAccount(ctx context.Context, p *principal, a *identity.Account) error {
	return s.setAccountVia(ctx, p, a, "")
}

// setAccountVia is setAccount for a token signed in with the access token
// of the Hearth session sessionID: signing that session out signs the
// token out too (store.Identity.RevokeSession), as it ends the session's
// other credentials.
func (s *Surface) setAccountVia(ctx context.Context, p *principal, a *identity.Account, sessionID string) error {
	p.sess.AccountID, p.sess.SessionID = a.ID, sessionID
	ttl := anonTTL
	if a.Kind == identity.Registered {
		ttl = loggedTTL
	}
	p.sess.ExpiresAt = s.now().Add(ttl)
	if err := s.d.Sessions.UpdateOttSession(ctx, p.sess); err != nil {
		return err
	}
	p.account = a
	return nil
}

var (
	adjectives = []string{"able", "brave", "calm", "clever", "eager", "fancy", "gentle", "happy", "jolly", "kind",
		"lively", "merry", "nice", "proud", "quick", "silly", "swift", "witty", "zany", "bold"}
	colors = []string{"amber", "aqua", "azure", "beige", "black", "blue", "bronze", "coral", "crimson", "cyan",
		"gold", "gray", "green", "indigo", "lime", "magenta", "olive", "orange", "purple", "teal"}
	animals = []string{"ant", "bat", "bear", "cat", "crow", "deer", "dog", "duck", "eagle", "fox", "frog", "goat",
		"hawk", "koala", "lion", "mole", "otter", "owl", "panda", "wolf"}
)

func pick(words []string) string {
	n, err := rand.Int(rand.Reader, big.NewInt(int64(len(words))))
	if err != nil {
		return words[0]
	}
	return words[n.Int64()]
}

// randomName is an anonymous name shaped like OpenTogetherTube's
// (adjective_color_animal).
func randomName() string { return pick(adjectives) + "_" + pick(colors) + "_" + pick(animals) }
