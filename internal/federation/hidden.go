package federation

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/hearth-community/hearth/internal/fault"
)

// A stage channel actor is hidden while its community is private or its
// actor is switched off: its documents, WebFinger entry, collections and
// inbox answer 404 as for an unknown account. Two things still work, so
// that leaving is always possible: a follower's own Undo or Delete reaches
// its inbox (hiddenInbox), and its own unfollow (Unfollow) can be checked
// by the server it leaves (hiddenActor).

// hiddenStage reports whether actor is a stage channel actor that exists
// but is hidden. A deleted channel's actor is not hidden: it is gone.
func (s *Service) hiddenStage(ctx context.Context, actor string) (bool, error) {
	id, ok := strings.CutPrefix(strings.ToLower(actor), StagePrefix)
	if !ok || id == "" || s.cfg.StageChannel == nil {
		return false, nil
	}
	if _, exists := s.cfg.StageChannel(ctx, id); !exists {
		return false, nil
	}
	_, err := s.Local(ctx, actor)
	if errors.Is(err, fault.NotFound) {
		return true, nil
	}
	return false, err
}

// leaveWindow is how long a hidden actor's Undo may still be delivered
// (every retry delay of a delivery) and checked, with an hour to spare.
func (s *Service) leaveWindow() time.Duration {
	d := time.Hour
	for _, w := range s.deliveryDelays() {
		d += w
	}
	return d
}

// ActorDocument answers GET /federation/user/{username}: the actor
// document (Actor). A hidden stage channel actor answers 404 as an unknown
// account, except to a signed fetch by a server it sent an Undo of its
// Follow to lately (Unfollow), which gets its bare key document: enough to
// check the Undo, and nothing about the channel (no name, summary, page,
// avatar, links or tags).
func (s *Service) ActorDocument(ctx context.Context, username string, r *http.Request) (map[string]any, error) {
	doc, err := s.Actor(ctx, username)
	if !errors.Is(err, fault.NotFound) {
		return doc, err
	}
	return s.hiddenActor(ctx, username, r, err)
}

func (s *Service) hiddenActor(ctx context.Context, username string, r *http.Request, notFound error) (map[string]any, error) {
	st := s.Settings()
	if st.ServerURL == "" {
		return nil, notFound
	}
	hidden, err := s.hiddenStage(ctx, username)
	if err != nil {
		return nil, err
	}
	if !hidden {
		return nil, notFound
	}
	// The signer's server must be one it is leaving: asked first, of the
	// key's host, so that no one else's fetch makes this node fetch a key.
	// (The signer's actor is on its key's server: verifyFetch checks it.)
	user := strings.ToLower(username)
	ku, err := url.Parse(signatureParams(signatureOf(r))["keyid"])
	if err != nil || ku.Host == "" {
		return nil, notFound
	}
	leaving, err := s.st.Leaving(ctx, user, strings.ToLower(ku.Host), s.now().UTC())
	if err != nil {
		return nil, err
	}
	if !leaving {
		return nil, notFound
	}
	signer, err := s.verifyFetch(ctx, r)
	if fault.KindOf(err) == fault.RateLimited {
		return nil, err
	}
	if err != nil {
		return nil, notFound
	}
	if u, err := url.Parse(signer.ID); err != nil || !strings.EqualFold(u.Host, ku.Host) {
		return nil, notFound
	}
	pub, err := s.PublicKeyPEM(ctx)
	if err != nil {
		return nil, err
	}
	iri := s.actorIRI(st, user)
	return map[string]any{
		"@context":          documentContext,
		"id":                iri,
		"type":              "Service",
		"preferredUsername": user,
		"inbox":             iri + "/inbox",
		"discoverable":      false,
		"publicKey": map[string]any{
			"id":           s.keyID(st, user),
			"owner":        iri,
			"publicKeyPem": pub,
		},
	}, nil
}
