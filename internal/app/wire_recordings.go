package app

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/hearth-community/hearth/internal/community"
	"github.com/hearth-community/hearth/internal/fault"
	"github.com/hearth-community/hearth/internal/hls"
	"github.com/hearth-community/hearth/internal/identity"
	"github.com/hearth-community/hearth/internal/live"
	"github.com/hearth-community/hearth/internal/messages"
	"github.com/hearth-community/hearth/internal/recording"
	"github.com/hearth-community/hearth/internal/surface/hearthapi"
	"github.com/hearth-community/hearth/internal/webhooks"
)

// wireRecordings builds the recordings service, installs it as the live
// service's recorder and serves Hearth's recordings API.
func (a *App) wireRecordings(ctx context.Context) error {
	if a.Live == nil {
		return nil
	}
	cfg := a.Config
	dir := filepath.Join(cfg.DataDir, "recordings")
	node, peerKey := a.node, a.peerKey // wireLive
	svc, err := recording.New(recording.Config{Dir: dir, NodeID: node, DefaultEnabled: cfg.Recording,
		ReconnectWindow: cfg.RecordingReconnectWindow, MaxClip: cfg.RecordingMaxClip, MinFreeBytes: cfg.RecordingMinFree,
		DownloadKeep: cfg.RecordingDownloadKeep,
		FFmpeg:       a.Live.FFmpegPath, Live: a.Live, Objects: a.recordingBucket(), Peers: nodeURLs{a}, PeerKey: peerKey, Life: a.lifeCtx(),
		ClipSwept: (&recordingGate{a: a}).clipSwept},
		a.DB.Recordings(), a.Log.With("component", "recording"))
	if err != nil {
		return err
	}
	a.Recordings = svc
	a.Live.SetRecorder(svc)
	a.runners = append(a.runners, svc.Run)
	if hooks := a.webhooks; hooks != nil {
		svc.Observe(func(e recording.Event) {
			if e.Type != recording.EventReady {
				return
			}
			r := e.Recording
			// Owncast's envelope {type, eventData}; eventData carries the
			// event's id, timestamp and type as Owncast's stream events do.
			// A recording that becomes ready as the node stops is still
			// queued (the queue is durable): the node's values, not its end.
			hooks.Dispatch(context.WithoutCancel(a.lifeCtx()), webhooks.RecordingReady, map[string]any{"type": webhooks.RecordingReady,
				"id": identity.NewID(), "timestamp": time.Now().UTC(), "recording": map[string]any{
					"id": r.ID, "stageId": r.StageID, "title": r.Title, "startedAt": r.StartedAt, "endedAt": r.EndedAt,
					"durationSeconds": r.Duration.Seconds(), "sizeBytes": r.Size,
					"playlistUrl": "/api/recordings/" + r.ID + "/hls/" + recording.PlaylistName,
					"downloadUrl": "/api/recordings/" + r.ID + "/download"}})
		})
	}
	api, err := hearthapi.New(hearthapi.Deps{Recordings: svc, Gate: &recordingGate{a: a}, Log: a.Log.With("component", "hearthapi"),
		TrustProxy: cfg.TrustProxy,
		Auth: func(ctx context.Context, tok string) (string, bool, error) {
			p, err := a.Identity.Authenticate(ctx, tok)
			if err != nil {
				return "", false, err
			}
			return p.Account.ID, p.Account.IsAdmin, nil
		}})
	if err != nil {
		return err
	}
	api.Register(a.HTTP)
	return nil
}

// nodeURLKey is the instance value holding a node's URL for the others.
func nodeURLKey(node string) string { return "node.url." + node }

// clusterPeerKey returns the cluster's key for signing requests between
// nodes (made once, kept in the database; recordings' files and live HLS
// sign with it, each in its own domain) and says where this node serves
// the others (--node-url, else its listen address when it names a host).
func (a *App) clusterPeerKey(ctx context.Context, node string) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	st := a.Identity.Store()
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return nil, err
	}
	key, err := st.SetInstanceValueOnce(ctx, "recording.peer_key", hex.EncodeToString(b))
	if err != nil {
		return nil, fmt.Errorf("peer key: %w", err)
	}
	self := strings.TrimSuffix(a.Config.NodeURL, "/")
	if host, _, err := net.SplitHostPort(a.Config.Addr); self == "" && err == nil && host != "" {
		if ip := net.ParseIP(host); ip == nil || !ip.IsUnspecified() {
			self = a.HTTP.URL()
		}
	}
	if a.Config.NoNodeURL() {
		a.Log.Warn("no --node-url: the other nodes cannot reach this one (they answer 503 for its recordings and "+
			"play their offline clip for its live streams); set --node-url to the URL they reach it at", "addr", a.Config.Addr)
	}
	// Empty when it has none now: an old address is not used.
	if err := st.SetInstanceValue(ctx, nodeURLKey(node), self); err != nil {
		return nil, fmt.Errorf("node url: %w", err)
	}
	return []byte(key), nil
}

// nodeURLs is recording.Peers and live.Peers over the instance values.
type nodeURLs struct{ a *App }

func (n nodeURLs) NodeURL(ctx context.Context, node string) (string, error) {
	return n.a.Identity.Store().InstanceValue(ctx, nodeURLKey(node))
}

// nodeID is this node's stable id for recording leases, kept in the data
// directory so a restarted node knows its own open recordings.
func nodeID(dataDir string) (string, error) {
	p := filepath.Join(dataDir, "node-id")
	if b, err := os.ReadFile(p); err == nil && len(strings.TrimSpace(string(b))) >= 8 {
		return strings.TrimSpace(string(b)), nil
	}
	if err := os.MkdirAll(dataDir, 0o750); err != nil {
		return "", err
	}
	id := identity.NewID()
	if err := os.WriteFile(p, []byte(id+"\n"), 0o640); err != nil {
		return "", err
	}
	return id, nil
}

// recordingGate is the recordings API's view of stages: the default stage
// is public and the instance admin's to manage; a stage channel's are its
// viewers' (VIEW_CHANNEL) and its managers' (owner, MANAGE_CHANNELS).
type recordingGate struct{ a *App }

func (g *recordingGate) Stage(ctx context.Context, ref string) (string, error) {
	if ref == live.DefaultStageRef {
		return g.a.Live.DefaultStageID(), nil
	}
	if _, err := g.a.Live.StageSettings(ctx, ref); err != nil {
		if errors.Is(err, fault.NotFound) || fault.KindOf(err) == fault.Invalid {
			return "", fault.New(fault.NotFound, "stage not found")
		}
		return "", err
	}
	return ref, nil
}

// BoundStage is the stage a stage channel broadcasts on when an instance
// admin bound it to another (the default stage): the one live streams and
// records it to (live.Service.StageForChannel).
func (g *recordingGate) BoundStage(ctx context.Context, ref string) (string, bool, error) {
	if ref == live.DefaultStageRef {
		return ref, false, nil
	}
	on, err := g.a.Live.StageForChannel(ctx, ref)
	if err != nil {
		if k := fault.KindOf(err); k == fault.NotFound || k == fault.Invalid {
			return ref, false, nil
		}
		return "", false, err
	}
	return on, on != ref, nil
}

// Access answers for accountID, and as the instance admin only while the
// account still is one who may act: admin comes from a token read a moment
// ago, or from a signed file URL made up to recording.ClipURLTTL earlier,
// which must not outlive a demotion or a disabling.
func (g *recordingGate) Access(ctx context.Context, accountID string, admin bool, stageID string) (hearthapi.Access, error) {
	if admin {
		ok, err := enabledMembers{g.a}.InstanceAdmin(ctx, accountID)
		if err != nil {
			return hearthapi.Access{}, err
		}
		admin = ok
	}
	if stageID == g.a.Live.DefaultStageID() {
		return hearthapi.Access{View: true, Manage: admin}, nil
	}
	if admin {
		return hearthapi.Access{View: true, Manage: true}, nil
	}
	sc := g.a.stageChannels()
	if accountID == "" || sc == nil {
		return hearthapi.Access{}, nil
	}
	manage, err := sc.Access(ctx, accountID, stageID)
	if err != nil {
		if k := fault.KindOf(err); k == fault.NotFound || k == fault.Forbidden {
			return hearthapi.Access{}, fault.New(fault.NotFound, "recording not found")
		}
		return hearthapi.Access{}, err
	}
	return hearthapi.Access{View: true, Manage: manage}, nil
}

// PostClip posts a clip into its stage channel's chat, as its maker when
// they may send messages there, and records the message on the clip
// (Clip.MessageID) so that deleting it edits exactly that message. The
// default stage's Owncast chat gets no clip messages
// (docs/compatibility.md).
func (g *recordingGate) PostClip(ctx context.Context, accountID string, c *recording.Clip, url string) error {
	if g.a.Messages == nil || g.a.Community == nil || c.StageID == g.a.Live.DefaultStageID() {
		return nil
	}
	ca, err := g.a.Community.ChannelAccess(ctx, accountID, c.StageID)
	if err != nil || !ca.Can(community.PermSendMessages) {
		return err
	}
	title := c.Title
	if title == "" {
		title = "a clip"
	}
	body := fmt.Sprintf("🎬 %s (%.0f s): %s", title, c.Duration.Seconds(), url)
	// The message's id is kept on the clip before the message is posted
	// (recording.Service.Announce), so a kill between the two never leaves
	// an announcement its clip does not know.
	unpost, err := g.a.Recordings.Announce(ctx, c, func(ctx context.Context, id string) error {
		_, err := g.a.Messages.Post(ctx, messages.PostInput{ID: id, ConversationID: c.StageID, Kind: messages.KindChannel,
			AuthorID: accountID, Body: body})
		return err
	})
	if err != nil || !unpost {
		return err
	}
	// Deleted while it was being announced (its UnpostClip found no
	// message yet): the link comes out now.
	return g.unpost(ctx, c.MessageID, url)
}

// clipGone is what a deleted clip's announcement says in place of its link.
const clipGone = "(clip deleted)"

// UnpostClip edits the message PostClip posted for a deleted clip: its
// link becomes clipGone (a MESSAGE_UPDATE to every surface), so the chat
// no longer offers a clip that answers 404. Only that message
// (Clip.MessageID) is edited: the same link pasted into another message
// stays. A clip with no message id had no announcement, or was cut before
// clips kept theirs (store migration 2900): its announcement, if any, is
// left as it is rather than guessed at among the chat's messages.
func (g *recordingGate) UnpostClip(ctx context.Context, c *recording.Clip, url string) error {
	if g.a.Messages == nil || c.MessageID == "" {
		return nil
	}
	return g.unpost(ctx, c.MessageID, url)
}

// clipSwept is recording.Config.ClipSwept: a clip of a stage that is gone
// (SweepGoneStages) is unposted as one deleted through the API is. Its
// stage went with its channel, and the channel's messages with it, so
// there is most often nothing left to edit; an announcement still there
// (the channel's messages could not be removed) no longer links the clip.
func (g *recordingGate) clipSwept(ctx context.Context, c *recording.Clip) {
	if err := g.UnpostClip(ctx, c, recording.ClipFilePath(c.ID)); err != nil {
		g.a.Log.Warn("recording: cannot take a swept clip out of its chat message", "clip", c.ID, "err", err)
	}
}

// unpost replaces url with clipGone in message id (nothing when the
// message is gone or no longer has the link).
func (g *recordingGate) unpost(ctx context.Context, id, url string) error {
	m, err := g.a.Messages.Get(ctx, id)
	if errors.Is(err, fault.NotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	if m.Deleted || !strings.Contains(m.Body, url) {
		return nil
	}
	_, err = g.a.Messages.Edit(ctx, m.ID, strings.ReplaceAll(m.Body, url, clipGone))
	if errors.Is(err, fault.NotFound) {
		return nil
	}
	return err
}

// Chat implements hearthapi.Gate: the stage's conversation between two
// times. Message ids are UUIDv7, ordered by time, so the window's bounds
// are ids made of its times.
func (g *recordingGate) Chat(ctx context.Context, stageID string, from, to time.Time, limit int) ([]hearthapi.ChatMessage, error) {
	if g.a.Messages == nil {
		return nil, nil
	}
	conv := stageID
	if stageID == g.a.Live.DefaultStageID() {
		if g.a.StageChat == nil {
			return nil, nil
		}
		conv = g.a.StageChat.Conversation()
	}
	ms, err := g.a.Messages.List(ctx, messages.ListQuery{ConversationID: conv, After: timeID(from, false), Before: timeID(to, true),
		Limit: limit, Oldest: true})
	if err != nil {
		return nil, err
	}
	names := map[string]string{}
	out := make([]hearthapi.ChatMessage, 0, len(ms))
	for _, m := range ms {
		if m.Hidden || m.Deleted {
			continue
		}
		name := ""
		if m.AuthorID != nil {
			n, ok := names[*m.AuthorID]
			if !ok {
				if acc, err := g.a.Identity.Account(ctx, *m.AuthorID); err == nil {
					n = acc.DisplayName
					if n == "" {
						n = acc.Username
					}
				}
				names[*m.AuthorID] = n
			}
			name = n
		}
		out = append(out, hearthapi.ChatMessage{ID: m.ID, AuthorName: name, Body: m.Body, At: m.CreatedAt})
	}
	return out, nil
}

// timeID is the lowest (or highest) UUIDv7 of a millisecond.
func timeID(t time.Time, high bool) string {
	ms := uint64(t.UnixMilli())
	h := fmt.Sprintf("%012x", ms)
	if high {
		return h[:8] + "-" + h[8:] + "-7fff-bfff-ffffffffffff"
	}
	return h[:8] + "-" + h[8:] + "-7000-8000-000000000000"
}

// recordingBucket follows the live streaming S3 settings (Owncast's admin
// storage settings): while S3 is on, ready recordings are copied to the
// same bucket under recordings/.
func (a *App) recordingBucket() func() recording.ObjectStore {
	var (
		mu   sync.Mutex
		cfg  hls.S3Config
		last *hls.Bucket
	)
	return func() recording.ObjectStore {
		c := a.Live.Settings().S3
		if !c.Enabled {
			return nil
		}
		mu.Lock()
		defer mu.Unlock()
		if last == nil || c != cfg {
			b, err := hls.NewBucket(c, "recordings/")
			if err != nil {
				a.Log.Warn("recordings: S3 is configured but unusable", "err", err)
				return nil
			}
			last, cfg = b, c
		}
		return last
	}
}
