package owncast

import (
	"net/http"
	"sort"
	"time"

	"github.com/hearth-community/hearth/internal/httpserver"
	"github.com/hearth-community/hearth/internal/live"
	"github.com/hearth-community/hearth/internal/ratelimit"
)

// LiveService is the live-streaming domain the live*.go routes use
// (Deps.Live; nil: no stream routes are served).
type LiveService = live.Service

// registerLive adds the stream status, video and HLS routes (the
// live-streaming issue owns live*.go in this package).
func (s *Surface) registerLive(h *httpserver.Server) {
	if s.d.Live == nil {
		return
	}
	// The chat part reads stream settings and status through these hooks.
	if s.d.Chats.LiveConfig == nil {
		s.d.Chats.LiveConfig = s.liveServerConfig
	}
	if s.d.Chats.Status == nil {
		s.d.Chats.Status = s.liveStatusObject
	}
	s.d.Live.Observe(s.onLiveEvent)

	// /api/status is shared with OTT, whose clients read only "status".
	h.HandleWhen("GET /api/status", nil, s.wrap(s.handleStatus))
	h.Handle("GET /api/video/variants", s.wrap(s.handleVariants))
	h.Handle("GET /api/ping", s.wrap(s.handlePing))
	h.Handle("GET /thumbnail.jpg", s.wrap(s.handleThumb("thumbnail.jpg")))
	h.Handle("GET /preview.gif", s.wrap(s.handleThumb("preview.gif")))
	s.registerHLS(h)
	s.registerLiveAdmin(h)
}

// onLiveEvent turns the default stage's start/stop into chat presence and
// Owncast's STREAM_STARTED / STREAM_STOPPED webhooks, and any stage's start
// into its actor's go-live post (a stage channel is its own actor).
func (s *Surface) onLiveEvent(e live.Event) {
	s.onFederationLive(e)
	if !e.DefaultStage || (e.Kind != live.EventStarted && e.Kind != live.EventStopped) {
		return
	}
	online := e.Kind == live.EventStarted
	if s.d.Chat != nil {
		s.d.Chat.Presence().SetOnline(s.d.Life, online)
		s.StreamWebhook(online)
	}
	if s.d.GoLive != nil {
		s.d.GoLive.StreamChanged(online)
	}
}

func (s *Surface) stageID() string { return s.d.Live.DefaultStageID() }

func (s *Surface) version() string {
	if s.d.Chats.Version != "" {
		return s.d.Chats.Version
	}
	return "hearth"
}

// streamTitle is the instance's stream title: Owncast keeps it with the
// page settings (the chat part), else the stage's own title.
func (s *Surface) streamTitle(st live.Status) string {
	if s.d.Chat != nil {
		return s.d.Chat.Settings().StreamTitle
	}
	return st.Title
}

func (s *Surface) hideViewerCount() bool {
	return s.d.Chat != nil && s.d.Chat.Settings().HideViewerCount
}

func nullTime(t *time.Time) any {
	if t == nil {
		return nil
	}
	return t.UTC()
}

func liveNoCache(w http.ResponseWriter) {
	w.Header().Set("Cache-Control", "no-cache, no-store, must-revalidate")
}

// handleStatus is GET /api/status: Owncast's status plus OTT's "status".
func (s *Surface) handleStatus(w http.ResponseWriter, r *http.Request) {
	st, err := s.d.Live.Status(r.Context(), s.stageID())
	if err != nil {
		writeError(w, err)
		return
	}
	out := map[string]any{
		"online":             st.Online,
		"serverTime":         time.Now().UTC(),
		"lastConnectTime":    nullTime(st.LastConnect),
		"lastDisconnectTime": nullTime(st.LastDisconnect),
		"versionNumber":      s.version(),
		"streamTitle":        s.streamTitle(st),
		"status":             "ok",
	}
	// Owncast omits viewerCount when it is hidden, and (omitempty) when 0.
	if !s.hideViewerCount() && st.ViewerCount > 0 {
		out["viewerCount"] = st.ViewerCount
	}
	if ev := s.scheduledEvent(r.Context()); ev != nil {
		out["scheduledEvent"] = ev
	}
	liveNoCache(w)
	httpserver.WriteJSON(w, http.StatusOK, out)
}

// liveStatusObject is the status object webhooks and /api/yp carry.
func (s *Surface) liveStatusObject() map[string]any {
	st, err := s.d.Live.Status(s.d.Life, s.stageID())
	if err != nil {
		return map[string]any{"online": false}
	}
	return map[string]any{"online": st.Online, "viewerCount": st.ViewerCount, "overallMaxViewerCount": st.OverallPeak,
		"sessionMaxViewerCount": st.SessionPeak, "lastConnectTime": nullTime(st.LastConnect),
		"lastDisconnectTime": nullTime(st.LastDisconnect), "versionNumber": s.version(), "streamTitle": s.streamTitle(st)}
}

// handleVariants is GET /api/video/variants: [{index, name}], passthrough
// first, then by bitrate, highest first (Owncast's order).
func (s *Surface) handleVariants(w http.ResponseWriter, r *http.Request) {
	st, err := s.d.Live.StageSettings(r.Context(), s.stageID())
	if err != nil {
		writeError(w, err)
		return
	}
	type item struct {
		i int
		v live.Variant
	}
	items := make([]item, len(st.Variants))
	for i, v := range st.Variants {
		items[i] = item{i, v}
	}
	sort.SliceStable(items, func(a, b int) bool {
		if items[a].v.VideoPassthrough != items[b].v.VideoPassthrough {
			return items[a].v.VideoPassthrough
		}
		return items[a].v.VideoBitrate > items[b].v.VideoBitrate
	})
	out := make([]map[string]any, len(items))
	for i, it := range items {
		out[i] = map[string]any{"index": it.i, "name": it.v.DisplayName()}
	}
	httpserver.WriteJSON(w, http.StatusOK, out)
}

// countViewer marks the caller as an active viewer.
func (s *Surface) countViewer(r *http.Request) { s.countStageViewer(r, s.stageID()) }

func (s *Surface) countStageViewer(r *http.Request, stageID string) {
	s.d.Live.Touch(stageID, ratelimit.ClientIP(r, s.d.Chats.TrustProxy), r.UserAgent())
}

// handlePing is GET /api/ping: 200, empty; counts a viewer.
func (s *Surface) handlePing(w http.ResponseWriter, r *http.Request) {
	s.countViewer(r)
	w.WriteHeader(http.StatusOK)
}

// handleThumb is GET /thumbnail.jpg and /preview.gif: the default stage's
// latest, made by the node running its broadcast, or after it ended by the
// node that ran it (asked when that is another node and S3 is off:
// live.Service.IngestPeerURL), so every node shows the same one.
func (s *Surface) handleThumb(name string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		// Owncast answers with the logo until a thumbnail exists.
		none := http.NotFound
		if s.d.Chat != nil {
			none = func(w http.ResponseWriter, r *http.Request) {
				http.Redirect(w, r, "/logo", http.StatusTemporaryRedirect)
			}
		}
		if s.fromIngest(w, r, s.stageID(), name, none) {
			return
		}
		s.thumbLocal(w, r, s.stageID(), name, none)
	}
}

// thumbContentType is each thumbnail name's content type.
var thumbContentType = map[string]string{"thumbnail.jpg": "image/jpeg", "preview.gif": "image/gif"}

// thumbLocal serves this node's thumbnail (none: there is none yet).
func (s *Surface) thumbLocal(w http.ResponseWriter, r *http.Request, stageID, name string, none http.HandlerFunc) {
	ctype, known := thumbContentType[name]
	p, ok := s.d.Live.Thumbnail(stageID, name)
	if !known || !ok {
		none(w, r)
		return
	}
	serveFile(w, r, p, func() {
		w.Header().Set("Content-Type", ctype)
		w.Header().Set("X-Content-Type-Options", "nosniff")
		liveNoCache(w)
	})
}
