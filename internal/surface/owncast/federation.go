package owncast

import (
	"context"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/hearth-community/hearth/internal/fault"
	"github.com/hearth-community/hearth/internal/federation"
	"github.com/hearth-community/hearth/internal/httpserver"
	"github.com/hearth-community/hearth/internal/live"
	"github.com/hearth-community/hearth/internal/messages"
	"github.com/hearth-community/hearth/internal/ratelimit"
	"github.com/hearth-community/hearth/internal/stagechat"
)

// registerFederation adds Owncast's fediverse routes (research/owncast.md
// §1.6): discovery, the actor, its inbox, outbox and followers, stored
// objects, and the public and admin follower routes. Every discovery and
// /federation/ route answers 405 while federation is disabled, as
// Owncast's do; unknown /federation/ paths answer a JSON 404 (307 to / for
// a browser), never the web app.
func (s *Surface) registerFederation(h *httpserver.Server) {
	if s.d.Federation == nil {
		return
	}
	f := s.d.Federation
	on := func(next http.HandlerFunc) http.Handler {
		return s.wrap(func(w http.ResponseWriter, r *http.Request) {
			if !f.Enabled() {
				w.WriteHeader(http.StatusMethodNotAllowed)
				return
			}
			next(w, r)
		})
	}
	h.Handle("GET /.well-known/webfinger", on(func(w http.ResponseWriter, r *http.Request) {
		res := r.URL.Query().Get("resource")
		if res == "" {
			writeFedError(w, fault.New(fault.Invalid, "resource is required"))
			return
		}
		doc, err := f.WebFinger(r.Context(), res)
		// A JRD is application/jrd+json (RFC 7033 §10.2), as Owncast
		// serves it.
		writeFedDoc(w, "application/jrd+json", doc, err)
	}))
	// host-meta answers 405 while disabled like the others, as Owncast's
	// newest does (its HostMetaController gained the check; earlier ones
	// answered 404 only for want of a server URL).
	h.Handle("GET /.well-known/host-meta", on(func(w http.ResponseWriter, r *http.Request) {
		doc, err := f.HostMeta()
		if err != nil {
			writeFedError(w, err)
			return
		}
		w.Header().Set("Content-Type", "application/xrd+xml; charset=utf-8")
		_, _ = w.Write([]byte(doc))
	}))
	h.Handle("GET /.well-known/nodeinfo", on(func(w http.ResponseWriter, r *http.Request) {
		doc, err := f.NodeInfoLinks()
		writeFedDoc(w, "application/json", doc, err)
	}))
	h.Handle("GET /nodeinfo/2.0", on(func(w http.ResponseWriter, r *http.Request) {
		chatOn := s.d.Chat != nil && !s.d.Chat.Settings().ChatDisabled
		writeFedDoc(w, `application/json; profile="http://nodeinfo.diaspora.software/ns/schema/2.0#"`,
			f.NodeInfo(r.Context(), chatOn), nil)
	}))
	h.Handle("GET /.well-known/x-nodeinfo2", on(func(w http.ResponseWriter, r *http.Request) {
		doc, err := f.XNodeInfo2(r.Context())
		writeFedDoc(w, "application/json", doc, err)
	}))
	h.Handle("GET /api/v1/instance", on(func(w http.ResponseWriter, r *http.Request) {
		doc, err := f.Instance(r.Context())
		writeFedDoc(w, "application/json", doc, err)
	}))

	// The actor and its collections.
	h.Handle("GET /federation/user/{username}", on(func(w http.ResponseWriter, r *http.Request) {
		if !wantsActivity(r) {
			http.Redirect(w, r, "/", http.StatusTemporaryRedirect)
			return
		}
		doc, err := f.ActorDocument(s.fetchSender(r), r.PathValue("username"), r)
		writeFedDoc(w, federation.ContentType, doc, err)
	}))
	h.Handle("POST /federation/user/{username}/inbox", on(func(w http.ResponseWriter, r *http.Request) {
		if err := f.Inbox(s.fetchSender(r), r.PathValue("username"), r); err != nil {
			s.log.Debug("inbox refused", "err", err)
			writeFedError(w, err)
			return
		}
		w.WriteHeader(http.StatusAccepted)
	}))
	h.Handle("GET /federation/user/{username}/outbox", on(func(w http.ResponseWriter, r *http.Request) {
		doc, err := f.OutboxCollection(r.Context(), r.PathValue("username"))
		writeFedDoc(w, federation.ContentType, doc, err)
	}))
	h.Handle("GET /federation/user/{username}/followers", on(func(w http.ResponseWriter, r *http.Request) {
		doc, err := f.FollowersCollection(r.Context(), r.PathValue("username"))
		writeFedDoc(w, federation.ContentType, doc, err)
	}))
	h.Handle("GET /federation/{id}", on(func(w http.ResponseWriter, r *http.Request) {
		if !wantsActivity(r) {
			http.Redirect(w, r, "/", http.StatusTemporaryRedirect)
			return
		}
		b, err := f.Object(r.Context(), r.PathValue("id"))
		if err != nil {
			writeFedError(w, err)
			return
		}
		w.Header().Set("Content-Type", federation.ContentType)
		_, _ = w.Write(b)
	}))
	// Everything else under /federation/: 405 while disabled, then 307 for
	// a browser and a JSON 404 for a client.
	// (Per method, so the mux still answers other methods with 405 and
	// an Allow header.)
	notFound := on(func(w http.ResponseWriter, r *http.Request) {
		if !wantsActivity(r) && r.Method == http.MethodGet {
			http.Redirect(w, r, "/", http.StatusTemporaryRedirect)
			return
		}
		writeResult(w, http.StatusNotFound, false, "not found")
	})
	h.Handle("GET /federation/", notFound)
	h.Handle("POST /federation/", notFound)
	h.Handle("GET /nodeinfo/", on(func(w http.ResponseWriter, r *http.Request) {
		writeResult(w, http.StatusNotFound, false, "not found")
	}))

	// Public follower routes.
	h.Handle("GET /api/followers", s.wrap(func(w http.ResponseWriter, r *http.Request) {
		s.writeFollowers(w, r, "", federation.Approved, true)
	}))
	h.Handle("POST /api/remotefollow", s.wrap(func(w http.ResponseWriter, r *http.Request) {
		var req struct {
			Account string `json:"account"`
		}
		if !readJSON(w, r, &req) {
			return
		}
		u, err := f.RemoteFollowURL(r.Context(), req.Account)
		if err != nil {
			writeError(w, err)
			return
		}
		httpserver.WriteJSON(w, http.StatusOK, map[string]any{"redirectUrl": u})
	}))

	if s.d.FediverseAuth != nil {
		h.Handle("POST /api/auth/fediverse", s.wrap(s.requireChatUser(func(w http.ResponseWriter, r *http.Request) {
			var req struct {
				Account string `json:"account"`
			}
			if !readJSON(w, r, &req) {
				return
			}
			if err := s.d.FediverseAuth.Start(r.Context(), chatUser(r), r.URL.Query().Get("accessToken"), req.Account); err != nil {
				// Too many pending requests is Owncast's 400 (its spec
				// gives this operation no other refusal but 401), not 429.
				writeReportError(w, err)
				return
			}
			writeResult(w, http.StatusOK, true, "code sent")
		})))
		h.Handle("POST /api/auth/fediverse/verify", s.wrap(func(w http.ResponseWriter, r *http.Request) {
			var req struct {
				Code string `json:"code"`
			}
			if !readJSON(w, r, &req) {
				return
			}
			if err := s.d.FediverseAuth.Verify(r.Context(), req.Code); err != nil {
				writeError(w, err)
				return
			}
			writeResult(w, http.StatusOK, true, "authenticated")
		}))
	}

	// Admin.
	s.admin(h, "GET /api/admin/followers", func(w http.ResponseWriter, r *http.Request) {
		s.writeFollowers(w, r, "", federation.Approved, true)
	})
	s.admin(h, "GET /api/admin/followers/pending", func(w http.ResponseWriter, r *http.Request) {
		s.writeFollowers(w, r, "", federation.Pending, false)
	})
	s.admin(h, "GET /api/admin/followers/blocked", func(w http.ResponseWriter, r *http.Request) {
		s.writeFollowers(w, r, "", federation.Blocked, false)
	})
	s.admin(h, "POST /api/admin/followers/approve", func(w http.ResponseWriter, r *http.Request) {
		var req struct {
			ActorIRI string `json:"actorIRI"`
			Approved bool   `json:"approved"`
		}
		if !readJSON(w, r, &req) {
			return
		}
		if err := f.Approve(r.Context(), "", req.ActorIRI, req.Approved); err != nil {
			writeError(w, err)
			return
		}
		writeResult(w, http.StatusOK, true, "follower updated")
	})
	s.admin(h, "POST /api/admin/followers/remove", func(w http.ResponseWriter, r *http.Request) {
		var req struct {
			ActorIRI string `json:"actorIRI"`
		}
		if !readJSON(w, r, &req) {
			return
		}
		if err := f.Remove(r.Context(), "", req.ActorIRI); err != nil {
			writeError(w, err)
			return
		}
		writeResult(w, http.StatusOK, true, "follower removed")
	})
	s.admin(h, "POST /api/admin/federation/send", s.valueHandler(func(r *http.Request, v string) error {
		return f.SendPublic(r.Context(), v)
	}))
	// Hearth's extra: each stage channel's actor, switchable per channel.
	s.admin(h, "GET /api/admin/federation/stages/{channelId}", func(w http.ResponseWriter, r *http.Request) {
		a, err := f.Stage(r.Context(), r.PathValue("channelId"))
		if err != nil {
			writeError(w, err)
			return
		}
		writeStageActor(w, f, a)
	})
	s.admin(h, "POST /api/admin/federation/stages/{channelId}", func(w http.ResponseWriter, r *http.Request) {
		var req struct {
			Enabled *bool `json:"enabled"`
		}
		if !readJSON(w, r, &req) {
			return
		}
		if req.Enabled == nil {
			writeResult(w, http.StatusBadRequest, false, "enabled is required")
			return
		}
		if err := f.SetStageEnabled(r.Context(), r.PathValue("channelId"), *req.Enabled); err != nil {
			writeError(w, err)
			return
		}
		a, err := f.Stage(r.Context(), r.PathValue("channelId"))
		if err != nil {
			writeError(w, err)
			return
		}
		writeStageActor(w, f, a)
	})
	// A stage channel actor's followers, as the server actor's above: in
	// private mode its follows wait here for the admin's approval.
	stageUser := func(w http.ResponseWriter, r *http.Request) (string, bool) {
		a, err := f.Stage(r.Context(), r.PathValue("channelId"))
		if err != nil {
			writeError(w, err)
			return "", false
		}
		return a.Username, true
	}
	s.admin(h, "GET /api/admin/federation/stages/{channelId}/followers", func(w http.ResponseWriter, r *http.Request) {
		user, ok := stageUser(w, r)
		if !ok {
			return
		}
		var state federation.FollowerState
		switch r.URL.Query().Get("state") {
		case "", "approved":
			state = federation.Approved
		case "pending":
			state = federation.Pending
		case "blocked":
			state = federation.Blocked
		default:
			writeResult(w, http.StatusBadRequest, false, "state is approved, pending or blocked")
			return
		}
		s.writeFollowers(w, r, user, state, true)
	})
	s.admin(h, "POST /api/admin/federation/stages/{channelId}/followers/approve", func(w http.ResponseWriter, r *http.Request) {
		var req struct {
			ActorIRI string `json:"actorIRI"`
			Approved bool   `json:"approved"`
		}
		if !readJSON(w, r, &req) {
			return
		}
		user, ok := stageUser(w, r)
		if !ok {
			return
		}
		if err := f.Approve(r.Context(), user, req.ActorIRI, req.Approved); err != nil {
			writeError(w, err)
			return
		}
		writeResult(w, http.StatusOK, true, "follower updated")
	})
	s.admin(h, "POST /api/admin/federation/stages/{channelId}/followers/remove", func(w http.ResponseWriter, r *http.Request) {
		var req struct {
			ActorIRI string `json:"actorIRI"`
		}
		if !readJSON(w, r, &req) {
			return
		}
		user, ok := stageUser(w, r)
		if !ok {
			return
		}
		if err := f.Remove(r.Context(), user, req.ActorIRI); err != nil {
			writeError(w, err)
			return
		}
		writeResult(w, http.StatusOK, true, "follower removed")
	})
	// Owncast 0.2's featured streams: servers this one follows.
	h.Handle("GET /api/federation/servers", s.wrap(func(w http.ResponseWriter, r *http.Request) {
		s.writeFollowing(w, r, false)
	}))
	s.admin(h, "GET /api/admin/federation/servers", func(w http.ResponseWriter, r *http.Request) {
		s.writeFollowing(w, r, true)
	})
	s.admin(h, "POST /api/admin/federation/servers", func(w http.ResponseWriter, r *http.Request) {
		var req struct {
			URL string `json:"url"`
			// Stage (Hearth's extra) makes a stage channel's actor follow.
			Stage string `json:"stage"`
		}
		if !readJSON(w, r, &req) {
			return
		}
		username := ""
		if req.Stage != "" {
			username = federation.StagePrefix + strings.ToLower(req.Stage)
		}
		fl, err := f.Follow(r.Context(), username, req.URL)
		if err != nil {
			writeError(w, err)
			return
		}
		httpserver.WriteJSON(w, http.StatusOK, followingJSON(f, fl, true))
	})
	s.admin(h, "DELETE /api/admin/federation/servers/{id}", func(w http.ResponseWriter, r *http.Request) {
		if err := f.Unfollow(r.Context(), r.PathValue("id")); err != nil {
			writeError(w, err)
			return
		}
		writeResult(w, http.StatusOK, true, "unfollowed")
	})
	s.admin(h, "GET /api/admin/federation/actions", func(w http.ResponseWriter, r *http.Request) {
		off, lim := paging(r)
		as, total, err := f.Actions(r.Context(), off, lim)
		if err != nil {
			writeError(w, err)
			return
		}
		out := make([]map[string]any, 0, len(as))
		for _, a := range as {
			out = append(out, map[string]any{"timestamp": a.CreatedAt, "iri": a.IRI, "actorIRI": a.ActorIRI, "type": a.Type})
		}
		httpserver.WriteJSON(w, http.StatusOK, map[string]any{"total": total, "results": out})
	})
}

// writeFollowing writes the featured streams: the servers the server
// actor follows that accepted (public), or every actor's followings with
// their state (admin).
func (s *Surface) writeFollowing(w http.ResponseWriter, r *http.Request, admin bool) {
	f := s.d.Federation
	out := []map[string]any{}
	if !f.Enabled() && !admin {
		httpserver.WriteJSON(w, http.StatusOK, map[string]any{"servers": out})
		return
	}
	fs, err := f.Followings(r.Context(), "", admin)
	if err != nil {
		writeError(w, err)
		return
	}
	for _, fl := range fs {
		if !admin && fl.AcceptedAt == nil {
			continue
		}
		out = append(out, followingJSON(f, fl, admin))
	}
	httpserver.WriteJSON(w, http.StatusOK, map[string]any{"servers": out})
}

// followingJSON is one featured stream (Owncast 0.2's FederatedServer,
// with Hearth's post fields).
func followingJSON(f *federation.Service, fl *federation.Following, admin bool) map[string]any {
	m := map[string]any{"id": fl.ID, "iri": fl.IRI, "name": fl.Name, "username": fl.Username, "logoUrl": fl.Image,
		"isOnline": fl.Live(f.Now(), f.LiveWindow()), "streamTitle": fl.PostText, "url": fl.PostURL,
		"previewUrl": fl.PostPreview, "lastLiveAt": fl.LiveAt, "lastPostAt": fl.PostAt}
	if admin {
		m["actor"], m["accepted"], m["createdAt"] = fl.Actor, fl.AcceptedAt != nil, fl.CreatedAt
	}
	return m
}

// writeFollowers writes Owncast's follower list: {total, results} when
// paged, a bare array otherwise.
// writeFollowers writes a local actor's followers in a state (username
// "": the server actor's).
func (s *Surface) writeFollowers(w http.ResponseWriter, r *http.Request, username string, state federation.FollowerState, paged bool) {
	off, lim := paging(r)
	if !paged {
		off, lim = 0, 1000
	}
	fs, total, err := s.d.Federation.Followers(r.Context(), username, state, off, lim)
	if err != nil {
		writeError(w, err)
		return
	}
	out := make([]map[string]any, 0, len(fs))
	for _, f := range fs {
		out = append(out, map[string]any{"link": f.IRI, "name": f.Name, "username": f.Username, "image": f.Image,
			"timestamp": f.CreatedAt, "disabledAt": f.DisabledAt})
	}
	if !paged {
		httpserver.WriteJSON(w, http.StatusOK, out)
		return
	}
	httpserver.WriteJSON(w, http.StatusOK, map[string]any{"total": total, "results": out})
}

// paging reads Owncast's ?offset=&limit= (limit default 50, at most 500).
func paging(r *http.Request) (int, int) {
	off, _ := strconv.Atoi(r.URL.Query().Get("offset"))
	lim, err := strconv.Atoi(r.URL.Query().Get("limit"))
	if err != nil || lim <= 0 {
		lim = 50
	}
	return max(off, 0), min(lim, 500)
}

// wantsActivity reports whether the client asked for JSON (an ActivityPub
// client) rather than a web page.
func wantsActivity(r *http.Request) bool {
	a := r.Header.Get("Accept")
	return strings.Contains(a, "json")
}

// writeFedDoc writes a federation document or its error.
func writeFedDoc(w http.ResponseWriter, contentType string, doc any, err error) {
	if err != nil {
		writeFedError(w, err)
		return
	}
	b, err := json.Marshal(doc)
	if err != nil {
		writeFedError(w, err)
		return
	}
	w.Header().Set("Content-Type", contentType)
	_, _ = w.Write(b)
}

// writeFedError maps federation errors: a refused signature is 401, a
// blocked domain or a mismatched actor 403.
func writeFedError(w http.ResponseWriter, err error) {
	writeError(w, err)
}

// onFederationLive posts the go-live note when the default stage starts
// on this node.
func (s *Surface) onFederationLive(e live.Event) {
	if s.d.Federation == nil || e.Kind != live.EventStarted {
		return
	}
	username := ""
	if !e.DefaultStage {
		// A stage channel's stage has the channel's id.
		username = federation.StagePrefix + e.StageID
	}
	go func() {
		ctx, cancel := context.WithTimeout(s.d.Life, time.Minute)
		defer cancel()
		err := s.d.Federation.GoLive(ctx, username, e.StreamTitle)
		if err != nil && !(username != "" && fault.KindOf(err) == fault.NotFound) {
			s.log.Warn("federation go-live post", "stage", e.StageID, "err", err)
		}
	}()
}

// fediverseJSON fills Owncast's FEDIVERSE_ENGAGEMENT_* chat event.
func fediverseJSON(out map[string]any, m *messages.Message) {
	e, _ := stagechat.EngagementOf(m)
	out["type"] = e.Type
	out["image"] = e.Image
	out["link"] = e.Link
	out["title"] = e.Title
}

// profileKey snapshots what followers see of the server actor.
func (s *Surface) profileKey() string {
	if s.d.Federation == nil {
		return ""
	}
	return federation.ProfileKey(s.d.Federation.Settings())
}

// profileChanged sends followers an Update when a config change altered
// the server actor's profile.
func (s *Surface) profileChanged(ctx context.Context, before string) {
	if s.d.Federation == nil || s.profileKey() == before {
		return
	}
	if err := s.d.Federation.ProfileChanged(context.WithoutCancel(ctx)); err != nil {
		s.log.Warn("federation profile update", "err", err)
	}
}

// FediverseWebhook delivers a FEDIVERSE_ENGAGEMENT_* webhook for an
// inbound follow, like or boost (federation's OnEngagement, with the chat).
func (s *Surface) FediverseWebhook(e federation.Engagement) {
	if s.d.Webhooks == nil {
		return
	}
	name := e.Name
	if name == "" {
		name = e.Username
	}
	s.d.Webhooks.Dispatch(s.d.Life, e.Type, map[string]any{"id": newEventID(), "timestamp": time.Now().UTC(),
		"type": e.Type, "body": name + " " + e.Body, "image": e.Image, "link": e.ActorIRI, "title": e.Username})
}

func writeStageActor(w http.ResponseWriter, f *federation.Service, a *federation.StageActor) {
	account := a.Username
	if u, err := urlHost(f.Settings().ServerURL); err == nil && u != "" {
		account += "@" + u
	}
	httpserver.WriteJSON(w, http.StatusOK, map[string]any{"channelId": a.ChannelID, "account": account,
		"enabled": a.Enabled, "public": a.Public, "followerCount": a.Followers})
}

// fetchSender is r's context naming its client's address (the IPv6 /64)
// as the sender whose share of the federation's remote fetches a fetch it
// causes counts against (federation.FetchesPerSender).
func (s *Surface) fetchSender(r *http.Request) context.Context {
	return ratelimit.WithTurnKey(r.Context(), ratelimit.AddrTurnKey(ratelimit.AddrKey(s.clientIP(r))))
}
