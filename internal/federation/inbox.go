package federation

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"strings"

	"github.com/google/uuid"

	"github.com/hearth-community/hearth/internal/fault"
)

var errActorMismatch = fault.New(fault.Forbidden, "the activity's actor is not the signer")

// Inbox handles a POST to a local actor's inbox: it verifies the request
// (verify.go), checks the activity's actor is the signer, and applies
// Follow, Undo, Like, Announce, Update and Delete.
func (s *Service) Inbox(ctx context.Context, username string, r *http.Request) error {
	local, err := s.Local(ctx, username)
	if errors.Is(err, fault.NotFound) {
		return s.hiddenInbox(ctx, username, r, err)
	}
	if err != nil {
		return err
	}
	v, err := s.verifyRequest(ctx, r)
	if gone, ok := goneSelfDelete(r, v); ok && errors.Is(err, errGone) {
		// A deleted account's Delete of itself: it stops following.
		// Answered 202 whether it followed or not, as Mastodon answers a
		// Delete it cannot verify, so its server stops retrying.
		_, err := s.removeGone(ctx, local.Username, gone)
		return err
	}
	if err != nil {
		return err
	}
	var act map[string]any
	if err := json.Unmarshal(v.body, &act); err != nil {
		return fault.Wrap(fault.Invalid, "activity is not JSON", err)
	}
	if idOf(act["actor"]) != v.actor.ID {
		return errActorMismatch
	}
	if u, err := url.Parse(v.actor.ID); err != nil || blocked(s.Settings(), u.Hostname()) {
		return errBlocked
	}
	// Paced per domain once it is known who sent it (the signature
	// checked): charged before, anyone could spend a real server's pace
	// by naming its keys.
	if err := s.paceDomain(v.actor.ID); err != nil {
		return err
	}
	// An account the admin blocked (rejected or removed as a follower) is
	// refused whatever it sends, as Owncast's verification refuses a
	// disabled follower: its likes and boosts would reach the chat, and
	// its Undo would delete the block and let it follow again.
	if f, err := s.st.Follower(ctx, local.Username, v.actor.ID); err == nil && f.DisabledAt != nil {
		return errBlockedAccount
	} else if err != nil && !errors.Is(err, fault.NotFound) {
		return err
	}
	return s.apply(ctx, local, v.actor, act)
}

var errBlockedAccount = fault.New(fault.Forbidden, "this account is blocked")

// hiddenInbox takes a POST to the inbox of a stage channel actor that is
// not served (its community is private, or its actor is switched off):
// the only activities honoured are an existing follower's own Undo of its
// Follow and Delete of its account, which remove the follower, so that a
// server that unfollows while the actor is hidden is not kept as a
// follower (and sent posts it refuses) once it is public again. Anything
// else, including a valid activity from an actor that does not follow it,
// answers notFound as for an unknown account: nothing about the actor is
// revealed to anyone who does not already follow it.
func (s *Service) hiddenInbox(ctx context.Context, username string, r *http.Request, notFound error) error {
	st := s.Settings()
	id, ok := strings.CutPrefix(strings.ToLower(username), StagePrefix)
	if !ok || id == "" || st.ServerURL == "" || s.cfg.StageChannel == nil {
		return notFound
	}
	v, err := s.verifyRequest(ctx, r)
	if fault.KindOf(err) == fault.RateLimited {
		return err
	}
	user := StagePrefix + id
	if gone, ok := goneSelfDelete(r, v); ok && errors.Is(err, errGone) {
		if removed, err := s.removeGone(ctx, user, gone); err != nil || !removed {
			return cmp.Or(err, notFound)
		}
		return nil
	}
	if err != nil {
		return notFound
	}
	var act map[string]any
	if json.Unmarshal(v.body, &act) != nil || idOf(act["actor"]) != v.actor.ID {
		return notFound
	}
	if u, err := url.Parse(v.actor.ID); err != nil || blocked(st, u.Hostname()) {
		return notFound
	}
	self := s.actorIRI(st, user)
	switch str(act["type"]) {
	case "Undo":
		inner, _ := act["object"].(map[string]any)
		if inner == nil || str(inner["type"]) != "Follow" || idOf(inner["actor"]) != v.actor.ID {
			return notFound
		}
		if o := idOf(inner["object"]); o != "" && o != self {
			return notFound
		}
	case "Delete":
		if idOf(act["object"]) != v.actor.ID {
			return notFound
		}
	default:
		return notFound
	}
	if f, err := s.st.Follower(ctx, user, v.actor.ID); err != nil {
		if errors.Is(err, fault.NotFound) {
			return notFound
		}
		return err
	} else if f.DisabledAt != nil {
		return notFound // a blocked account's Undo would lift its block
	}
	if err := s.st.DeleteFollower(ctx, user, v.actor.ID); err != nil && !errors.Is(err, fault.NotFound) {
		return err
	}
	return nil
}

// removeGone removes the follower of a local actor whose account is gone
// (goneSelfDelete) and reports whether it followed. A blocked account's
// row stays: it holds the block.
func (s *Service) removeGone(ctx context.Context, username, actorIRI string) (bool, error) {
	f, err := s.st.Follower(ctx, username, actorIRI)
	if errors.Is(err, fault.NotFound) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	if f.DisabledAt != nil {
		return true, nil
	}
	if err := s.st.DeleteFollower(ctx, username, actorIRI); err != nil && !errors.Is(err, fault.NotFound) {
		return false, err
	}
	return true, nil
}

func (s *Service) apply(ctx context.Context, local *LocalActor, from *remoteActor, act map[string]any) error {
	st := s.Settings()
	self := s.actorIRI(st, local.Username)
	switch str(act["type"]) {
	case "Follow":
		if idOf(act["object"]) != self {
			return fault.New(fault.Invalid, "Follow is not for this actor")
		}
		return s.follow(ctx, st, local, from, act)
	case "Undo":
		inner, _ := act["object"].(map[string]any)
		innerType := str(inner["type"])
		if inner != nil && idOf(inner["actor"]) != "" && idOf(inner["actor"]) != from.ID {
			return errActorMismatch
		}
		if innerType == "Follow" || innerType == "" {
			if o := idOf(inner["object"]); inner != nil && o != "" && o != self {
				return nil // the undo of a follow of someone else
			}
			err := s.st.DeleteFollower(ctx, local.Username, from.ID)
			if errors.Is(err, fault.NotFound) {
				return nil
			}
			return err
		}
		// Undo of a Like or Announce: the engagement stays in the log.
		return nil
	case "Like", "Announce":
		obj := idOf(act["object"])
		if !strings.HasPrefix(obj, st.ServerURL+"/federation/") {
			return fault.New(fault.Invalid, "object is not ours")
		}
		if _, err := s.st.OutboxItem(ctx, strings.TrimPrefix(obj, st.ServerURL+"/federation/")); err != nil {
			return fault.New(fault.Invalid, "object is not ours")
		}
		typ, body := EngagementLike, "liked that this stream went live."
		if str(act["type"]) == "Announce" {
			typ, body = EngagementRepost, "shared this stream with their followers."
		}
		return s.record(ctx, local, from, str(act["id"]), obj, typ, body)
	case "Update":
		obj, _ := act["object"].(map[string]any)
		if obj == nil || idOf(obj) != from.ID {
			return nil // an update of something we do not keep
		}
		f, err := s.st.Follower(ctx, local.Username, from.ID)
		if errors.Is(err, fault.NotFound) {
			return nil
		}
		if err != nil {
			return err
		}
		a := parseActor(obj)
		f.Name, f.Image = a.Name, a.Image
		return s.st.PutFollower(ctx, f)
	case "Delete":
		if idOf(act["object"]) == from.ID {
			if err := s.st.DeleteFollower(ctx, local.Username, from.ID); err != nil && !errors.Is(err, fault.NotFound) {
				return err
			}
		}
		return nil
	case "Create":
		// Posts of an actor we follow (featured streams); anyone else's
		// is a reply, refused.
		return s.received(ctx, local, from, act)
	case "Accept", "Reject":
		return s.accepted(ctx, local, from, act, str(act["type"]) == "Accept")
	default:
		return fault.New(fault.Invalid, "unsupported activity type")
	}
}

func (s *Service) follow(ctx context.Context, st Settings, local *LocalActor, from *remoteActor, act map[string]any) error {
	f, err := s.putFollower(ctx, st, local, from, str(act["id"]))
	if err != nil {
		return err
	}
	if f.ApprovedAt != nil {
		if err := s.sendAccept(ctx, st, local.Username, f, act); err != nil {
			return err
		}
	}
	return s.record(ctx, local, from, f.RequestIRI, s.actorIRI(st, local.Username), EngagementFollow, "just followed!")
}

// putFollower stores (or updates) the follower a Follow makes, approved
// unless the server is private, within its domain's bounds (roomFor): a
// new follower counts against them, and so does a follower's inbox that
// changed. The check and the write hold followMu, so this node's
// concurrent follows from one domain cannot all pass one count.
func (s *Service) putFollower(ctx context.Context, st Settings, local *LocalActor, from *remoteActor, requestIRI string) (*Follower, error) {
	s.followMu.Lock()
	defer s.followMu.Unlock()
	now := s.now().UTC()
	f, err := s.st.Follower(ctx, local.Username, from.ID)
	isNew := errors.Is(err, fault.NotFound)
	switch {
	case isNew:
		f = &Follower{Actor: local.Username, IRI: from.ID, CreatedAt: now}
	case err != nil:
		return nil, err
	case f.DisabledAt != nil:
		return nil, errBlockedAccount
	}
	was, wasDomain := deliveryInbox(f), f.Domain
	f.Inbox, f.SharedInbox, f.Domain = from.Inbox, from.SharedInbox, domainOf(from.ID)
	if isNew || deliveryInbox(f) != was || f.Domain != wasDomain {
		if err := s.roomFor(ctx, f, isNew); err != nil {
			return nil, err
		}
	}
	f.Name, f.Username, f.Image = from.Name, from.FullUsername(), from.Image
	f.RequestIRI = requestIRI
	if f.ApprovedAt == nil && !st.Private {
		f.ApprovedAt = &now
	}
	return f, s.st.PutFollower(ctx, f)
}

// record stores an engagement action once per activity and once per
// remote actor, type and object (MaxActions kept per local actor), and
// tells the listener about the first; it belongs in chat while the
// local actor's notices keep their pace (NoticePace).
func (s *Service) record(ctx context.Context, local *LocalActor, from *remoteActor, iri, object, typ, body string) error {
	if iri == "" {
		iri = from.ID + "#" + typ + "-" + uuid.NewString()
	}
	err := s.st.AddAction(ctx, &Action{IRI: iri, Actor: local.Username, ActorIRI: from.ID, Type: typ, Object: object,
		CreatedAt: s.now().UTC()}, s.cfg.MaxActions)
	if errors.Is(err, fault.Conflict) {
		return nil // a redelivery, or the same engagement again
	}
	if err != nil {
		return err
	}
	if s.cfg.OnEngagement != nil {
		show := s.Settings().ShowEngagement && s.notice(local.Username)
		s.cfg.OnEngagement(ctx, Engagement{Actor: local.Username, StageChannel: local.StageChannel, Type: typ, ActorIRI: from.ID, Name: from.Name,
			Username: from.FullUsername(), Image: from.Image, Body: body, Show: show})
	}
	return nil
}

// sendAccept queues an Accept of the follow request to the follower.
func (s *Service) sendAccept(ctx context.Context, st Settings, username string, f *Follower, follow any) error {
	if follow == nil {
		follow = map[string]any{"id": f.RequestIRI, "type": "Follow", "actor": f.IRI, "object": s.actorIRI(st, username)}
	}
	accept := map[string]any{
		"@context": ContextAS,
		"id":       s.objectIRI(st, uuid.NewString()),
		"type":     "Accept",
		"actor":    s.actorIRI(st, username),
		"object":   follow,
	}
	return s.enqueue(ctx, accept, []string{f.Inbox})
}

// Followers lists a local actor's followers in a state.
func (s *Service) Followers(ctx context.Context, username string, state FollowerState, offset, limit int) ([]*Follower, int, error) {
	if username == "" {
		username = s.Settings().Username
	}
	return s.st.Followers(ctx, username, state, offset, limit)
}

// errHiddenApprove refuses approving a follow of a hidden stage channel
// actor.
var errHiddenApprove = fault.New(fault.Conflict, "this stage channel's actor is hidden (its community is private, "+
	"or it is switched off), so no one can follow it: approve the request once it is public again")

// Approve approves (sending Accept) or rejects (blocking) a follow request
// or follower of a local actor (the server actor when username is ""). A
// hidden stage channel actor approves none (no one follows it while it is
// hidden, and the other server could not check its Accept); rejecting
// always works.
func (s *Service) Approve(ctx context.Context, username, actorIRI string, approved bool) error {
	st := s.Settings()
	if username == "" {
		username = st.Username
	}
	f, err := s.st.Follower(ctx, username, actorIRI)
	if err != nil {
		return err
	}
	now := s.now().UTC()
	if !approved {
		return s.st.SetFollowerState(ctx, username, actorIRI, nil, &now)
	}
	if hidden, err := s.hiddenStage(ctx, username); err != nil {
		return err
	} else if hidden {
		return errHiddenApprove
	}
	if err := s.st.SetFollowerState(ctx, username, actorIRI, &now, nil); err != nil {
		return err
	}
	return s.sendAccept(ctx, st, username, f, nil)
}

// Remove removes a follower (Owncast 0.2's followers/remove).
func (s *Service) Remove(ctx context.Context, username, actorIRI string) error {
	if username == "" {
		username = s.Settings().Username
	}
	return s.st.DeleteFollower(ctx, username, actorIRI)
}

// Actions lists recorded engagement, newest first.
func (s *Service) Actions(ctx context.Context, offset, limit int) ([]*Action, int, error) {
	return s.st.Actions(ctx, offset, limit)
}
