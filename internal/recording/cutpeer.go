package recording

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"time"

	"github.com/hearth-community/hearth/internal/fault"
	"github.com/hearth-community/hearth/internal/peersign"
)

// Without S3, a clip is cut where its source is: the node holding the
// recording's files, or the node running a live stage's ingest. Any other
// node asked for a clip checks the caller itself, then forwards the cut
// to that node (POST /api/clips/peer) with a body signed by the cluster's
// key; the cutting node runs it as its own (ffmpeg slots, disk check, the
// account's clip budget) and keeps the MP4, which every node then serves
// through the clip peer route. The asking node picks the clip's id and the
// signature covers it, so a replayed request cuts no second clip.

// CutRequest is a clip cut one node asks of another: a recording's
// [Start, End) when RecordingID is set, else the last Last of a live
// Stage.
type CutRequest struct {
	ID          string        `json:"id"`
	RecordingID string        `json:"recordingId,omitempty"`
	Start       time.Duration `json:"start,omitempty"`
	End         time.Duration `json:"end,omitempty"`
	Stage       string        `json:"stage,omitempty"`
	Last        time.Duration `json:"last,omitempty"`
	Title       string        `json:"title"`
	By          string        `json:"by"`
}

// CutElsewhere is MakeClip's and MakeLiveClip's answer when the clip's
// source is on another node of the cluster: Cut, forwarded to Node
// (CutPeer), cuts it there.
type CutElsewhere struct {
	Node string
	Cut  CutRequest
}

func (e *CutElsewhere) Error() string { return "recording: the clip's source is on node " + e.Node }

// MaxCutRequest bounds a forwarded cut's body (a title is at most 500
// bytes).
const MaxCutRequest = 4 << 10

// clipCut is the signing label of forwarded cuts (package peersign).
const clipCut = "clip-cut"

// CutPeer is the signed URL and body with which this node asks node to
// run cut. Unavailable when that node has no address.
func (s *Service) CutPeer(ctx context.Context, node string, cut CutRequest) (string, []byte, error) {
	if s.cfg.Peers == nil || len(s.cfg.PeerKey) == 0 || node == "" || node == s.cfg.NodeID {
		return "", nil, errors.New("recording: no other node to cut on")
	}
	base, err := s.nodeBase(ctx, node, "the clip's source is")
	if err != nil {
		return "", nil, err
	}
	body, err := json.Marshal(cut)
	if err != nil {
		return "", nil, err
	}
	q := peersign.Query(s.cfg.PeerKey, clipCut, s.cfg.Now(), digest(body))
	return base + "/api/clips/peer?" + q.Encode(), body, nil
}

func digest(b []byte) string {
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:])
}

// VerifyCutPeer checks a forwarded cut's signature and expiry (made by
// CutPeer on a node of the same cluster) and decodes it.
func (s *Service) VerifyCutPeer(body []byte, exp, sig string) (CutRequest, bool) {
	var cut CutRequest
	if !peersign.Valid(s.cfg.PeerKey, clipCut, s.cfg.Now(), exp, sig, digest(body)) || json.Unmarshal(body, &cut) != nil {
		return CutRequest{}, false
	}
	return cut, true
}

// CutForPeer runs a cut another node forwarded (VerifyCutPeer) from this
// node's own files, never forwarding it again. A cut whose id is taken
// (a replay) is a Conflict.
func (s *Service) CutForPeer(ctx context.Context, cut CutRequest) (*Clip, error) {
	if !validID(cut.ID) {
		return nil, fault.New(fault.Invalid, "bad clip id")
	}
	if _, busy := s.cutting.LoadOrStore(cut.ID, struct{}{}); busy {
		return nil, fault.New(fault.Conflict, "this clip is being cut")
	}
	defer s.cutting.Delete(cut.ID)
	if _, err := s.GetClip(ctx, cut.ID); err == nil {
		return nil, fault.New(fault.Conflict, "this clip was cut already")
	}
	if cut.RecordingID != "" {
		return s.makeClip(ctx, cut, false)
	}
	return s.makeLiveClip(ctx, cut, false)
}

// linked reports whether this node can reach the others (cluster key and
// node addresses).
func (s *Service) linked() bool { return s.cfg.Peers != nil && len(s.cfg.PeerKey) > 0 }
