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
	h.Handle("GET /hls/peer/{stage}/{name...}", s.wrap(s.handleIngestPeer))
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

// serveMaster, serveMedia and serveSegment serve a stage's HLS once the
// caller's access is checked: from this node, or, while the broadcast runs
// on another node (no S3), from that one (live_peer.go).
func (s *Surface) serveMaster(w http.ResponseWriter, r *http.Request, stageID string) {
	if s.fromIngest(w, r, stageID, "stream.m3u8", nil) {
		s.countStageViewer(r, stageID)
		return
	}
	o, ok := s.origin(w, stageID)
	if !ok {
		return
	}
	s.countStageViewer(r, stageID)
	masterLocal(w, o)
}

func masterLocal(w http.ResponseWriter, o *hls.Origin) {
	hlsHeaders(w, hls.PlaylistContentType, hls.PlaylistCache)
	_, _ = w.Write(o.Master())
}

func (s *Surface) variant(w http.ResponseWriter, r *http.Request, stageID, variant string) (*hls.Variant, bool) {
	o, ok := s.origin(w, stageID)
	if !ok {
		return nil, false
	}
	v, ok := variantOf(o, variant)
	if !ok {
		http.NotFound(w, r)
	}
	return v, ok
}

// variantOf is the origin's variant numbered variant ("0", "1", …).
func variantOf(o *hls.Origin, variant string) (*hls.Variant, bool) {
	n, err := strconv.Atoi(variant)
	if err != nil || n < 0 {
		return nil, false
	}
	return o.Variant(n)
}

// handleMedia is GET /hls/{n}/stream.m3u8; it counts a viewer too.
func (s *Surface) handleMedia(w http.ResponseWriter, r *http.Request) {
	s.serveMedia(w, r, s.stageID())
}

func (s *Surface) serveMedia(w http.ResponseWriter, r *http.Request, stageID string) {
	n := r.PathValue("n")
	if s.fromIngest(w, r, stageID, n+"/stream.m3u8", nil) {
		s.countStageViewer(r, stageID)
		return
	}
	v, ok := s.variant(w, r, stageID, n)
	if !ok {
		return
	}
	s.countStageViewer(r, stageID)
	mediaLocal(w, r, v)
}

func mediaLocal(w http.ResponseWriter, r *http.Request, v *hls.Variant) {
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
	n, name := r.PathValue("n"), r.PathValue("file")
	if s.fromIngest(w, r, stageID, n+"/"+name, nil) {
		return
	}
	if v, ok := s.variant(w, r, stageID, n); ok {
		segmentLocal(w, r, v, name)
	}
}

func segmentLocal(w http.ResponseWriter, r *http.Request, v *hls.Variant, name string) {
	if hls.IsPartName(name) {
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
	if name == hls.OfflineName {
		// The offline clip is the same for every stage, from memory.
		hlsHeaders(w, hls.SegmentContentType, hls.PlaylistCache)
		http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(hls.OfflineClip))
		return
	}
	p, ok := v.SegmentPath(name)
	if !ok {
		http.NotFound(w, r)
		return
	}
	serveFile(w, r, p, func() { hlsHeaders(w, hls.SegmentContentType, hls.SegmentCache) })
}

// serveFile serves the file at p (range and conditional requests), with
// the headers header sets; a file removed meanwhile (the origin deletes
// old segments, ffmpeg replaces thumbnails) is a 404.
func serveFile(w http.ResponseWriter, r *http.Request, p string, header func()) {
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
	header()
	http.ServeContent(w, r, "", fi.ModTime(), f)
}
