package ott

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"slices"

	"github.com/hearth-community/hearth/internal/fault"
	"github.com/hearth-community/hearth/internal/httpserver"
	"github.com/hearth-community/hearth/internal/watch"
)

type roomListItem struct {
	Name          string           `json:"name"`
	Title         string           `json:"title"`
	Description   string           `json:"description"`
	IsTemporary   bool             `json:"isTemporary"`
	Visibility    watch.Visibility `json:"visibility"`
	QueueMode     watch.QueueMode  `json:"queueMode"`
	CurrentSource *wireVideo       `json:"currentSource"`
	Users         int              `json:"users"`
}

// handleRoomList answers GET /api/room/list: the rooms running on every
// node, public ones only unless the admin apikey is given; by users, then
// name.
func (s *Surface) handleRoomList(w http.ResponseWriter, r *http.Request) {
	rooms, err := s.d.Watch.ListRooms(r.Context(), isAdmin(r))
	if err != nil {
		s.writeError(w, err)
		return
	}
	out := make([]roomListItem, 0, len(rooms))
	for _, l := range rooms {
		out = append(out, roomListItem{Name: l.Name, Title: l.Title, Description: l.Description, IsTemporary: l.IsTemporary,
			Visibility: l.Visibility, QueueMode: l.QueueMode, CurrentSource: videoOut(l.CurrentSource), Users: l.Users})
	}
	httpserver.WriteJSON(w, http.StatusOK, out)
}

func ownerOf(p *principal) string {
	if p != nil && p.loggedIn() {
		return p.account.ID
	}
	return ""
}

// handleGenerate answers POST /api/room/generate (201 {success, room}).
func (s *Surface) handleGenerate(w http.ResponseWriter, r *http.Request) {
	var body struct {
		AutoSkipSegmentCategories *[]string `json:"autoSkipSegmentCategories"`
	}
	if err := decode(r, &body); err != nil {
		s.writeError(w, err)
		return
	}
	if err := s.d.Watch.CheckGenerate(body.AutoSkipSegmentCategories); err != nil {
		s.writeError(w, schemaErr(err))
		return
	}
	if !s.charge(w, r, 50) {
		return
	}
	room, err := s.d.Watch.Generate(r.Context(), ownerOf(principalOf(r)), body.AutoSkipSegmentCategories)
	if err != nil {
		s.writeError(w, schemaErr(err))
		return
	}
	writeOK(w, http.StatusCreated, map[string]any{"room": room.Name()})
}

// handleCreate answers POST /api/room/create (201 {success}).
func (s *Surface) handleCreate(w http.ResponseWriter, r *http.Request) {
	var body struct {
		Name                      *string          `json:"name"`
		Title                     string           `json:"title"`
		Description               string           `json:"description"`
		IsTemporary               *bool            `json:"isTemporary"`
		Visibility                watch.Visibility `json:"visibility"`
		QueueMode                 watch.QueueMode  `json:"queueMode"`
		AutoSkipSegmentCategories *[]string        `json:"autoSkipSegmentCategories"`
	}
	if err := decode(r, &body); err != nil {
		s.writeError(w, err)
		return
	}
	if body.Name == nil {
		s.writeError(w, schemaErr(watch.BadArgument("name", "Required")))
		return
	}
	if issues := roomNameIssues(*body.Name); len(issues) > 0 {
		s.writeError(w, zodIssuesErr("name", issues))
		return
	}
	temp := body.IsTemporary == nil || *body.IsTemporary
	in := watch.CreateInput{Name: *body.Name, Title: body.Title, Description: body.Description,
		Temporary: temp, Visibility: body.Visibility, QueueMode: body.QueueMode, AutoSkip: body.AutoSkipSegmentCategories,
		OwnerID: ownerOf(principalOf(r))}
	// OTT checks the body's schema before taking points.
	if err := s.d.Watch.CheckCreate(in); err != nil {
		s.writeError(w, schemaErr(err))
		return
	}
	points := 50
	if !temp {
		points = 200
	}
	if !s.charge(w, r, points) {
		return
	}
	_, err := s.d.Watch.Create(r.Context(), in)
	if err != nil {
		s.writeError(w, schemaErr(err))
		return
	}
	writeOK(w, http.StatusCreated, nil)
}

// room opens the room the path names for the caller: the watch domain
// answers "Room not found" (404) for a community channel's room the caller
// cannot see, so a private room's existence does not leak.
func (s *Surface) room(w http.ResponseWriter, r *http.Request) (*watch.Room, bool) {
	room, err := s.d.Watch.Open(r.Context(), r.PathValue("name"), actor(principalOf(r)))
	if err != nil {
		s.writeError(w, err)
		return nil, false
	}
	return room, true
}

// handleGetRoom answers GET /api/room/{name} (bare body).
func (s *Surface) handleGetRoom(w http.ResponseWriter, r *http.Request) {
	room, ok := s.room(w, r)
	if !ok {
		return
	}
	snap, err := room.Describe(r.Context())
	if err != nil {
		s.writeError(w, err)
		return
	}
	httpserver.WriteJSON(w, http.StatusOK, map[string]any{
		"name": snap.Name, "title": snap.Title, "description": snap.Description, "isTemporary": snap.IsTemporary,
		"visibility": snap.Visibility, "queueMode": snap.QueueMode, "users": usersOut(snap.Users), "grants": grantsOut(snap.Grants),
		"autoSkipSegmentCategories": snap.AutoSkip, "restoreQueueBehavior": snap.Restore,
		"enableVoteSkip": snap.VoteSkip, "queue": videosOut(snap.Queue), "hasOwner": snap.HasOwner,
	})
}

// handlePatchRoom answers PATCH /api/room/{name}: a claim or settings.
// As OTT, the body is checked before the room is looked up, and read as its
// schema union: strict settings, else {claim: boolean} (other keys beside a
// claim are ignored).
func (s *Surface) handlePatchRoom(w http.ResponseWriter, r *http.Request) {
	var raw map[string]json.RawMessage
	if err := decode(r, &raw); err != nil {
		s.writeError(w, err)
		return
	}
	b, _ := json.Marshal(raw)
	settings, err := parseSettings(b)
	if err == nil {
		err = watch.CheckSettings(settings)
	}
	var claim *bool
	if err != nil {
		c, ok := raw["claim"]
		switch string(bytes.TrimSpace(c)) {
		case "true", "false":
			claim = new(string(bytes.TrimSpace(c)) == "true")
		default:
			if ok {
				err = watch.BadArgument("claim", "Expected boolean")
			}
			s.writeError(w, schemaErr(err))
			return
		}
	}
	// OTT then needs a token (the admin apikey alone is not one), before
	// it looks the room up.
	p := principalOf(r)
	if p == nil {
		s.writeError(w, errMissingToken)
		return
	}
	room, ok := s.room(w, r)
	if !ok {
		return
	}
	if claim != nil {
		if *claim {
			if p == nil || !p.loggedIn() {
				messageOnly(w, http.StatusUnauthorized, "Must be logged in to claim room ownership.")
				return
			}
			if err := s.d.Watch.Claim(r.Context(), room, actor(p)); err != nil {
				s.writeError(w, err)
				return
			}
		}
		writeOK(w, http.StatusOK, nil)
		return
	}
	if err := s.d.Watch.ApplySettings(r.Context(), room, actor(p), settings); err != nil {
		s.writeError(w, schemaErr(err))
		return
	}
	writeOK(w, http.StatusOK, nil)
}

// handleDeleteRoom answers DELETE /api/room/{name}: ?permanent=true by the
// logged-in owner deletes the room; otherwise the admin apikey unloads it.
func (s *Surface) handleDeleteRoom(w http.ResponseWriter, r *http.Request) {
	p := principalOf(r)
	if r.URL.Query().Get("permanent") == "true" {
		if p == nil || !p.loggedIn() {
			writeFail(w, http.StatusUnauthorized, errBody{Name: "Unauthorized", Message: "Must be logged in to permanently delete a room."})
			return
		}
		room, ok := s.room(w, r)
		if !ok {
			return
		}
		err := s.d.Watch.Delete(r.Context(), room, actor(p))
		switch watch.CodeOf(err) {
		case "":
		case watch.CodeBadArgument:
			writeFail(w, http.StatusBadRequest, errBody{Name: "BadApiArgumentException", Message: "Temporary rooms cannot be permanently deleted."})
			return
		case watch.CodePermissionDenied:
			writeFail(w, http.StatusForbidden, errBody{Name: "PermissionDeniedException", Message: "Only the owner can permanently delete this room."})
			return
		default:
			s.writeError(w, err)
			return
		}
		if err != nil {
			s.writeError(w, err)
			return
		}
		writeOK(w, http.StatusOK, nil)
		return
	}
	if !isAdmin(r) {
		writeFail(w, http.StatusBadRequest, errBody{Name: "Unauthorized", Message: "Admin apikey is required to unload a room."})
		return
	}
	room, err := s.d.Watch.Get(r.Context(), r.PathValue("name"))
	if err != nil {
		s.writeError(w, err)
		return
	}
	s.d.Watch.Unload(room, watch.CloseUnloaded)
	writeOK(w, http.StatusOK, nil)
}

// errMissingToken is OTT's answer to a room change made with the admin
// apikey and no token: a plain OttException, whose name is Error's.
var errMissingToken = ottErr(http.StatusBadRequest, "Error", "Missing token")

// connected finds the caller's socket in the room (vote and undo need one).
// As in OTT, which looks for the caller's client and never for the room, a
// room that does not exist (or that the caller may not see) answers
// ClientNotFoundInRoomException naming the room as the path does.
func (s *Surface) connected(w http.ResponseWriter, r *http.Request) (*watch.Room, string, bool) {
	p := principalOf(r)
	if p == nil {
		s.writeError(w, errMissingToken)
		return nil, "", false
	}
	notFound := &watch.Error{Kind: fault.Invalid, Code: watch.CodeClientNotFound, Msg: `The server was unable to find a client in the room "` +
		r.PathValue("name") + `" associated with the session. This might mean that your browser isn't saving cookies, try refreshing. If you aren't connected to the room, reconnect to the room and try again. This could also mean that the room does not exist at all.`}
	room, err := s.d.Watch.Open(r.Context(), r.PathValue("name"), actor(p))
	if err != nil {
		if watch.CodeOf(err) == watch.CodeRoomNotFound || errors.Is(err, watch.ErrRoomNotFound) {
			err = notFound
		}
		s.writeError(w, err)
		return nil, "", false
	}
	id, ok := room.ClientBySession(p.sessionID())
	if !ok {
		s.writeError(w, notFound)
		return nil, "", false
	}
	return room, id, true
}

// handleUndo answers POST /api/room/{name}/undo {data:{event}}.
func (s *Surface) handleUndo(w http.ResponseWriter, r *http.Request) {
	var body struct {
		Data struct {
			Event *wireEventRecord `json:"event"`
		} `json:"data"`
	}
	if err := decode(r, &body); err != nil {
		s.writeError(w, err)
		return
	}
	room, client, ok := s.connected(w, r)
	if !ok {
		return
	}
	if body.Data.Event == nil {
		s.writeError(w, watch.BadArgument("event", "missing"))
		return
	}
	ev, err := body.Data.Event.record()
	if err != nil {
		s.writeError(w, err)
		return
	}
	if err := s.d.Watch.Handle(r.Context(), room, actor(principalOf(r)), client, watch.Request{Type: watch.ReqUndo, Event: ev}); err != nil {
		s.writeError(w, err)
		return
	}
	writeOK(w, http.StatusOK, nil)
}

type videoBody struct {
	Service     string `json:"service"`
	ID          string `json:"id"`
	SubtitleURL string `json:"subtitleUrl,omitempty"`
}

// ottServices are the service names OTT's request schemas accept
// (ALL_VIDEO_SERVICES); any other is a ZodValidationError there.
var ottServices = []string{"youtube", "vimeo", "direct", "hls", "dash", "tubi", "reddit", "googledrive", "peertube",
	"pluto", "invidious", "odysee"}

// valid checks a video body as OTT's schemas do; a refusal is a
// ZodValidationError.
func (b *videoBody) valid() error {
	switch {
	case b.Service == "":
		return schemaErr(watch.BadArgument("service", "Required"))
	case !slices.Contains(ottServices, b.Service):
		return schemaErr(watch.BadArgument("service", "Invalid enum value"))
	case b.ID == "":
		return schemaErr(watch.BadArgument("id", "Required"))
	}
	return validSubtitleURL(b.SubtitleURL)
}

// validSubtitleURL checks a subtitleUrl as OTT's schema does (a URL, when
// given); whether it is WebVTT the room checks.
func validSubtitleURL(s string) error {
	if u, err := url.Parse(s); s != "" && (err != nil || u.Scheme == "") {
		return schemaErr(watch.BadArgument("subtitleUrl", "Invalid url"))
	}
	return nil
}

// handleVote answers POST/DELETE /api/room/{name}/vote {service,id}.
func (s *Surface) handleVote(add bool) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		var body videoBody
		if err := decode(r, &body); err != nil {
			s.writeError(w, err)
			return
		}
		if err := body.valid(); err != nil {
			s.writeError(w, err)
			return
		}
		room, client, ok := s.connected(w, r)
		if !ok {
			return
		}
		err := s.d.Watch.Handle(r.Context(), room, actor(principalOf(r)), client,
			watch.Request{Type: watch.ReqVote, Video: &watch.VideoRef{Service: body.Service, ID: body.ID}, Add: &add})
		if err != nil {
			s.writeError(w, err)
			return
		}
		writeOK(w, http.StatusOK, nil)
	}
}

// handleAddToQueue answers POST /api/room/{name}/queue: one video, a list,
// or a URL. 5 points, or 3 per video for a list.
func (s *Surface) handleAddToQueue(w http.ResponseWriter, r *http.Request) {
	var body struct {
		videoBody
		Videos []videoBody `json:"videos"`
		URL    string      `json:"url"`
	}
	if err := decode(r, &body); err != nil {
		s.writeError(w, err)
		return
	}
	// OTT's schema is a union tried in this order: a list, one video,
	// a link. An empty list passes it (the room then answers
	// VideoAlreadyQueued: nothing was added).
	req := watch.Request{Type: watch.ReqAdd}
	switch {
	case body.Videos != nil:
		if len(body.Videos) > watch.MaxAdd {
			s.writeError(w, schemaErr(watch.BadArgument("videos", "must hold at most 100 videos")))
			return
		}
		req.Videos = make([]watch.VideoRef, 0, len(body.Videos))
		for _, v := range body.Videos {
			if err := v.valid(); err != nil {
				s.writeError(w, err)
				return
			}
			req.Videos = append(req.Videos, watch.VideoRef(v))
		}
	case body.videoBody.valid() == nil:
		v := watch.VideoRef(body.videoBody)
		req.Video = &v
	case body.URL != "":
		req.URL = body.URL
	default:
		s.writeError(w, body.videoBody.valid())
		return
	}
	if !s.charge(w, r, addCost(req)) {
		return
	}
	room, ok := s.room(w, r)
	if !ok {
		return
	}
	if err := s.d.Watch.Handle(s.callerCtx(r), room, actor(principalOf(r)), s.clientOf(room, r), req); err != nil {
		s.writeError(w, err)
		return
	}
	writeOK(w, http.StatusOK, nil)
}

// addCost is what an add costs from the caller's bucket (OTT's: 3 points
// a video for a list, 5 for one video or a URL); 0 for other requests.
func addCost(req watch.Request) int {
	switch {
	case req.Type != watch.ReqAdd:
		return 0
	case req.Videos != nil:
		return 3 * len(req.Videos)
	}
	return 5
}

// clientOf is the caller's socket in the room if any ("" otherwise), so
// events name the user as connected.
func (s *Surface) clientOf(room *watch.Room, r *http.Request) string {
	if p := principalOf(r); p != nil {
		if id, ok := room.ClientBySession(p.sessionID()); ok {
			return id
		}
	}
	return ""
}

// handleUpdateQueueItem answers PATCH /api/room/{name}/queue.
func (s *Surface) handleUpdateQueueItem(w http.ResponseWriter, r *http.Request) {
	var body struct {
		videoBody
		SubtitleURL *string `json:"subtitleUrl"`
	}
	if err := decode(r, &body); err != nil {
		s.writeError(w, err)
		return
	}
	if err := body.videoBody.valid(); err != nil {
		s.writeError(w, err)
		return
	}
	if body.SubtitleURL != nil && (*body.SubtitleURL == "" || validSubtitleURL(*body.SubtitleURL) != nil) {
		s.writeError(w, schemaErr(watch.BadArgument("subtitleUrl", "Invalid url")))
		return
	}
	if !s.charge(w, r, 5) {
		return
	}
	room, ok := s.room(w, r)
	if !ok {
		return
	}
	req := watch.Request{Type: watch.ReqUpdateQueueItem, Video: &watch.VideoRef{Service: body.Service, ID: body.ID},
		Update: &watch.QueueItemUpdate{SubtitleURL: body.SubtitleURL}}
	if err := s.d.Watch.Handle(r.Context(), room, actor(principalOf(r)), s.clientOf(room, r), req); err != nil {
		s.writeError(w, err)
		return
	}
	writeOK(w, http.StatusOK, nil)
}

// handleRemoveFromQueue answers DELETE /api/room/{name}/queue.
func (s *Surface) handleRemoveFromQueue(w http.ResponseWriter, r *http.Request) {
	var body videoBody
	if err := decode(r, &body); err != nil {
		s.writeError(w, err)
		return
	}
	if err := body.valid(); err != nil {
		s.writeError(w, err)
		return
	}
	if !s.charge(w, r, 5) {
		return
	}
	room, ok := s.room(w, r)
	if !ok {
		return
	}
	req := watch.Request{Type: watch.ReqRemove, Video: &watch.VideoRef{Service: body.Service, ID: body.ID}}
	if err := s.d.Watch.Handle(r.Context(), room, actor(principalOf(r)), s.clientOf(room, r), req); err != nil {
		s.writeError(w, err)
		return
	}
	writeOK(w, http.StatusOK, nil)
}

// handleOwnedRooms answers GET /api/user/owned-rooms.
func (s *Surface) handleOwnedRooms(w http.ResponseWriter, r *http.Request) {
	p := principalOf(r)
	if !s.requireLogin(w, p) {
		return
	}
	recs, err := s.d.Watch.OwnedRooms(r.Context(), p.account.ID)
	if err != nil {
		s.writeError(w, err)
		return
	}
	out := make([]roomListItem, 0, len(recs))
	for _, rec := range recs {
		out = append(out, roomListItem{Name: rec.Name, Title: rec.Title, Description: rec.Description, IsTemporary: rec.IsTemporary,
			Visibility: rec.Visibility, QueueMode: rec.QueueMode})
	}
	writeOK(w, http.StatusOK, map[string]any{"data": out})
}

// handleAnnounce answers POST /api/announce {text} (admin apikey).
func (s *Surface) handleAnnounce(w http.ResponseWriter, r *http.Request) {
	// A wrong key never gets here: the token middleware refuses it.
	if r.Header.Get("apikey") == "" || !isAdmin(r) {
		writeFail(w, http.StatusBadRequest, errBody{Name: "MissingApiKey", Message: "apikey was not supplied"})
		return
	}
	var body struct {
		Text string `json:"text"`
	}
	if err := decode(r, &body); err != nil {
		s.writeError(w, err)
		return
	}
	if body.Text == "" {
		s.writeError(w, watch.BadArgument("text", "missing"))
		return
	}
	if err := s.d.Watch.Announce(r.Context(), body.Text); err != nil {
		// OTT's announce route has its own answer for a failed publish.
		s.log.Error("announce", "err", err)
		writeFail(w, http.StatusInternalServerError, errBody{Name: "Unknown", Message: "Unknown, check logs"})
		return
	}
	writeOK(w, http.StatusOK, nil)
}

// handlePreviewAdd answers GET /api/data/previewAdd?input=&adapter=.
func (s *Surface) handlePreviewAdd(w http.ResponseWriter, r *http.Request) {
	input := r.URL.Query().Get("input")
	if input == "" {
		s.writeError(w, watch.BadArgument("input", "missing"))
		return
	}
	points := 75
	if isLikelyURL(input) {
		points = 5
	}
	if !s.charge(w, r, points) {
		return
	}
	if s.d.Media == nil {
		s.writeError(w, ottErr(http.StatusBadRequest, "FeatureDisabledException", "Sorry, this feature is disabled: video previews."))
		return
	}
	pv, err := s.d.Media.Preview(s.callerCtx(r), input, r.URL.Query().Get("adapter"))
	if err != nil {
		s.writeError(w, err)
		return
	}
	w.Header().Set("Cache-Control", "public, max-age="+itoa(pv.CacheSeconds)+", immutable, stale-while-revalidate=86400")
	body := map[string]any{"success": true, "result": nonNilSlice(videosOut(pv.Result))}
	if pv.Highlighted != nil {
		body["highlighted"] = videoOut(pv.Highlighted)
	}
	httpserver.WriteJSON(w, http.StatusOK, body)
}

// roomNameIssues are the domain's NameIssues of a new room's name (OTT's
// zod schema's) as zod issues at "name".
func roomNameIssues(name string) []zodIssue {
	var out []zodIssue
	for _, is := range watch.NameIssues(name) {
		out = append(out, zodIssue{Code: is.Code, Message: is.Message, Path: []string{"name"}})
	}
	return out
}
