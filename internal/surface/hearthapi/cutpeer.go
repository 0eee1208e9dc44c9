package hearthapi

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"time"

	"github.com/hearth-community/hearth/internal/fault"
	"github.com/hearth-community/hearth/internal/httpserver"
	"github.com/hearth-community/hearth/internal/recording"
)

// A clip asked of a node that does not hold its source (another node's
// recording files, a live stage ingested elsewhere) is cut by the node
// that does: this node has checked the caller, then forwards the cut with
// a signed body (recording.CutPeer) and answers with the clip once it is
// stored, announcing it in the stage's chat as for a clip cut here.

// Bounds on forwarded cuts, per node.
const (
	// maxCutsForwarded is how many forwarded cuts wait at once; more are
	// answered 503 with Retry-After (the cutting node's ffmpeg slots are
	// the real bound: max(4, 2 × cores), 15 s wait).
	maxCutsForwarded = 64
	// cutTimeout bounds one forwarded cut: the cutting node waits up to
	// 15 s for an ffmpeg slot, and a cut runs at most 2 minutes.
	cutTimeout = 3 * time.Minute
	// maxCutAnswer bounds the cutting node's answer (a clip's JSON or an
	// error).
	maxCutAnswer = 64 << 10
)

// cutElsewhere forwards el's cut for caller who and answers like a clip
// cut here.
func (s *Surface) cutElsewhere(w http.ResponseWriter, r *http.Request, el *recording.CutElsewhere, who string) {
	select {
	case s.cutSlots <- struct{}{}:
		defer func() { <-s.cutSlots }()
	default:
		writeError(w, &fault.Error{Kind: fault.Unavailable, RetryAfter: time.Second,
			Msg: "too many clips are being cut on other nodes; try again shortly"})
		return
	}
	u, body, err := s.d.Recordings.CutPeer(r.Context(), el.Node, el.Cut)
	if err != nil {
		writeError(w, err)
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), cutTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, bytes.NewReader(body))
	if err != nil {
		writeError(w, err)
		return
	}
	req.Header.Set("Content-Type", "application/json")
	res, err := s.cutClient.Do(req)
	if err != nil {
		s.d.Log.Warn("hearthapi: the node holding a clip's source did not answer", "node", el.Node, "err", err)
		writeError(w, fault.Wrap(fault.Unavailable, "the node holding the clip's source did not answer", err))
		return
	}
	defer res.Body.Close()
	answer, err := io.ReadAll(io.LimitReader(res.Body, maxCutAnswer+1))
	switch {
	case err != nil || len(answer) > maxCutAnswer:
		s.d.Log.Warn("hearthapi: a bad answer from the node holding a clip's source", "node", el.Node, "err", err, "bytes", len(answer))
		writeError(w, fault.New(fault.Unavailable, "the node holding the clip's source failed to cut it"))
		return
	case res.StatusCode == http.StatusCreated:
	case res.StatusCode == http.StatusServiceUnavailable || res.StatusCode >= 400 && res.StatusCode < 500 && res.StatusCode != http.StatusForbidden:
		// The cutting node's own refusal, in this surface's shape: a bad
		// range, a spent clip budget, a full disk, no ffmpeg slot.
		if v := res.Header.Get("Retry-After"); v != "" {
			w.Header().Set("Retry-After", v)
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(res.StatusCode)
		_, _ = w.Write(answer)
		return
	default:
		// 403: the nodes do not share the key, or their clocks differ.
		s.d.Log.Warn("hearthapi: the node holding a clip's source failed", "node", el.Node, "status", res.StatusCode)
		writeError(w, fault.New(fault.Unavailable, "the node holding the clip's source failed to cut it"))
		return
	}
	c, err := s.d.Recordings.GetClip(r.Context(), el.Cut.ID)
	if err != nil {
		writeError(w, err)
		return
	}
	s.announce(w, r, who, c)
}

// announce posts a new clip in its stage's chat and answers with it.
func (s *Surface) announce(w http.ResponseWriter, r *http.Request, who string, c *recording.Clip) {
	out := clipToJSON(c)
	if err := s.d.Gate.PostClip(r.Context(), who, c, out.URL); err != nil {
		s.d.Log.Warn("hearthapi: cannot post the clip in the stage chat", "clip", c.ID, "err", err)
	}
	httpserver.WriteJSON(w, http.StatusCreated, out)
}

// cutPeer is POST /api/clips/peer: another node of the cluster asking this
// one to cut a clip from the source it holds (recording.CutRequest), with
// a signed body. The caller was checked there; the clip is cut from this
// node's files only (never forwarded again) and answered as JSON, not
// announced (the asking node does that).
func (s *Surface) cutPeer(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, recording.MaxCutRequest))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			writeError(w, fault.New(fault.Forbidden, "this route is for the nodes of the cluster"))
			return
		}
		writeError(w, fault.Wrap(fault.Invalid, "cannot read the request", err))
		return
	}
	q := r.URL.Query()
	cut, ok := s.d.Recordings.VerifyCutPeer(body, q.Get("exp"), q.Get("sig"))
	if !ok {
		writeError(w, fault.New(fault.Forbidden, "this route is for the nodes of the cluster"))
		return
	}
	c, err := s.d.Recordings.CutForPeer(r.Context(), cut)
	if err != nil {
		writeError(w, err)
		return
	}
	httpserver.WriteJSON(w, http.StatusCreated, clipToJSON(c))
}
