package live

import (
	"context"
	"crypto/md5"
	"encoding/hex"
	"fmt"
	"sort"
	"strconv"
	"sync"
	"time"

	"github.com/hearth-community/hearth/internal/fault"
	"github.com/hearth-community/hearth/internal/hls"
	"github.com/hearth-community/hearth/internal/identity"
	"github.com/hearth-community/hearth/internal/ratelimit"
	"github.com/hearth-community/hearth/internal/rtmp"
	"github.com/hearth-community/hearth/internal/transcode"
)

// Caps on tracked viewers.
const (
	maxViewers      = 200_000
	maxViewersPerIP = 32
)

// Viewer is someone who fetched a playlist or pinged recently.
type Viewer struct {
	ClientID  string
	IP        string
	UserAgent string
	FirstSeen time.Time
	LastSeen  time.Time
	held      bool // a WebRTC viewer: counted while connected, not pruned
}

// stage is a stage's runtime state on this node.
type stage struct {
	svc       *Service
	id        string
	isDefault bool
	origin    *hls.Origin

	mu          sync.Mutex
	cur         *broadcast
	ended       chan struct{}
	viewers     map[string]*Viewer
	perIP       map[string]int
	sessionPeak int
	// liveElsewhere: another node was seen running the stage's broadcast
	// and no disconnect has been found for it since (closeAbandoned).
	liveElsewhere  bool
	overallPeak    int
	peakDirty      bool
	lastConnect    *time.Time
	lastDisconnect *time.Time
	thumbBusy      bool
	thumbAt        time.Time
}

// Status is a stage's current state.
type Status struct {
	Online         bool
	ViewerCount    int
	SessionPeak    int
	OverallPeak    int
	LastConnect    *time.Time
	LastDisconnect *time.Time
	Title          string
	Broadcaster    *Broadcaster
	// Output settings of the running broadcast (or the stored ones).
	Variants     []Variant
	LatencyLevel int
	VideoCodec   string
}

// Status returns a stage's status.
func (s *Service) Status(ctx context.Context, stageID string) (Status, error) {
	st, err := s.stage(stageID)
	if err != nil {
		return Status{}, err
	}
	stored, err := s.st.Stage(ctx, stageID)
	if err != nil {
		return Status{}, err
	}
	st.mu.Lock()
	defer st.mu.Unlock()
	// The stored times are written by whichever node the publisher is on;
	// this node's own are newer while its write is in flight.
	st.lastConnect, st.lastDisconnect = later(st.lastConnect, stored.LastConnect), later(st.lastDisconnect, stored.LastDisconnect)
	st.overallPeak = max(st.overallPeak, stored.OverallPeak)
	out := Status{ViewerCount: st.countLocked(), SessionPeak: st.sessionPeak, OverallPeak: st.overallPeak,
		LastConnect: st.lastConnect, LastDisconnect: st.lastDisconnect, Title: stored.Title,
		Variants: stored.Variants, LatencyLevel: stored.LatencyLevel, VideoCodec: stored.VideoCodec}
	// A broadcast reserved by begin but still starting its pipeline is not
	// online yet, and its fields are still being written.
	if c := s.cfg.Viewers; c != nil && c.Count(st.broadcastKey()) > 0 {
		// Publishing to another node (its details stay there), unless
		// every node counting it is unreachable (peers.go).
		nodes := c.Elsewhere(st.broadcastKey())
		out.Online = st.cur != nil || len(nodes) == 0 || len(s.reachable(nodes)) > 0
	}
	if b := st.cur; b != nil && b.running {
		out.Online = true
		d := b.detailsCopy()
		out.Broadcaster = &Broadcaster{RemoteAddr: b.req.RemoteAddr, Time: b.started, Details: d}
		out.Variants, out.LatencyLevel, out.VideoCodec = b.variants, b.level.Level, b.codec
		st.notePeakLocked(out.ViewerCount)
		out.SessionPeak, out.OverallPeak = st.sessionPeak, st.overallPeak
	} else if out.Online {
		// Running on another node, which keeps the session's peak (the
		// admin status asks it for it); this node's is of its own last
		// broadcast.
		out.SessionPeak = out.ViewerCount
		out.OverallPeak = max(out.OverallPeak, out.SessionPeak)
	}
	return out, nil
}

// Origin is a stage's HLS origin.
func (s *Service) Origin(stageID string) (*hls.Origin, error) {
	st, err := s.stage(stageID)
	if err != nil {
		return nil, err
	}
	return st.origin, nil
}

// Disconnect drops a stage's publisher. It returns ErrOffline when no one
// is publishing.
func (s *Service) Disconnect(stageID string) error {
	st, err := s.stage(stageID)
	if err != nil {
		return err
	}
	if st.disconnect() {
		return nil
	}
	if s.IngestNode(stageID) == "" {
		return ErrOffline
	}
	// The broadcast runs on another node: that node drops its publisher
	// when it hears this (DisconnectLocal, wired to DisconnectTopicPrefix).
	if err := s.pub.Publish(context.WithoutCancel(s.ctx), DisconnectTopicPrefix+stageID, []byte(stageID)); err != nil {
		return fault.Wrap(fault.Unavailable, "cannot reach the node running the stream", err)
	}
	return nil
}

// DisconnectTopicPrefix starts the bus topic on which a node asks the
// others to drop a stage's publisher (the admin's disconnect asked of a
// node that does not run the broadcast): live.disconnect.<stage id>.
const DisconnectTopicPrefix = "live.disconnect."

// DisconnectLocal drops the publisher of a stage's broadcast when this
// node runs it, and does nothing otherwise (a Disconnect asked of another
// node, heard on DisconnectTopicPrefix).
func (s *Service) DisconnectLocal(stageID string) {
	if st, err := s.stage(stageID); err == nil {
		st.disconnect()
	}
}

// WaitOffline waits until a stage's broadcast has fully ended (tests,
// shutdown).
func (s *Service) WaitOffline(stageID string, d time.Duration) bool {
	st, err := s.stage(stageID)
	if err != nil {
		return false
	}
	return st.waitEnded(d)
}

func (st *stage) disconnect() bool {
	st.mu.Lock()
	b := st.cur
	st.mu.Unlock()
	if b == nil {
		return false
	}
	if b.req.Disconnect != nil {
		b.req.Disconnect()
	}
	return true
}

func (st *stage) waitEnded(d time.Duration) bool {
	st.mu.Lock()
	ch := st.ended
	live := st.cur != nil
	st.mu.Unlock()
	if !live || ch == nil {
		return true
	}
	select {
	case <-ch:
		return true
	case <-time.After(d):
		return false
	}
}

// Touch counts a viewer (a playlist fetch or GET /api/ping). The viewer id
// is MD5(IP + User-Agent), as in Owncast.
func (s *Service) Touch(stageID, ip, userAgent string) {
	st, err := s.stage(stageID)
	if err != nil {
		return
	}
	sum := md5.Sum([]byte(ip + userAgent))
	id := hex.EncodeToString(sum[:])
	if len(userAgent) > 256 {
		userAgent = userAgent[:256]
	}
	now := s.cfg.Now()
	st.mu.Lock()
	defer st.mu.Unlock()
	v, ok := st.viewers[id]
	if !ok {
		// The user agent is the client's to choose: cap viewers per address
		// (a household or NAT has a few browsers, not thousands) and overall.
		if len(st.viewers) >= maxViewers || st.perIP[ratelimit.AddrKey(ip)] >= maxViewersPerIP {
			return
		}
		v = &Viewer{ClientID: id, IP: ip, UserAgent: userAgent, FirstSeen: now}
		st.viewers[id] = v
		st.perIP[ratelimit.AddrKey(ip)]++
		if c := s.cfg.Viewers; c != nil {
			c.Add(st.viewerKey())
		}
	}
	v.LastSeen = now
	if st.cur != nil {
		st.notePeakLocked(st.countLocked())
	}
}

// notePeak raises the session's and all-time peaks to n viewers (the
// cluster's count) while the stage's broadcast runs on this node, which
// keeps them: viewers arriving only on other nodes count too.
func (st *stage) notePeak(n int) {
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.cur != nil {
		st.notePeakLocked(n)
	}
}

func (st *stage) notePeakLocked(n int) {
	if n > st.sessionPeak {
		st.sessionPeak = n
	}
	if n > st.overallPeak {
		st.overallPeak, st.peakDirty = n, true
	}
}

// Viewers lists the active viewers, oldest first.
func (s *Service) Viewers(stageID string) ([]Viewer, error) {
	st, err := s.stage(stageID)
	if err != nil {
		return nil, err
	}
	st.mu.Lock()
	out := make([]Viewer, 0, len(st.viewers))
	for _, v := range st.viewers {
		out = append(out, *v)
	}
	st.mu.Unlock()
	sort.Slice(out, func(i, j int) bool { return out[i].FirstSeen.Before(out[j].FirstSeen) })
	return out, nil
}

// ViewersOverTime returns stored viewer-count samples since a time.
func (s *Service) ViewersOverTime(ctx context.Context, stageID string, since time.Time) ([]Sample, error) {
	if _, err := s.stage(stageID); err != nil {
		return nil, err
	}
	return s.st.ViewerSamples(ctx, stageID, since)
}

func (st *stage) pruneViewers(now time.Time) {
	st.mu.Lock()
	defer st.mu.Unlock()
	for id, v := range st.viewers {
		if !v.held && now.Sub(v.LastSeen) > st.svc.cfg.ViewerTTL {
			delete(st.viewers, id)
			if c := st.svc.cfg.Viewers; c != nil {
				c.Done(st.viewerKey())
			}
			if k := ratelimit.AddrKey(v.IP); st.perIP[k] <= 1 {
				delete(st.perIP, k)
			} else {
				st.perIP[k]--
			}
		}
	}
}

func (st *stage) viewerCount() int {
	st.mu.Lock()
	defer st.mu.Unlock()
	return st.countLocked()
}

// countLocked is the stage's viewer count: over the whole cluster when a
// counter is configured, else this node's.
func (st *stage) countLocked() int {
	if c := st.svc.cfg.Viewers; c != nil {
		return c.Count(st.viewerKey())
	}
	return len(st.viewers)
}

func (st *stage) viewerKey() string { return "viewers." + st.id }

// broadcastKey counts running broadcasts of the stage (on any node).
func (st *stage) broadcastKey() string { return "broadcast." + st.id }

func (st *stage) savePeak(ctx context.Context) {
	st.mu.Lock()
	dirty, peak := st.peakDirty, st.overallPeak
	st.peakDirty = false
	st.mu.Unlock()
	if !dirty {
		return
	}
	if _, err := st.svc.updateStage(ctx, st.id, func(s *Stage) error { s.OverallPeak = max(s.OverallPeak, peak); return nil }); err != nil {
		st.svc.log.Warn("live: cannot save peak viewers", "err", err)
	}
}

// beginSource starts a broadcast for an accepted stream key; rl, when not
// nil, is its fan-out to WebRTC viewers; holder is the account the key is
// issued to ("": an instance key).
func (st *stage) beginSource(ctx context.Context, req rtmp.PublishRequest, rl *relay, holder string) (rtmp.Stream, error) {
	s := st.svc
	// One publisher per stage in the cluster: a broadcast another node
	// runs (its presence count, as IngestNode reads it) refuses this one
	// at once, as a local one does. Nodes learn of each other's within
	// the presence batch, so what decides two publishes to two nodes at
	// the same instant is the stage's publish lease (lease.go), claimed
	// once this node has reserved the stage for itself.
	if c := s.cfg.Viewers; c != nil && len(s.reachable(c.Elsewhere(st.broadcastKey()))) > 0 {
		return nil, errLive
	}
	st.mu.Lock()
	if st.cur != nil {
		st.mu.Unlock()
		return nil, errLive
	}
	b := &broadcast{st: st, id: identity.NewID(), req: req, started: s.cfg.Now().UTC(), relay: rl, holder: holder}
	st.cur = b // reserve the stage while the pipeline starts
	st.ended = make(chan struct{})
	st.mu.Unlock()
	unreserve := func() {
		st.mu.Lock()
		st.cur = nil
		close(st.ended)
		st.mu.Unlock()
	}
	if hook := s.leaseHookOf(); hook != nil {
		hook(st.id)
	}
	if err := s.claimLease(ctx, b); err != nil {
		unreserve()
		return nil, err
	}
	if err := b.start(ctx); err != nil {
		s.releaseLease(b)
		unreserve()
		s.log.Warn("live: cannot start broadcast", "stage", st.id, "err", err)
		return nil, fmt.Errorf("cannot start the stream: %s", fault.Message(err))
	}
	st.mu.Lock()
	b.running = true // publishes b's fields written by start to readers holding st.mu
	if c := s.cfg.Viewers; c != nil {
		c.Add(st.broadcastKey()) // other nodes report the stage online
	}
	st.sessionPeak = st.countLocked()
	t := b.started
	st.lastConnect = &t
	st.mu.Unlock()
	if _, err := s.updateStage(ctx, st.id, func(x *Stage) error { x.LastConnect = &t; return nil }); err != nil {
		s.log.Warn("live: cannot record connect time", "err", err)
	}
	if err := s.st.StartBroadcast(ctx, b.id, st.id, b.started, `{"remoteAddr":`+strconv.Quote(req.RemoteAddr)+`}`); err != nil {
		s.log.Warn("live: cannot record broadcast", "err", err)
	}
	s.log.Info("stream started", "stage", st.id, "remote", req.RemoteAddr)
	s.publish(st, EventStarted, func(e *Event) { e.Online, e.StartedAt = true, &t })
	return b, nil
}

// end runs when the publisher has gone. Viewers learn it at once: the
// stage reads offline and the stopped event goes out on the disconnect
// itself, before the pipeline drains (an ffmpeg given up to 6 s to finish,
// the last segments flushed) and before the database writes. The stage stays
// reserved (st.cur) until the drain is done, so a reconnecting publisher
// cannot start a pipeline over the old one's output.
func (st *stage) end(b *broadcast, cause error) {
	s := st.svc
	s.mu.RLock()
	drain := s.drainHook
	s.mu.RUnlock()
	now := s.cfg.Now().UTC()
	st.mu.Lock()
	b.running = false // Status reads offline from here on
	st.lastDisconnect = &now
	if c := s.cfg.Viewers; c != nil {
		c.Done(st.broadcastKey())
	}
	peak := st.sessionPeak
	ended := st.ended
	st.mu.Unlock()
	s.log.Info("stream stopped", "stage", st.id, "reason", errString(cause))
	start := b.started
	s.publish(st, EventStopped, func(e *Event) { e.StartedAt, e.EndedAt = &start, &now })

	if drain != nil {
		drain()
	}
	if b.relay != nil {
		b.relay.end()
	}
	b.pipeline.Close()
	for _, sg := range b.segs {
		sg.Flush()
	}
	st.origin.End()
	ctx := context.WithoutCancel(s.ctx)
	if _, err := s.updateStage(ctx, st.id, func(x *Stage) error { x.LastDisconnect = &now; return nil }); err != nil {
		s.log.Warn("live: cannot record disconnect time", "err", err)
	}
	if err := s.st.EndBroadcast(ctx, b.id, now, peak); err != nil {
		s.log.Warn("live: cannot record broadcast end", "err", err)
	}
	st.savePeak(ctx)
	// Other nodes may take the stage from here; this one only once st.cur
	// is cleared below.
	s.releaseLease(b)
	// The recorder keeps the stage's last segments (flushed above) before
	// the recording closes.
	st.mu.Lock()
	rec := b.rec
	b.rec = nil
	st.cur = nil
	st.mu.Unlock()
	if rec != nil {
		rec.End(now)
	}
	close(ended)
}

func later(a, b *time.Time) *time.Time {
	if a == nil || (b != nil && b.After(*a)) {
		return b
	}
	return a
}

func errString(err error) string {
	if err == nil {
		return "publisher left"
	}
	return err.Error()
}

// broadcast is one publish session; it is the rtmp.Stream.
type broadcast struct {
	st       *stage
	id       string
	req      rtmp.PublishRequest
	started  time.Time
	level    LatencyLevel
	codec    string
	variants []Variant
	pipeline *transcode.Pipeline
	segs     []*hls.Segmenter
	running  bool // set under st.mu once start has returned
	rec      RecordingSink
	recIndex int    // the variant rec gets
	relay    *relay // the fan-out to WebRTC viewers (nil: no media plane)
	holder   string // the account the stream key is issued to ("": an instance key)

	mu      sync.Mutex
	details StreamDetails
	meta    bool // onMetaData seen
	vbytes  int64
	abytes  int64
	firstMS uint32
	lastMS  uint32
	frames  int
	seenTS  bool
}

func (b *broadcast) start(ctx context.Context) error {
	s := b.st.svc
	cfg, err := s.st.Stage(ctx, b.st.id)
	if err != nil {
		return err
	}
	level, ok := LatencyLevelFor(cfg.LatencyLevel)
	if !ok {
		level, _ = LatencyLevelFor(DefaultLatencyLevel)
	}
	b.level, b.codec = level, cfg.VideoCodec
	b.variants = cfg.Variants
	if len(b.variants) == 0 {
		b.variants = DefaultVariants()
	}
	specs := make([]hls.VariantSpec, len(b.variants))
	tv := make([]transcode.Variant, len(b.variants))
	for i, v := range b.variants {
		bw := (v.VideoBitrate + max(v.AudioBitrate, 128)) * 1000 * 107 / 100
		specs[i] = hls.VariantSpec{Bandwidth: bw, Width: v.ScaledWidth, Height: v.ScaledHeight, Framerate: float64(v.EffectiveFramerate())}
		tv[i] = v.transcode()
	}
	target := time.Duration(level.SecondsPerSegment) * time.Second
	// Level 5 is low-latency HLS: 200 ms parts next to the 1 s segments.
	if level.Level == 5 {
		b.st.origin.SetPartTarget(200 * time.Millisecond)
	} else {
		b.st.origin.SetPartTarget(0)
	}
	segs, err := b.st.origin.Begin(specs, target, level.SegmentCount)
	if err != nil {
		return err
	}
	outs := make([]transcode.Output, len(segs))
	for i, sg := range segs {
		outs[i] = sg
	}
	b.segs = segs
	// The recorder is ready before the first segment can be cut.
	if r := s.recorderOf(); r != nil {
		if sink := r.BroadcastStarted(b.st.id, b.id, cfg.Title, b.started); sink != nil {
			b.st.mu.Lock()
			b.rec, b.recIndex = sink, sourceVariant(b.variants)
			b.st.mu.Unlock()
		}
	}
	p, err := transcode.Start(s.ctx, transcode.Config{FFmpegPath: s.Settings().FFmpegPath, Codec: b.codec,
		SegmentSeconds: level.SecondsPerSegment, Variants: tv, Outputs: outs,
		Log: s.log.With("component", "transcode", "stage", b.st.id)})
	if err != nil {
		b.st.origin.End()
		b.st.mu.Lock()
		rec := b.rec
		b.rec = nil
		b.st.mu.Unlock()
		if rec != nil {
			rec.End(s.cfg.Now().UTC())
		}
		return fault.Wrap(fault.Unavailable, "the transcoder could not start (check the ffmpeg path)", err)
	}
	b.pipeline = p
	return nil
}

// Metadata fills the stream details from onMetaData.
func (b *broadcast) Metadata(m rtmp.Object) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.meta = true
	d := &b.details
	if v, ok := num(m["width"]); ok {
		d.Width = int(v)
	}
	if v, ok := num(m["height"]); ok {
		d.Height = int(v)
	}
	if v, ok := num(m["framerate"]); ok {
		d.Framerate = v
	} else if v, ok := num(m["fps"]); ok {
		d.Framerate = v
	}
	if v, ok := num(m["videodatarate"]); ok {
		d.VideoBitrate = int(v)
	}
	if v, ok := num(m["audiodatarate"]); ok {
		d.AudioBitrate = int(v)
	}
	if c := videoCodecName(m["videocodecid"]); c != "" {
		d.VideoCodec = c
	}
	if c := audioCodecName(m["audiocodecid"]); c != "" {
		d.AudioCodec = c
	}
	if e, ok := m["encoder"].(string); ok && len(e) < 200 {
		d.Encoder = e
	}
	b.updateSpecs()
}

// updateSpecs describes the variants from the source's size (passthrough:
// the source; scaled: the missing side follows the aspect ratio); b.mu held.
func (b *broadcast) updateSpecs() {
	d := b.details
	for i, v := range b.variants {
		if v.VideoPassthrough {
			bw := (d.VideoBitrate + max(d.AudioBitrate, 128)) * 1000 * 107 / 100
			if d.VideoBitrate == 0 {
				bw = 0
			}
			b.st.origin.UpdateSpec(i, hls.VariantSpec{Bandwidth: bw, Width: d.Width, Height: d.Height, Framerate: d.Framerate})
			continue
		}
		w, h := scaledSize(v.ScaledWidth, v.ScaledHeight, d.Width, d.Height)
		bw := (v.VideoBitrate + max(v.AudioBitrate, 128)) * 1000 * 107 / 100
		b.st.origin.UpdateSpec(i, hls.VariantSpec{Bandwidth: bw, Width: w, Height: h, Framerate: float64(v.EffectiveFramerate())})
	}
}

// scaledSize is ffmpeg's scale=W:H with -2 for a missing side (even sizes).
func scaledSize(w, h, srcW, srcH int) (int, int) {
	w, h = w&^1, h&^1
	switch {
	case w > 0 && h > 0:
		return w, h
	case srcW <= 0 || srcH <= 0:
		return 0, 0
	case h > 0:
		return (srcW*h/srcH + 1) &^ 1, h
	case w > 0:
		return w, (srcH*w/srcW + 1) &^ 1
	}
	return srcW, srcH
}

func num(v any) (float64, bool) {
	f, ok := v.(float64)
	return f, ok && f >= 0 && f < 1e9
}

func videoCodecName(v any) string {
	switch x := v.(type) {
	case float64:
		switch int(x) {
		case 7:
			return "H.264"
		case 12:
			return "HEVC"
		case 2:
			return "Sorenson H.263"
		case 4, 5:
			return "VP6"
		}
	case string:
		switch x {
		case "avc1":
			return "H.264"
		case "hvc1", "hev1":
			return "HEVC"
		case "av01":
			return "AV1"
		}
	}
	return ""
}

func audioCodecName(v any) string {
	switch x := v.(type) {
	case float64:
		switch int(x) {
		case 10:
			return "AAC"
		case 2:
			return "MP3"
		case 11:
			return "Speex"
		case 13:
			return "Opus"
		}
	case string:
		switch x {
		case "mp4a":
			return "AAC"
		case ".mp3":
			return "MP3"
		case "Opus", "opus":
			return "Opus"
		}
	}
	return ""
}

// Video passes a video tag on, filling details the metadata lacked.
func (b *broadcast) Video(ts uint32, data []byte) {
	b.mu.Lock()
	b.vbytes += int64(len(data))
	if !b.seenTS {
		b.firstMS, b.seenTS = ts, true
	}
	b.lastMS = ts
	b.frames++
	if len(data) > 1 && data[0]&0xf == transcode.VideoCodecAVC {
		if b.details.VideoCodec == "" {
			b.details.VideoCodec = "H.264"
		}
		if data[1] == 0 && b.details.Width == 0 {
			if t, err := transcode.ParseVideoTag(data); err == nil {
				if c, err := transcode.ParseAVCConfig(t.Data); err == nil {
					b.details.Width, b.details.Height = c.Width, c.Height
					b.updateSpecs()
				}
			}
		}
	}
	b.mu.Unlock()
	b.pipeline.Video(ts, data)
	if b.relay != nil && b.relay.flv {
		b.relay.flvVideo(ts, data)
	}
}

// Audio passes an audio tag on.
func (b *broadcast) Audio(ts uint32, data []byte) {
	b.mu.Lock()
	b.abytes += int64(len(data))
	if b.details.AudioCodec == "" && len(data) > 0 && data[0]>>4 == transcode.AudioCodecAAC {
		b.details.AudioCodec = "AAC"
	}
	b.mu.Unlock()
	b.pipeline.Audio(ts, data)
	if b.relay != nil && b.relay.flv {
		b.relay.flvAudio(ts, data)
	}
}

// Close ends the broadcast (the publisher left).
func (b *broadcast) Close(err error) { b.st.end(b, err) }

func (b *broadcast) detailsCopy() StreamDetails {
	b.mu.Lock()
	defer b.mu.Unlock()
	d := b.details
	if secs := float64(b.lastMS-b.firstMS) / 1000; secs >= 2 {
		if d.VideoBitrate == 0 {
			d.VideoBitrate = int(float64(b.vbytes*8) / secs / 1000)
		}
		if d.AudioBitrate == 0 && b.abytes > 0 {
			d.AudioBitrate = int(float64(b.abytes*8) / secs / 1000)
		}
		if d.Framerate == 0 {
			d.Framerate = float64(b.frames) / secs
		}
	}
	return d
}
