package owncast

import (
	"net/http"
	"os"
	"strconv"

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

func (s *Surface) origin(w http.ResponseWriter, r *http.Request) (*hls.Origin, bool) {
	o, err := s.d.Live.Origin(s.stageID())
	if err != nil {
		writeError(w, err)
		return nil, false
	}
	return o, true
}

// handleMaster is GET /hls/stream.m3u8; it counts the caller as a viewer.
func (s *Surface) handleMaster(w http.ResponseWriter, r *http.Request) {
	o, ok := s.origin(w, r)
	if !ok {
		return
	}
	s.countViewer(r)
	hlsHeaders(w, hls.PlaylistContentType, hls.PlaylistCache)
	_, _ = w.Write(o.Master())
}

func (s *Surface) variant(w http.ResponseWriter, r *http.Request) (*hls.Variant, bool) {
	o, ok := s.origin(w, r)
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
	v, ok := s.variant(w, r)
	if !ok {
		return
	}
	s.countViewer(r)
	hlsHeaders(w, hls.PlaylistContentType, hls.PlaylistCache)
	_, _ = w.Write(v.Playlist())
}

// handleSegment is GET /hls/{n}/<segment>.ts: only names the playlist
// lists (or the offline clip) are served, as video/mp2t.
func (s *Surface) handleSegment(w http.ResponseWriter, r *http.Request) {
	v, ok := s.variant(w, r)
	if !ok {
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
