package live

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/pion/rtcp"
	"github.com/pion/rtp"
	"github.com/pion/sdp/v3"
	"github.com/pion/webrtc/v4"
	"github.com/pion/webrtc/v4/pkg/media"

	"github.com/hearth-community/hearth/internal/fault"
	"github.com/hearth-community/hearth/internal/ratelimit"
	"github.com/hearth-community/hearth/internal/rtc"
	"github.com/hearth-community/hearth/internal/rtcav"
	"github.com/hearth-community/hearth/internal/rtmp"
)

// PeerConnector makes server-side WebRTC peer connections (the rtc plane).
type PeerConnector interface {
	NewPeerConnection() (*webrtc.PeerConnection, error)
}

// sendBatcher is a media plane that sends a fan-out's packets together
// (rtc.Plane: one sendmmsg for many viewers instead of one sendto each).
type sendBatcher interface {
	BeginBatch()
	EndBatch()
}

// ErrNoWebRTC refuses WHIP and WHEP on a node without a media plane.
var ErrNoWebRTC = fault.New(fault.Unavailable, "WebRTC live is not enabled on this server (it needs --rtc-udp-addr)")

// Timeouts of WebRTC sessions.
const (
	// connectTimeout ends a session whose peer never connects.
	connectTimeout = 30 * time.Second
	// pliEvery is the least time between two keyframe requests sent to a
	// WHIP publisher for viewers: joins within it share one keyframe.
	pliEvery = 500 * time.Millisecond
	// maxSDP caps an offer.
	maxSDP = 64 << 10
	// maxMediaSections caps an offer's m-lines: WHIP and WHEP carry one
	// video and one audio. Each costs a pion transceiver whether used or
	// not: 64 KiB held about 500, 1.5 MiB of heap and 110 ms of CPU per
	// session (2 m-lines: 66 KiB, 7 ms), measured.
	maxMediaSections = 8
)

// SetPeerConnector enables WHIP ingest and WHEP playback (nil: both are
// refused with ErrNoWebRTC). Call it before serving.
func (s *Service) SetPeerConnector(p PeerConnector) {
	s.mu.Lock()
	s.pcs = p
	s.mu.Unlock()
}

func (s *Service) peerConnector() PeerConnector {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.pcs
}

// Session is an answered WHIP or WHEP offer.
type Session struct {
	ID     string
	Answer string // SDP
}

// rtcSession is one WHIP publisher or WHEP viewer.
type rtcSession struct {
	id      string
	stageID string
	viewer  string // the signed-in WHEP viewer's account ("" anonymous, and for WHIP)
	channel string // the stage channel a WHEP viewer came through, when bound to another stage
	pc      *webrtc.PeerConnection
	once    sync.Once
	onClose func(error)
}

func (x *rtcSession) close(err error) {
	x.once.Do(func() {
		_ = x.pc.Close()
		if x.onClose != nil {
			x.onClose(err)
		}
	})
}

func newSessionID() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

func (s *Service) addSession(x *rtcSession) {
	s.mu.Lock()
	if s.sessions == nil {
		s.sessions = map[string]*rtcSession{}
	}
	s.sessions[x.id] = x
	s.mu.Unlock()
}

func (s *Service) dropSession(id string) {
	s.mu.Lock()
	delete(s.sessions, id)
	s.mu.Unlock()
}

// EndSession ends a WHIP or WHEP session of a stage (the DELETE on its
// resource URL).
func (s *Service) EndSession(stageID, id string) error {
	s.mu.RLock()
	x, ok := s.sessions[id]
	s.mu.RUnlock()
	if !ok || x.stageID != stageID {
		return fault.New(fault.NotFound, "no such session")
	}
	x.close(nil)
	return nil
}

// offerCodecs reads an offer and says whether it has H.264 video and
// whether its audio (if any) can be Opus.
func offerCodecs(offer string) (h264, audio, opus bool, err error) {
	if len(offer) > maxSDP {
		return false, false, false, fault.New(fault.Invalid, "the SDP offer is too large")
	}
	var d sdp.SessionDescription
	if err := d.UnmarshalString(offer); err != nil {
		return false, false, false, fault.New(fault.Invalid, "the body is not an SDP offer")
	}
	if len(d.MediaDescriptions) > maxMediaSections {
		return false, false, false, fault.Newf(fault.Invalid, "the SDP offer has %d media sections; at most %d", len(d.MediaDescriptions), maxMediaSections)
	}
	if err := rtc.CheckCandidates(nil, offer); err != nil {
		return false, false, false, fault.Wrap(fault.Invalid, "the SDP offer names too many ICE candidate addresses", err)
	}
	for _, m := range d.MediaDescriptions {
		for _, a := range m.Attributes {
			if a.Key != "rtpmap" {
				continue
			}
			v := strings.ToLower(a.Value)
			switch m.MediaName.Media {
			case "video":
				h264 = h264 || strings.Contains(v, " h264/90000")
			case "audio":
				opus = opus || strings.Contains(v, " opus/48000")
			}
		}
		if m.MediaName.Media == "audio" {
			audio = true
		}
	}
	return h264, audio, opus, nil
}

// keepOnly makes a transceiver negotiate only the codecs of one MIME type
// (H.264 video from a browser that lists VP8 first, say).
func keepOnly(t *webrtc.RTPTransceiver, mime string) (webrtc.RTPCodecCapability, bool) {
	var keep []webrtc.RTPCodecParameters
	for _, c := range t.Receiver().GetParameters().Codecs {
		if strings.EqualFold(c.MimeType, mime) {
			keep = append(keep, c)
		}
	}
	if len(keep) == 0 || t.SetCodecPreferences(keep) != nil {
		return webrtc.RTPCodecCapability{}, false
	}
	return keep[0].RTPCodecCapability, true
}

// answer sets the offer, lets prepare adjust the transceivers, and returns
// the complete answer (all candidates gathered: WHIP and WHEP here do not
// trickle).
func answer(ctx context.Context, pc *webrtc.PeerConnection, offer string, prepare func() error) (string, error) {
	if err := pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeOffer, SDP: offer}); err != nil {
		return "", fault.Wrap(fault.Invalid, "the SDP offer cannot be used: "+err.Error(), err)
	}
	if err := prepare(); err != nil {
		return "", err
	}
	ans, err := pc.CreateAnswer(nil)
	if err != nil {
		return "", fault.Wrap(fault.Invalid, "no answer to this offer: "+err.Error(), err)
	}
	gathered := webrtc.GatheringCompletePromise(pc)
	if err := pc.SetLocalDescription(ans); err != nil {
		return "", fmt.Errorf("live: set answer: %w", err)
	}
	select {
	case <-gathered:
	case <-ctx.Done():
		return "", ctx.Err()
	}
	return pc.LocalDescription().SDP, nil
}

// WHIP starts a broadcast on a stage from a WebRTC publisher (RFC 9725):
// key must be one of the stage's stream keys. The stage goes live as with
// RTMP (the same begin, so status, events, webhooks and recordings are
// the same); H.264 goes to the pipeline without decoding, Opus is
// transcoded to AAC by one audio-only ffmpeg.
func (s *Service) WHIP(ctx context.Context, stageID, key, offer, remoteAddr string) (*Session, error) {
	pcs := s.peerConnector()
	if pcs == nil {
		return nil, ErrNoWebRTC
	}
	st, err := s.stage(stageID)
	if err != nil {
		return nil, err
	}
	var holder string
	if err := s.guardKey(remoteAddr, func() (err error) { holder, err = s.checkKey(ctx, st, key); return err }); err != nil {
		return nil, err
	}
	h264, hasAudio, opus, err := offerCodecs(offer)
	if err != nil {
		return nil, err
	}
	if !h264 {
		return nil, fault.New(fault.Invalid, "the offer has no H.264 video (WHIP ingest takes H.264 and Opus)")
	}
	if hasAudio && !opus {
		return nil, fault.New(fault.Invalid, "the offer's audio is not Opus (WHIP ingest takes H.264 and Opus)")
	}
	if st.busy() {
		return nil, errLive
	}
	pc, err := pcs.NewPeerConnection()
	if err != nil {
		return nil, fault.Wrap(fault.Unavailable, "cannot make a WebRTC peer connection", err)
	}
	var vcap, acap webrtc.RTPCodecCapability
	ans, err := answer(ctx, pc, offer, func() error {
		for _, t := range pc.GetTransceivers() {
			switch t.Kind() {
			case webrtc.RTPCodecTypeVideo:
				c, ok := keepOnly(t, webrtc.MimeTypeH264)
				if !ok {
					return fault.New(fault.Invalid, "the offer has no H.264 video this server can receive")
				}
				vcap = c
			case webrtc.RTPCodecTypeAudio:
				c, ok := keepOnly(t, webrtc.MimeTypeOpus)
				if !ok {
					return fault.New(fault.Invalid, "the offer's audio is not Opus")
				}
				acap = c
			}
		}
		if vcap.MimeType == "" {
			return fault.New(fault.Invalid, "the offer has no video")
		}
		return nil
	})
	if err != nil {
		_ = pc.Close()
		return nil, err
	}
	pub := &whipPublisher{svc: s, pc: pc, started: s.cfg.Now(), ready: make(chan struct{})}
	x := &rtcSession{id: newSessionID(), stageID: st.id, pc: pc}
	pub.sess = x
	rl := newRelay(st, vcap, acap, pub.requestKeyframe)
	if rl == nil {
		_ = pc.Close()
		return nil, fault.New(fault.Unavailable, "cannot make the WebRTC tracks")
	}
	pc.OnTrack(pub.onTrack)
	pc.OnConnectionStateChange(func(c webrtc.PeerConnectionState) {
		switch c {
		case webrtc.PeerConnectionStateConnected:
			pub.connected()
		case webrtc.PeerConnectionStateFailed, webrtc.PeerConnectionStateClosed:
			x.close(errors.New("the WebRTC connection ended"))
		}
	})
	x.onClose = func(err error) {
		s.dropSession(x.id)
		pub.close(err)
	}
	// A client that gave up waiting for its answer (a timeout, a retry)
	// never connects: the stage must not go live for it, which showed the
	// stage online and refused the publisher's retry (409) for
	// connectTimeout.
	if err := ctx.Err(); err != nil {
		close(pub.ready)
		x.close(err)
		return nil, errPublisherLeft(err)
	}
	stream, err := st.beginSource(ctx, rtmp.PublishRequest{App: "whip", RemoteAddr: remoteAddr, Disconnect: func() { x.close(errors.New("disconnected by an admin")) }}, rl, holder)
	if err != nil {
		close(pub.ready)
		x.close(err)
		if errors.Is(err, errLive) {
			return nil, err
		}
		return nil, fault.Wrap(fault.Unavailable, err.Error(), err)
	}
	b := stream.(*broadcast)
	b.Metadata(rtmp.Object{"encoder": "WHIP (WebRTC)", "videocodecid": "avc1", "audiocodecid": "opus"})
	pub.mu.Lock()
	pub.stream = b
	gone := pub.closed
	pub.mu.Unlock()
	if gone { // closed while the pipeline started
		close(pub.ready)
		b.Close(errors.New("the WebRTC publisher left"))
		return nil, fault.New(fault.Unavailable, "the WebRTC connection ended")
	}
	if err := ctx.Err(); err != nil { // gave up while the pipeline started
		close(pub.ready)
		x.close(err)
		return nil, errPublisherLeft(err)
	}
	s.addSession(x)
	close(pub.ready)
	time.AfterFunc(connectTimeout, func() {
		if !pub.isConnected() {
			x.close(errors.New("the WebRTC publisher never connected"))
		}
	})
	return &Session{ID: x.id, Answer: ans}, nil
}

// errPublisherLeft refuses a WHIP offer whose request ended before its
// answer was ready.
func errPublisherLeft(err error) error {
	return fault.Wrap(fault.Unavailable, "the publisher left before its answer", err)
}

// errInvalidKey refuses a key that is none of the stage's.
var errInvalidKey = fault.New(fault.Unauthorized, "invalid stream key")

// RefuseKey is the answer to a stream key offered for a stage that does not
// exist: a wrong key, counted against the address as one, so that a caller
// cannot tell a stage that exists from one that does not by the answer (nor
// by when the address's wrong keys run out).
func (s *Service) RefuseKey(remoteAddr string) error {
	if s.peerConnector() == nil {
		return ErrNoWebRTC // as WHIP answers any stage without a media plane
	}
	return s.guardKey(remoteAddr, func() error { return errInvalidKey })
}

// errLive refuses a second publisher.
var errLive = fault.New(fault.Conflict, "a stream is already live on this stage")

// checkKey accepts one of the stage's stream keys (or --stream-key on the
// default stage) whose holder, if it has one, may still stream to it, and
// returns that holder.
func (s *Service) checkKey(ctx context.Context, st *stage, key string) (holder string, err error) {
	if key == "" {
		return "", fault.New(fault.Unauthorized, "the stage's stream key is the Bearer token")
	}
	if st.isDefault && s.cfg.TempStreamKey != "" && constantTimeEqual(key, s.cfg.TempStreamKey) {
		return "", nil
	}
	id, holder, err := s.st.KeyStage(ctx, key)
	if errors.Is(err, fault.NotFound) || (err == nil && id != st.id) {
		return "", errInvalidKey
	}
	if err != nil {
		return "", fault.Wrap(fault.Unavailable, "cannot check the stream key right now", err)
	}
	return holder, s.mayPublish(ctx, id, holder)
}

// busy reports whether a broadcast holds the stage.
func (st *stage) busy() bool {
	st.mu.Lock()
	defer st.mu.Unlock()
	return st.cur != nil
}

// whipPublisher feeds a WHIP publisher's tracks to its broadcast.
type whipPublisher struct {
	svc     *Service
	sess    *rtcSession
	pc      *webrtc.PeerConnection
	started time.Time
	ready   chan struct{}
	stream  *broadcast

	mu        sync.Mutex // serialises calls into stream (one goroutine per track)
	closed    bool
	conn      bool
	aac       *rtcav.OpusToAAC
	audioBase int64 // ms of the first Opus packet since started
	videoSSRC uint32
	stop      chan struct{}
}

func (p *whipPublisher) connected() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.conn || p.closed {
		return
	}
	p.conn = true
	p.stop = make(chan struct{})
	// Browsers send a keyframe only when asked; HLS cuts segments on
	// keyframes, so ask for one per segment.
	every := time.Duration(max(p.stream.level.SecondsPerSegment, 1)) * time.Second
	go func(stop chan struct{}) {
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			select {
			case <-stop:
				return
			case <-t.C:
				p.requestKeyframe()
			}
		}
	}(p.stop)
}

func (p *whipPublisher) isConnected() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.conn
}

func (p *whipPublisher) requestKeyframe() {
	p.mu.Lock()
	ssrc := p.videoSSRC
	p.mu.Unlock()
	if ssrc != 0 {
		_ = p.pc.WriteRTCP([]rtcp.Packet{&rtcp.PictureLossIndication{MediaSSRC: ssrc}})
	}
}

func (p *whipPublisher) sinceStart() int64 { return p.svc.cfg.Now().Sub(p.started).Milliseconds() }

func (p *whipPublisher) onTrack(t *webrtc.TrackRemote, _ *webrtc.RTPReceiver) {
	<-p.ready
	p.mu.Lock()
	gone := p.closed || p.stream == nil
	p.mu.Unlock()
	if gone {
		return
	}
	switch {
	case t.Kind() == webrtc.RTPCodecTypeVideo && strings.EqualFold(t.Codec().MimeType, webrtc.MimeTypeH264):
		p.mu.Lock()
		p.videoSSRC = uint32(t.SSRC())
		p.mu.Unlock()
		p.requestKeyframe()
		p.readVideo(t)
	case t.Kind() == webrtc.RTPCodecTypeAudio && strings.EqualFold(t.Codec().MimeType, webrtc.MimeTypeOpus):
		p.readAudio(t)
	default:
		p.sess.close(fmt.Errorf("unsupported track codec %s", t.Codec().MimeType))
	}
}

func (p *whipPublisher) readVideo(t *webrtc.TrackRemote) {
	conv := rtcav.NewH264ToFLV()
	rl := p.stream.relay
	var first uint32
	var base int64
	seen := false
	for {
		pkt, _, err := t.ReadRTP()
		if err != nil {
			return
		}
		rl.forwardVideo(pkt)
		if !seen {
			first, base, seen = pkt.Timestamp, p.sinceStart(), true
		}
		for _, tag := range conv.Push(pkt) {
			ms := base + int64(tag.RTPTime-first)/90
			p.mu.Lock()
			if !p.closed {
				p.stream.Video(uint32(ms), tag.Data)
			}
			p.mu.Unlock()
		}
	}
}

func (p *whipPublisher) readAudio(t *webrtc.TrackRemote) {
	rl := p.stream.relay
	s := p.svc
	aac, err := rtcav.StartOpusToAAC(s.ctx, s.Settings().FFmpegPath, 128, s.log.With("component", "whip-audio", "stage", p.sess.stageID),
		func(sample int64, tag []byte) {
			p.mu.Lock()
			defer p.mu.Unlock()
			if !p.closed {
				p.stream.Audio(uint32(p.audioBase+sample/48), tag)
			}
		})
	if err != nil {
		s.log.Warn("live: WHIP audio cannot be transcoded; the broadcast goes on without audio", "err", err)
	}
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		if aac != nil {
			_ = aac.Close()
		}
		return
	}
	p.aac = aac
	p.mu.Unlock()
	seen := false
	for {
		pkt, _, err := t.ReadRTP()
		if err != nil {
			return
		}
		rl.forwardAudio(pkt)
		if !seen {
			p.mu.Lock()
			p.audioBase, seen = p.sinceStart(), true
			p.mu.Unlock()
		}
		if aac != nil {
			_ = aac.Write(pkt)
		}
	}
}

// close ends the broadcast: the audio transcoder is flushed first, then
// the stage ends as when an RTMP publisher leaves.
func (p *whipPublisher) close(err error) {
	p.mu.Lock()
	aac := p.aac
	if p.stop != nil {
		close(p.stop)
		p.stop = nil
	}
	p.mu.Unlock()
	if aac != nil {
		_ = aac.Close()
	}
	p.mu.Lock()
	p.closed = true
	b := p.stream
	p.mu.Unlock()
	if b != nil {
		b.Close(err)
	}
}

// relay is a broadcast's fan-out to its WebRTC viewers: one local track
// per kind that every viewer's peer connection is bound to, so a packet is
// prepared once and only encrypted per viewer. From a WHIP source the
// publisher's RTP is forwarded as it came; from an RTMP source the FLV
// tags are packetized (video) and the AAC is transcoded to Opus once for
// all viewers, started with the first viewer.
type relay struct {
	st       *stage
	video    webrtc.TrackLocal
	audio    webrtc.TrackLocal
	vrtp     *webrtc.TrackLocalStaticRTP
	artp     *webrtc.TrackLocalStaticRTP
	vsample  *webrtc.TrackLocalStaticSample
	asample  *webrtc.TrackLocalStaticSample
	keyframe func()      // asks the source for a keyframe (nil: cannot)
	flv      bool        // fed with FLV tags (an RTMP source)
	sends    sendBatcher // nil: the plane cannot batch

	mu       sync.Mutex
	viewers  map[string]*rtcSession
	lastPLI  time.Time
	pliTimer *time.Timer
	ended    bool
	// RTMP sources
	h264     rtcav.FLVToH264
	lastVTS  uint32
	haveVTS  bool
	aacHdr   []byte
	opus     *rtcav.AACToOpus
	opusFail bool
}

// newRelay makes the fan-out of a WHIP source (forwarding RTP with the
// publisher's codecs). It returns nil when the tracks cannot be made.
func newRelay(st *stage, vcap, acap webrtc.RTPCodecCapability, keyframe func()) *relay {
	r := &relay{st: st, keyframe: keyframe, viewers: map[string]*rtcSession{}, sends: batcherOf(st)}
	v, err := webrtc.NewTrackLocalStaticRTP(vcap, "video", "hearth-"+st.id)
	if err != nil {
		return nil
	}
	r.vrtp, r.video = v, v
	if acap.MimeType != "" {
		a, err := webrtc.NewTrackLocalStaticRTP(acap, "audio", "hearth-"+st.id)
		if err != nil {
			return nil
		}
		r.artp, r.audio = a, a
	}
	return r
}

// newFLVRelay makes the fan-out of an RTMP source.
func newFLVRelay(st *stage) *relay {
	r := &relay{st: st, viewers: map[string]*rtcSession{}, flv: true, sends: batcherOf(st)}
	v, err := webrtc.NewTrackLocalStaticSample(webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeH264, ClockRate: 90000,
		SDPFmtpLine: "level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f"}, "video", "hearth-"+st.id)
	if err != nil {
		return nil
	}
	a, err := webrtc.NewTrackLocalStaticSample(webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeOpus, ClockRate: 48000, Channels: 2,
		SDPFmtpLine: "minptime=10;useinbandfec=1"}, "audio", "hearth-"+st.id)
	if err != nil {
		return nil
	}
	r.vsample, r.video, r.asample, r.audio = v, v, a, a
	return r
}

// batcherOf is the stage's media plane when it can batch sends.
func batcherOf(st *stage) sendBatcher {
	if st.svc == nil {
		return nil
	}
	b, _ := st.svc.peerConnector().(sendBatcher)
	return b
}

// forwardVideo and forwardAudio send a WHIP publisher's packet to every
// viewer, in one batch of sends.
func (r *relay) forwardVideo(p *rtp.Packet) {
	if r.vrtp != nil {
		r.beginBatch()
		_ = r.vrtp.WriteRTP(p)
		r.endBatch()
	}
}

func (r *relay) forwardAudio(p *rtp.Packet) {
	if r.artp != nil {
		r.beginBatch()
		_ = r.artp.WriteRTP(p)
		r.endBatch()
	}
}

func (r *relay) beginBatch() {
	if r.sends != nil {
		r.sends.BeginBatch()
	}
}

func (r *relay) endBatch() {
	if r.sends != nil {
		r.sends.EndBatch()
	}
}

// flvVideo packetizes an RTMP source's video tag for the viewers.
func (r *relay) flvVideo(ts uint32, tag []byte) {
	r.mu.Lock()
	defer r.mu.Unlock()
	d := 33 * time.Millisecond
	if r.haveVTS && ts > r.lastVTS && ts-r.lastVTS < 1000 {
		d = time.Duration(ts-r.lastVTS) * time.Millisecond
	}
	frame, _, err := r.h264.Frame(tag)
	if err != nil || frame == nil {
		return
	}
	r.lastVTS, r.haveVTS = ts, true
	if len(r.viewers) == 0 {
		return
	}
	r.beginBatch() // the frame's packets to every viewer
	_ = r.vsample.WriteSample(mediaSample(frame, d))
	r.endBatch()
}

// flvAudio passes an RTMP source's AAC to the Opus transcoder once a
// viewer is there.
func (r *relay) flvAudio(ts uint32, tag []byte) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(tag) > 1 && tag[0]>>4 == 10 && tag[1] == 0 {
		r.aacHdr = append([]byte(nil), tag...)
	}
	if len(r.viewers) == 0 || r.opusFail || r.ended || r.aacHdr == nil {
		return
	}
	if r.opus == nil {
		s := r.st.svc
		o, err := rtcav.StartAACToOpus(s.ctx, s.Settings().FFmpegPath, s.log.With("component", "whep-audio", "stage", r.st.id), func(pkt []byte) {
			r.beginBatch()
			_ = r.asample.WriteSample(mediaSample(pkt, rtcav.OpusFrameMS*time.Millisecond))
			r.endBatch()
		})
		if err != nil {
			r.opusFail = true
			s.log.Warn("live: AAC cannot be transcoded to Opus; WebRTC viewers get no audio", "err", err)
			return
		}
		r.opus = o
		if r.opus.Write(r.aacHdr) != nil {
			return
		}
		if tag[1] == 0 {
			return
		}
	}
	_ = r.opus.Write(tag)
}

// requestKeyframe asks the source for a keyframe for a new or recovering
// viewer; requests within pliEvery of the last one are merged into one
// sent when the interval is over.
func (r *relay) requestKeyframe() {
	if r.keyframe == nil {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.ended || r.pliTimer != nil {
		return
	}
	now := time.Now()
	if wait := pliEvery - now.Sub(r.lastPLI); wait > 0 {
		r.pliTimer = time.AfterFunc(wait, func() {
			r.mu.Lock()
			r.pliTimer = nil
			r.lastPLI = time.Now()
			r.mu.Unlock()
			r.keyframe()
		})
		return
	}
	r.lastPLI = now
	go r.keyframe()
}

// end closes every viewer (the broadcast is over).
func (r *relay) end() {
	r.mu.Lock()
	r.ended = true
	vs := make([]*rtcSession, 0, len(r.viewers))
	for _, v := range r.viewers {
		vs = append(vs, v)
	}
	if r.pliTimer != nil {
		r.pliTimer.Stop()
		r.pliTimer = nil
	}
	o := r.opus
	r.opus = nil
	r.mu.Unlock()
	for _, v := range vs {
		v.close(errors.New("the broadcast ended"))
	}
	if o != nil {
		_ = o.Close()
	}
}

// ViewerSession is a signed-in viewer's WHEP session on this node.
// Channel is the stage channel the viewer came through when that channel
// is bound to another stage (StageID, the default one); "" otherwise.
type ViewerSession struct {
	ID, StageID, AccountID, Channel string
}

// ViewerSessions lists this node's WHEP sessions of signed-in viewers, for
// the stage-channel rules to recheck when who may view changes.
func (s *Service) ViewerSessions() []ViewerSession {
	s.mu.RLock()
	defer s.mu.RUnlock()
	var out []ViewerSession
	for _, x := range s.sessions {
		if x.viewer != "" {
			out = append(out, ViewerSession{ID: x.id, StageID: x.stageID, AccountID: x.viewer, Channel: x.channel})
		}
	}
	return out
}

// WHEP answers a WebRTC viewer's offer for a live stage (the WHEP draft):
// the viewer is bound to the stage's one fan-out and counted as a viewer
// until it leaves. viewer is the signed-in account watching ("" for
// none), so its session can be ended when it may no longer view; channel
// is the stage channel it came through when that channel is bound to
// stageID ("" otherwise), the one whose access it is rechecked against.
func (s *Service) WHEP(ctx context.Context, stageID, offer, ip, userAgent, viewer, channel string) (*Session, error) {
	pcs := s.peerConnector()
	if pcs == nil {
		return nil, ErrNoWebRTC
	}
	st, err := s.stage(stageID)
	if err != nil {
		return nil, err
	}
	h264, _, _, err := offerCodecs(offer)
	if err != nil {
		return nil, err
	}
	if !h264 {
		return nil, fault.New(fault.Invalid, "the offer cannot receive H.264 video")
	}
	st.mu.Lock()
	var rl *relay
	if b := st.cur; b != nil && b.running {
		rl = b.relay
	}
	st.mu.Unlock()
	if rl == nil {
		if c := s.cfg.Viewers; c != nil && c.Count(st.broadcastKey()) > 0 {
			return nil, fault.New(fault.Unavailable, "this stage is live on another node: play it over HLS")
		}
		return nil, fault.New(fault.NotFound, "this stage is not live")
	}
	slot, err := s.whep.take(ip)
	if err != nil {
		return nil, err
	}
	pc, err := pcs.NewPeerConnection()
	if err != nil {
		slot.release()
		return nil, fault.Wrap(fault.Unavailable, "cannot make a WebRTC peer connection", err)
	}
	var senders []*webrtc.RTPSender
	ans, err := answer(ctx, pc, offer, func() error {
		for _, t := range []webrtc.TrackLocal{rl.video, rl.audio} {
			if t == nil {
				continue
			}
			snd, err := pc.AddTrack(t)
			if err != nil {
				return fault.Wrap(fault.Invalid, "the offer cannot receive this stage's "+t.Kind().String(), err)
			}
			senders = append(senders, snd)
		}
		return nil
	})
	if err == nil && ctx.Err() != nil { // the viewer left before its answer: it never connects
		err = fault.Wrap(fault.Unavailable, "the viewer left before its answer", ctx.Err())
	}
	if err != nil {
		_ = pc.Close()
		slot.release()
		return nil, err
	}
	x := &rtcSession{id: newSessionID(), stageID: st.id, viewer: viewer, channel: channel, pc: pc}
	viewerID := "webrtc-" + x.id
	var connected sync.Once
	// Everything the session holds is released by its close, which the
	// broadcast's end may call as soon as it is among the relay's viewers.
	x.onClose = func(error) {
		s.dropSession(x.id)
		rl.mu.Lock()
		delete(rl.viewers, x.id)
		rl.mu.Unlock()
		st.dropHeldViewer(viewerID)
		slot.release()
	}
	s.addSession(x)
	rl.mu.Lock()
	if rl.ended {
		rl.mu.Unlock()
		x.close(nil)
		return nil, fault.New(fault.NotFound, "this stage is not live")
	}
	rl.viewers[x.id] = x
	rl.mu.Unlock()
	pc.OnConnectionStateChange(func(c webrtc.PeerConnectionState) {
		switch c {
		case webrtc.PeerConnectionStateConnected:
			slot.markConnected()
			connected.Do(func() {
				st.holdViewer(viewerID, ip, userAgent)
				rl.requestKeyframe()
			})
		case webrtc.PeerConnectionStateFailed, webrtc.PeerConnectionStateClosed:
			x.close(nil)
		}
	})
	for _, snd := range senders {
		go func() {
			for {
				pkts, _, err := snd.ReadRTCP()
				if err != nil {
					return
				}
				for _, p := range pkts {
					switch p.(type) {
					case *rtcp.PictureLossIndication, *rtcp.FullIntraRequest:
						rl.requestKeyframe()
					}
				}
			}
		}()
	}
	time.AfterFunc(connectTimeout, func() {
		if pc.ConnectionState() != webrtc.PeerConnectionStateConnected {
			x.close(nil)
		}
	})
	return &Session{ID: x.id, Answer: ans}, nil
}

// holdViewer counts a WebRTC viewer until dropHeldViewer (it sends no
// pings: its connection is the sign of life).
func (st *stage) holdViewer(id, ip, userAgent string) {
	if len(userAgent) > 256 {
		userAgent = userAgent[:256]
	}
	now := st.svc.cfg.Now()
	st.mu.Lock()
	defer st.mu.Unlock()
	if _, ok := st.viewers[id]; ok || len(st.viewers) >= maxViewers {
		return
	}
	st.viewers[id] = &Viewer{ClientID: id, IP: ip, UserAgent: userAgent, FirstSeen: now, LastSeen: now, held: true}
	st.perIP[ratelimit.AddrKey(ip)]++
	if c := st.svc.cfg.Viewers; c != nil {
		c.Add(st.viewerKey())
	}
	if st.cur != nil {
		n := st.countLocked()
		st.sessionPeak = max(st.sessionPeak, n)
		if n > st.overallPeak {
			st.overallPeak, st.peakDirty = n, true
		}
	}
}

func (st *stage) dropHeldViewer(id string) {
	st.mu.Lock()
	defer st.mu.Unlock()
	v, ok := st.viewers[id]
	if !ok {
		return
	}
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

func mediaSample(data []byte, d time.Duration) media.Sample {
	return media.Sample{Data: data, Duration: d}
}
