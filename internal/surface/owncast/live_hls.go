package owncast

import (
	"bytes"
	"context"
	"net/http"
	"os"
	"strconv"
	"time"

	"github.com/hearth-community/hearth/internal/hls"
	"github.com/hearth-community/hearth/internal/httpserver"
)

// registerHLS serves the default stage's HLS: the master playlist, media
// playlists and segments, with Owncast's headers and explicit content
// types (Owncast serves .ts with whatever the OS mime table says).
func (s *Surface) registerHLS(h *httpserver.Server) {
	h.Handle("GET /hls/stream.m3u8", s.wrap(s.handleMaster))
	h.Handle("GET /hls/{n}/stream.m3u8", s.wrap(s.handleMedia))
	h.Handle("GET /hls/{n}/{file}", s.wrap(s.handleSegment))
	h.Handle("OPTIONS /hls/", s.wrap(corsPreflight))
}

func hlsHeaders(w http.ResponseWriter, ctype, cache string) {
	w.Header().Set("Content-Type", ctype)
	w.Header().Set("Cache-Control", cache)
	w.Header().Set("Access-Control-Allow-Origin", "*")
}

func (s *Surface) origin(w http.ResponseWriter, stageID string) (*hls.Origin, bool) {
	o, err := s.d.Live.Origin(stageID)
	if err != nil {
		writeError(w, err)
		return nil, false
	}
	return o, true
}

// handleMaster is GET /hls/stream.m3u8; it counts the caller as a viewer.
func (s *Surface) handleMaster(w http.ResponseWriter, r *http.Request) {
	s.serveMaster(w, r, s.stageID())
}

func (s *Surface) serveMaster(w http.ResponseWriter, r *http.Request, stageID string) {
	o, ok := s.origin(w, stageID)
	if !ok {
		return
	}
	s.countStageViewer(r, stageID)
	hlsHeaders(w, hls.PlaylistContentType, hls.PlaylistCache)
	_, _ = w.Write(o.Master())
}

func (s *Surface) variant(w http.ResponseWriter, r *http.Request, stageID string) (*hls.Variant, bool) {
	o, ok := s.origin(w, stageID)
	if !ok {
		return nil, false
	}
	n, err := strconv.Atoi(r.PathValue("n"))
	if err != nil || n < 0 {
		http.NotFound(w, r)
		return nil, false
	}
	v, ok := o.Variant(n)
	if !ok {
		http.NotFound(w, r)
		return nil, false
	}
	return v, true
}

// handleMedia is GET /hls/{n}/stream.m3u8; it counts a viewer too.
func (s *Surface) handleMedia(w http.ResponseWriter, r *http.Request) {
	s.serveMedia(w, r, s.stageID())
}

func (s *Surface) serveMedia(w http.ResponseWriter, r *http.Request, stageID string) {
	v, ok := s.variant(w, r, stageID)
	if !ok {
		return
	}
	s.countStageViewer(r, stageID)
	pl := v.Playlist()
	// LL-HLS blocking reload: ?_HLS_msn=<seq>[&_HLS_part=<i>] waits until
	// the playlist lists that segment (part), at most three part-hold-backs.
	if msn, part, blocking, err := hls.ParseBlockingRequest(r.URL.Query()); err != nil && v.LowLatency() {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	} else if blocking && v.LowLatency() {
		ctx, cancel := context.WithTimeout(r.Context(), blockingReloadLimit)
		defer cancel()
		if pl, err = v.WaitPlaylist(ctx, msn, part); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
	}
	hlsHeaders(w, hls.PlaylistContentType, hls.PlaylistCache)
	_, _ = w.Write(pl)
}

// blockingReloadLimit bounds LL-HLS blocking requests (three 1 s target
// durations).
const blockingReloadLimit = 3 * time.Second

// handleSegment is GET /hls/{n}/<segment>.ts: only names the playlist
// lists (or the offline clip) are served, as video/mp2t.
func (s *Surface) handleSegment(w http.ResponseWriter, r *http.Request) {
	s.serveSegment(w, r, s.stageID())
}

func (s *Surface) serveSegment(w http.ResponseWriter, r *http.Request, stageID string) {
	v, ok := s.variant(w, r, stageID)
	if !ok {
		return
	}
	if name := r.PathValue("file"); hls.IsPartName(name) {
		// An LL-HLS part, from memory; the preload-hinted one is awaited.
		ctx, cancel := context.WithTimeout(r.Context(), blockingReloadLimit)
		defer cancel()
		data, ok := v.WaitPart(ctx, name)
		if !ok {
			http.NotFound(w, r)
			return
		}
		hlsHeaders(w, hls.SegmentContentType, hls.SegmentCache)
		http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(data))
		return
	}
	p, ok := v.SegmentPath(r.PathValue("file"))
	if !ok {
		http.NotFound(w, r)
		return
	}
	f, err := os.Open(p)
	if err != nil {
		http.NotFound(w, r)
		return
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		http.NotFound(w, r)
		return
	}
	cache := hls.SegmentCache
	if r.PathValue("file") == hls.OfflineName {
		cache = hls.PlaylistCache
	}
	hlsHeaders(w, hls.SegmentContentType, cache)
	http.ServeContent(w, r, "", fi.ModTime(), f)
}
