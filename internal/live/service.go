package live

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/hearth-community/hearth/internal/fault"
	"github.com/hearth-community/hearth/internal/hls"
	"github.com/hearth-community/hearth/internal/identity"
	"github.com/hearth-community/hearth/internal/ratelimit"
	"github.com/hearth-community/hearth/internal/rtmp"
)

// Publisher publishes domain events (the bus).
type Publisher interface {
	Publish(ctx context.Context, topic string, data []byte) error
}

// Config tunes the service.
type Config struct {
	DataDir          string // HLS output goes to <DataDir>/hls/<stage>
	FFmpegPath       string // initial ffmpeg path (admins may change it)
	RTMPPort         int    // the port the RTMP ingest listens on (0: none); see SetIngestPort
	TempStreamKey    string // --stream-key: accepted on the default stage, never stored
	DefaultStreamKey string // first start only: the default stage's key; "" = random
	ViewerTTL        time.Duration
	ThumbnailEvery   time.Duration
	SampleEvery      time.Duration
	PlaybackEvery    time.Duration // playback-metrics window (default PlaybackEvery, Owncast's 2 min)
	Now              func() time.Time
	// Viewers counts viewers across the cluster (nil: this node's only).
	// Each node counts the viewers whose pings reach it.
	Viewers ViewerCounter
	// Peers and PeerKey, both set (with Viewers), let another node serve a
	// broadcast running here without S3: it proxies its HLS requests to
	// this node with URLs signed by PeerKey, a key every node shares
	// (peers.go).
	Peers   Peers
	PeerKey []byte
	// Limits shares the wrong-stream-key bound per address with the other
	// nodes of a cluster (nil: this node's attempts only).
	Limits *ratelimit.Cluster
	// NodeID names this node as Viewers and Peers name the others: the
	// node holding a stage's newest thumbnail is kept by it (thumbs.go).
	NodeID string
}

// ViewerCounter is a cluster-wide count per key (package presence).
type ViewerCounter interface {
	Add(key string)
	Done(key string)
	Count(key string) int
	// Elsewhere names the other nodes counting key, by the ids they are
	// known by in Peers.
	Elsewhere(key string) []string
	// Heard is when node was last heard from (zero: not known).
	Heard(node string) time.Time
}

// Service is the live-streaming domain.
type Service struct {
	cfg  Config
	st   Store
	pub  Publisher
	log  *slog.Logger
	ctx  context.Context // set by Run: background work of broadcasts
	stop context.CancelFunc

	mu     sync.RWMutex
	stages map[string]*stage
	// making serialises building a stage's runtime: a runtime's HLS
	// origin empties the stage's directory when it is made, so two built
	// at once for one stage (the channel-created event and the first key
	// request) emptied each other's directory and one failed.
	making   sync.Mutex
	def      *stage
	settings Settings
	// setMu serialises changing the settings (UpdateSettings) with
	// re-reading them after another node changed them (ReloadSettings),
	// so a reload never puts older settings over a change it raced.
	setMu     sync.Mutex
	uploader  *hls.Uploader
	upCancel  context.CancelFunc
	observers []func(Event)
	hw        *hardware
	pb        *playbackStore
	ingest    int // the port the RTMP listener is bound to (0: no ingest)
	recorder  Recorder
	pcs       PeerConnector          // WebRTC live (nil: WHIP/WHEP refused)
	sessions  map[string]*rtcSession // WHIP and WHEP sessions by id
	whep      whepBudget             // WHEP sessions per address and connecting
	keyFails  *ratelimit.Limiter     // wrong stream keys per address (keyguard.go)
	gate      PublishGate            // who may stream with a held key (holders.go)
	peerURLs  nodeURLs               // other nodes' URLs, read recently (peers.go)
	gone      goneNodes              // other nodes found unreachable (peers.go)
	thumbNode thumbNodes             // which node holds each stage's newest thumbnail (thumbs.go)

	// lost are the broadcasts the last process lost (closeLostBroadcasts),
	// whose stopped event Run publishes once the observers are wired.
	lost []lostBroadcast

	// leaseNode names this node in the stages' publish leases (lease.go):
	// NodeID, or a random id without one.
	leaseNode string

	// drainHook, when set (tests only), runs in a broadcast's end after the
	// stage has gone offline and before the pipeline drains.
	drainHook func()
	// leaseHook, when set (tests only), runs in a publish after the stage
	// is reserved on this node and before its publish lease is claimed.
	leaseHook func(stageID string)
}

// ErrOffline is returned for actions that need a live stream.
var ErrOffline = fault.New(fault.Invalid, "no stream is live")

// New loads (or on the first start creates) the default stage.
func New(ctx context.Context, cfg Config, st Store, pub Publisher, log *slog.Logger) (*Service, error) {
	if st == nil || pub == nil {
		return nil, errors.New("live: store and publisher are required")
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if cfg.ViewerTTL <= 0 {
		cfg.ViewerTTL = 15 * time.Second
	}
	if cfg.ThumbnailEvery <= 0 {
		cfg.ThumbnailEvery = 20 * time.Second
	}
	if cfg.SampleEvery <= 0 {
		cfg.SampleEvery = time.Minute
	}
	if cfg.PlaybackEvery <= 0 {
		cfg.PlaybackEvery = PlaybackEvery
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.FFmpegPath == "" {
		cfg.FFmpegPath = "ffmpeg"
	}
	bctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	s := &Service{cfg: cfg, st: st, pub: pub, log: log, ctx: bctx, stop: cancel, stages: map[string]*stage{}, ingest: cfg.RTMPPort,
		leaseNode: cfg.NodeID}
	if s.leaseNode == "" {
		s.leaseNode = identity.NewID()
	}
	var err error
	if s.keyFails, err = newKeyGuard(cfg.Now); err != nil {
		cancel()
		return nil, err
	}
	cfg.Limits.Share("live.key-guesses", s.keyFails) // one bound per address on a cluster
	if err := s.loadSettings(ctx); err != nil {
		cancel()
		return nil, err
	}
	def, err := st.DefaultStage(ctx)
	if errors.Is(err, fault.NotFound) {
		def, err = s.createDefault(ctx)
	}
	if err != nil {
		cancel()
		return nil, fmt.Errorf("live: default stage: %w", err)
	}
	rt, err := s.newStage(def)
	if err != nil {
		cancel()
		return nil, err
	}
	s.def = rt
	s.stages[def.ID] = rt
	all, err := st.Stages(ctx)
	if err != nil {
		cancel()
		return nil, fmt.Errorf("live: stages: %w", err)
	}
	for _, x := range all {
		if x.ID == def.ID {
			continue
		}
		rt, err := s.newStage(x)
		if err != nil {
			cancel()
			return nil, err
		}
		s.stages[x.ID] = rt
	}
	s.closeLostBroadcasts(ctx, append(all, def))
	if s.settings.S3.Enabled {
		if err := s.applyS3(s.settings.S3); err != nil {
			log.Warn("live: S3 offload is configured but cannot start", "err", err)
		}
	}
	return s, nil
}

func (s *Service) createDefault(ctx context.Context) (*Stage, error) {
	now := s.cfg.Now().UTC()
	st := &Stage{ID: identity.NewID(), Name: "Default stage", Default: true, VideoCodec: "libx264",
		LatencyLevel: DefaultLatencyLevel, Variants: DefaultVariants(), CreatedAt: now, UpdatedAt: now}
	key := s.cfg.DefaultStreamKey
	generated := key == ""
	if generated {
		key = randomKey()
	}
	if err := s.st.CreateStage(ctx, st, []StreamKey{{Key: key, Comment: "Default stream key"}}); err != nil {
		if errors.Is(err, fault.Conflict) { // another node created it first
			return s.st.DefaultStage(ctx)
		}
		return nil, err
	}
	if generated {
		// Stream keys never reach a log line (DESIGN.md §3.4): the admin
		// reads it in the admin UI or GET /api/admin/serverconfig.
		s.log.Warn("created the default stage with a generated stream key; find it in the admin (streamKeys in /api/admin/serverconfig)")
	}
	return st, nil
}

func randomKey() string {
	b := make([]byte, 18)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

func (s *Service) newStage(st *Stage) (*stage, error) {
	rt := &stage{svc: s, id: st.ID, isDefault: st.Default, viewers: map[string]*Viewer{}, perIP: map[string]int{},
		overallPeak: st.OverallPeak}
	o, err := hls.NewOrigin(hls.OriginConfig{Dir: filepath.Join(s.cfg.DataDir, "hls", st.ID), Log: s.log.With("stage", st.ID),
		OnSegment: rt.onSegment})
	if err != nil {
		return nil, err
	}
	rt.origin = o
	o.SetUploader(s.uploader, s.s3BaseURL())
	if st.Default {
		o.SetServingEndpoint(s.Settings().VideoServingEndpoint)
	}
	return rt, nil
}

// Run does the periodic work (viewer pruning, viewer samples, S3 uploads)
// until ctx ends, then ends every broadcast.
func (s *Service) Run(ctx context.Context) error {
	prune := time.NewTicker(renewEvery) // prunes viewers, renews publish leases
	sample := time.NewTicker(s.cfg.SampleEvery)
	hw := time.NewTicker(2 * time.Minute)
	pb := time.NewTicker(s.cfg.PlaybackEvery)
	defer pb.Stop()
	defer prune.Stop()
	defer sample.Stop()
	defer hw.Stop()
	s.hardware().sample(s.cfg.Now())
	defer s.shutdown()
	s.announceLost()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-hw.C:
			s.hardware().sample(s.cfg.Now())
		case <-pb.C:
			s.CollectPlayback(ctx)
		case <-prune.C: // every renewEvery
			s.Prune()
			s.RenewLeases(ctx)
			s.CloseAbandoned(ctx)
		case <-sample.C:
			for _, st := range s.allStages() {
				n := st.viewerCount()
				st.notePeak(n)
				if err := s.st.AddViewerSample(ctx, st.id, s.cfg.Now().Truncate(time.Second), n); err != nil && ctx.Err() == nil {
					s.log.Warn("live: cannot store viewer sample", "err", err)
				}
				st.savePeak(ctx)
			}
		}
	}
}

// Prune forgets viewers silent for longer than ViewerTTL (Run does it
// every 5 s).
func (s *Service) Prune() {
	for _, st := range s.allStages() {
		st.pruneViewers(s.cfg.Now())
	}
}

func (s *Service) shutdown() {
	for _, st := range s.allStages() {
		st.disconnect()
	}
	for _, st := range s.allStages() {
		st.waitEnded(10 * time.Second)
	}
	s.mu.Lock()
	if s.upCancel != nil {
		s.upCancel()
	}
	s.mu.Unlock()
	s.stop()
}

func (s *Service) allStages() []*stage {
	s.mu.RLock()
	defer s.mu.RUnlock()
	out := make([]*stage, 0, len(s.stages))
	for _, st := range s.stages {
		out = append(out, st)
	}
	return out
}

// DefaultStageID is the id of Owncast's one stream.
func (s *Service) DefaultStageID() string { return s.def.id }

func (s *Service) stage(id string) (*stage, error) {
	s.mu.RLock()
	st, ok := s.stages[id]
	s.mu.RUnlock()
	if ok {
		return st, nil
	}
	// A stage created on another node since this one started, or just
	// now by a caller running beside this one: one runtime is built.
	s.making.Lock()
	defer s.making.Unlock()
	s.mu.RLock()
	st, ok = s.stages[id]
	s.mu.RUnlock()
	if ok {
		return st, nil
	}
	stored, err := s.st.Stage(s.ctx, id)
	if err != nil {
		if errors.Is(err, fault.NotFound) {
			return nil, fault.New(fault.NotFound, "stage not found")
		}
		return nil, err
	}
	rt, err := s.newStage(stored)
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.stages[id] = rt
	return rt, nil
}

// CreateStage adds a stage (Owncast exposes only the default one; more
// stages are Hearth's). Each stage takes one publisher at a time on its
// own keys and has its own HLS output.
func (s *Service) CreateStage(ctx context.Context, name string, keys []StreamKey) (*Stage, error) {
	name = strings.TrimSpace(name)
	if name == "" || len(name) > 100 {
		return nil, fault.New(fault.Invalid, "a stage name of 1-100 characters is required")
	}
	if err := validateKeys(keys); err != nil {
		return nil, err
	}
	now := s.cfg.Now().UTC()
	st := &Stage{ID: identity.NewID(), Name: name, VideoCodec: "libx264", LatencyLevel: DefaultLatencyLevel,
		Variants: DefaultVariants(), CreatedAt: now, UpdatedAt: now}
	if err := s.st.CreateStage(ctx, st, keys); err != nil {
		return nil, err
	}
	if _, err := s.stage(st.ID); err != nil {
		return nil, err
	}
	return st, nil
}

// Stages lists every stage, the default first.
func (s *Service) Stages(ctx context.Context) ([]*Stage, error) { return s.st.Stages(ctx) }

// Publish is the RTMP handler: it checks the stream key at publish time and
// starts the broadcast. The application must be "live" (Owncast's
// rtmp://host/live/<key>).
func (s *Service) Publish(ctx context.Context, req rtmp.PublishRequest) (rtmp.Stream, error) {
	if req.App != "live" {
		return nil, errors.New("unknown application: publish to rtmp://<host>/live/<stream key>")
	}
	if req.Name == "" {
		return nil, errors.New("missing stream key")
	}
	var st *stage
	var holder string
	err := s.guardKey(req.RemoteAddr, func() error {
		if s.cfg.TempStreamKey != "" && constantTimeEqual(req.Name, s.cfg.TempStreamKey) {
			st = s.def
			return nil
		}
		id, h, err := s.st.KeyStage(ctx, req.Name)
		if err != nil {
			if errors.Is(err, fault.NotFound) {
				return errInvalidKey
			}
			return fmt.Errorf("cannot check the stream key right now")
		}
		if st, err = s.stage(id); err != nil {
			return errInvalidKey
		}
		holder = h
		return s.mayPublish(ctx, id, h)
	})
	if err != nil {
		return nil, err
	}
	var rl *relay
	if s.peerConnector() != nil {
		rl = newFLVRelay(st)
	}
	return st.beginSource(ctx, req, rl, holder)
}

// StageSettings returns a stage's stored settings.
func (s *Service) StageSettings(ctx context.Context, id string) (*Stage, error) {
	return s.st.Stage(ctx, id)
}

// StreamKeys lists a stage's keys.
func (s *Service) StreamKeys(ctx context.Context, stageID string) ([]StreamKey, error) {
	return s.st.StreamKeys(ctx, stageID)
}

// SetStreamKeys replaces a stage's keys (at least one; keys are 1–128
// printable characters without '/', '?' or whitespace, unique).
func (s *Service) SetStreamKeys(ctx context.Context, stageID string, keys []StreamKey) error {
	if err := validateKeys(keys); err != nil {
		return err
	}
	if _, err := s.stage(stageID); err != nil {
		return err
	}
	return s.st.SetStreamKeys(ctx, stageID, keys)
}

func validateKeys(keys []StreamKey) error {
	if len(keys) == 0 {
		return fault.New(fault.Invalid, "at least one stream key is required")
	}
	if len(keys) > 100 {
		return fault.New(fault.Invalid, "too many stream keys")
	}
	seen := map[string]bool{}
	for _, k := range keys {
		if len(k.Key) == 0 || len(k.Key) > 128 || strings.ContainsAny(k.Key, "/?# \t\r\n") {
			return fault.New(fault.Invalid, "stream keys must be 1-128 characters without spaces, '/', '?' or '#'")
		}
		if len(k.Comment) > 500 {
			return fault.New(fault.Invalid, "stream key comment too long")
		}
		if seen[k.Key] {
			return fault.New(fault.Invalid, "duplicate stream key")
		}
		seen[k.Key] = true
	}
	return nil
}

// TempStreamKeyActive reports whether --stream-key is set (Owncast's
// streamKeyOverridden).
func (s *Service) TempStreamKeyActive() bool { return s.cfg.TempStreamKey != "" }

func (s *Service) updateStage(ctx context.Context, id string, f func(*Stage) error) (*Stage, error) {
	if _, err := s.stage(id); err != nil {
		return nil, err
	}
	cur, err := s.st.Stage(ctx, id)
	if err != nil {
		return nil, err
	}
	if err := f(cur); err != nil {
		return nil, err
	}
	cur.UpdatedAt = s.cfg.Now().UTC()
	return cur, s.st.UpdateStage(ctx, cur)
}

// SetVideoCodec sets the encoder for transcoded variants (next broadcast).
func (s *Service) SetVideoCodec(ctx context.Context, stageID, codec string) error {
	if !slices.Contains(SupportedCodecs(), codec) {
		return fault.Newf(fault.Invalid, "unsupported codec %q", codec)
	}
	_, err := s.updateStage(ctx, stageID, func(st *Stage) error { st.VideoCodec = codec; return nil })
	return err
}

// SetLatencyLevel sets the latency level (next broadcast).
func (s *Service) SetLatencyLevel(ctx context.Context, stageID string, level int) error {
	if _, ok := LatencyLevelFor(level); !ok {
		return fault.Newf(fault.Invalid, "latency level %d out of range (0-%d)", level, len(LatencyLevels())-1)
	}
	_, err := s.updateStage(ctx, stageID, func(st *Stage) error { st.LatencyLevel = level; return nil })
	return err
}

// SetVariants sets the output variants (next broadcast).
func (s *Service) SetVariants(ctx context.Context, stageID string, vs []Variant) error {
	if len(vs) == 0 {
		return fault.New(fault.Invalid, "at least one output variant is required")
	}
	if len(vs) > 8 {
		return fault.New(fault.Invalid, "at most 8 output variants")
	}
	for i, v := range vs {
		if err := v.validate(); err != nil {
			return fault.Newf(fault.Invalid, "variant %d: %s", i, err)
		}
	}
	_, err := s.updateStage(ctx, stageID, func(st *Stage) error { st.Variants = append([]Variant(nil), vs...); return nil })
	return err
}

// SetTitle sets a stage's stream title and publishes the change.
func (s *Service) SetTitle(ctx context.Context, stageID, title string) error {
	if len(title) > 500 {
		return fault.New(fault.Invalid, "stream title too long")
	}
	st, err := s.updateStage(ctx, stageID, func(st *Stage) error { st.Title = title; return nil })
	if err != nil {
		return err
	}
	rt, _ := s.stage(stageID)
	s.publish(rt, EventTitle, func(e *Event) { e.StreamTitle = st.Title })
	return nil
}

const settingsKey = "video"

func (s *Service) loadSettings(ctx context.Context) error {
	set, err := s.storedSettings(ctx)
	s.settings = set
	return err
}

// storedSettings reads the stored settings (the configuration's defaults
// where none are stored).
func (s *Service) storedSettings(ctx context.Context) (Settings, error) {
	set := Settings{FFmpegPath: s.cfg.FFmpegPath}
	raw, err := s.st.Setting(ctx, settingsKey)
	if errors.Is(err, fault.NotFound) {
		return set, nil
	}
	if err != nil {
		return set, fmt.Errorf("live: settings: %w", err)
	}
	if err := json.Unmarshal([]byte(raw), &set); err != nil {
		return set, fmt.Errorf("live: settings: %w", err)
	}
	return set, nil
}

// SetIngestPort records the port the RTMP listener is bound to (what
// publishers are told to use, and what Owncast's rtmpServerPort reports).
func (s *Service) SetIngestPort(port int) {
	s.mu.Lock()
	s.ingest = port
	s.mu.Unlock()
}

// IngestPort is the port the RTMP listener is bound to; 0: no ingest.
func (s *Service) IngestPort() int {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.ingest
}

// closeLostBroadcasts runs at start: a stage whose last connect has no
// disconnect after it lost its broadcast when the process stopped without
// ending it (a crash, a kill). Its disconnect time becomes now, the first
// moment the loss is known, unless another node reports the stage live.
func (s *Service) closeLostBroadcasts(ctx context.Context, stages []*Stage) {
	now := s.cfg.Now().UTC()
	seen := map[string]bool{}
	for _, x := range stages {
		if x == nil || seen[x.ID] {
			continue
		}
		seen[x.ID] = true
		if !x.broadcastOpen() {
			continue
		}
		rt, ok := s.stages[x.ID]
		if !ok {
			continue
		}
		if c := s.cfg.Viewers; c != nil && c.Count(rt.broadcastKey()) > 0 {
			continue
		}
		if err := s.endLost(ctx, rt, now); err != nil {
			s.log.Warn("live: cannot record the disconnect time of a lost broadcast", "stage", x.ID, "err", err)
			continue
		}
		s.lost = append(s.lost, lostBroadcast{st: rt, start: *x.LastConnect, end: now})
		s.log.Info("live: a broadcast was lost when the server stopped; its disconnect time is now", "stage", x.ID)
	}
}

// broadcastOpen reports whether x has a broadcast's connect time with no
// disconnect after it.
func (x *Stage) broadcastOpen() bool {
	return x.LastConnect != nil && (x.LastDisconnect == nil || x.LastDisconnect.Before(*x.LastConnect))
}

// endLost records end as the disconnect time of rt's lost broadcast, in
// the store and on the stage.
func (s *Service) endLost(ctx context.Context, rt *stage, end time.Time) error {
	if _, err := s.updateStage(ctx, rt.id, func(y *Stage) error { y.LastDisconnect = &end; return nil }); err != nil {
		return err
	}
	rt.mu.Lock()
	rt.lastDisconnect = &end
	rt.mu.Unlock()
	return nil
}

// lostBroadcast is a broadcast closeLostBroadcasts ended: its stage, when
// it started and when its loss was known.
type lostBroadcast struct {
	st         *stage
	start, end time.Time
}

// announceLost publishes the stopped event of each broadcast the last
// process lost, once, as its end would have (Owncast's STREAM_STOPPED
// webhook): New finds them before anything observes the service's events.
// A stage live again by now (a publisher quicker than Run) is passed over:
// its stream is the one the hooks hear of.
func (s *Service) announceLost() {
	s.mu.Lock()
	lost := s.lost
	s.lost = nil
	s.mu.Unlock()
	for _, l := range lost {
		l.st.mu.Lock()
		again := l.st.cur != nil || (l.st.lastConnect != nil && l.st.lastConnect.After(l.start))
		l.st.mu.Unlock()
		if again {
			continue
		}
		s.publish(l.st, EventStopped, func(e *Event) { e.StartedAt, e.EndedAt = &l.start, &l.end })
	}
}

// Settings returns the instance-wide video settings.
func (s *Service) Settings() Settings {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.settings
}

// SettingsTopic carries "the video settings changed" between nodes: each
// re-reads them (ReloadSettings), so the ffmpeg path, S3 and the video
// serving endpoint an admin sets on one node hold on every node.
const SettingsTopic = "live-settings.changed"

// UpdateSettings changes the instance-wide video settings, stores them and
// tells the other nodes.
func (s *Service) UpdateSettings(ctx context.Context, f func(*Settings) error) error {
	if err := s.updateSettings(ctx, f); err != nil {
		return err
	}
	if err := s.pub.Publish(context.WithoutCancel(ctx), SettingsTopic, []byte(`{}`)); err != nil {
		s.log.Warn("live: publish settings change", "err", err)
	}
	return nil
}

func (s *Service) updateSettings(ctx context.Context, f func(*Settings) error) error {
	s.setMu.Lock()
	defer s.setMu.Unlock()
	next := s.Settings()
	if err := f(&next); err != nil {
		return err
	}
	if err := next.S3.Validate(); err != nil {
		return fault.Wrap(fault.Invalid, err.Error(), err)
	}
	b, err := json.Marshal(next)
	if err != nil {
		return err
	}
	if err := s.st.SetSetting(ctx, settingsKey, string(b)); err != nil {
		return err
	}
	if err := s.adoptSettings(next); err != nil {
		return fault.Wrap(fault.Invalid, "s3: "+err.Error(), err)
	}
	return nil
}

// ReloadSettings re-reads the stored settings and puts them in effect on
// this node (another node changed them).
func (s *Service) ReloadSettings(ctx context.Context) error {
	s.setMu.Lock()
	defer s.setMu.Unlock()
	next, err := s.storedSettings(ctx)
	if err != nil {
		return err
	}
	return s.adoptSettings(next)
}

// adoptSettings puts next in effect: S3 offload restarts when its settings
// changed; the video serving endpoint, which the S3 base URL falls back to
// and which the default stage's own HLS names without S3, applies at once.
func (s *Service) adoptSettings(next Settings) error {
	s.mu.Lock()
	old := s.settings
	s.settings = next
	up, def := s.uploader, s.def
	s.mu.Unlock()
	if def != nil {
		def.origin.SetServingEndpoint(next.VideoServingEndpoint)
	}
	switch {
	case next.S3 != old.S3:
		return s.applyS3(next.S3)
	case next.VideoServingEndpoint != old.VideoServingEndpoint && up != nil:
		base := s.s3BaseURL()
		for _, st := range s.allStages() {
			st.origin.SetUploader(up, base)
		}
	}
	return nil
}

// applyS3 starts (or stops) the uploader used by later broadcasts.
func (s *Service) applyS3(c hls.S3Config) error {
	s.mu.Lock()
	if stop := s.upCancel; stop != nil {
		// A running broadcast keeps uploading where it started (its
		// players fetch from there); stop the old uploader once it ends.
		go func() {
			for _, st := range s.allStages() {
				for !st.waitEnded(time.Minute) && s.ctx.Err() == nil {
				}
			}
			stop()
		}()
		s.upCancel, s.uploader = nil, nil
	}
	s.mu.Unlock()
	var up *hls.Uploader
	if c.Enabled {
		var err error
		if up, err = hls.NewUploader(c, "hls/", s.log.With("component", "s3")); err != nil {
			return err
		}
		ctx, cancel := context.WithCancel(s.ctx)
		go func() { _ = up.Run(ctx) }()
		s.mu.Lock()
		s.uploader, s.upCancel = up, cancel
		s.mu.Unlock()
	}
	base := ""
	if up != nil {
		base = s.s3BaseURL()
	}
	for _, st := range s.allStages() {
		st.origin.SetUploader(up, base)
	}
	return nil
}

func (s *Service) s3BaseURL() string {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if !s.settings.S3.Enabled {
		return ""
	}
	c := s.settings.S3
	if c.ServingEndpoint == "" && s.settings.VideoServingEndpoint != "" {
		c.ServingEndpoint = s.settings.VideoServingEndpoint
	}
	return c.BaseURL()
}

// Uploader is the active S3 uploader (nil when S3 is off).
func (s *Service) Uploader() *hls.Uploader {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.uploader
}

func constantTimeEqual(a, b string) bool {
	if len(a) != len(b) {
		return false
	}
	var v byte
	for i := 0; i < len(a); i++ {
		v |= a[i] ^ b[i]
	}
	return v == 0
}
