package voice

// Media forwarding: a published track (pubTrack) has one or more layers
// (simulcast rids), each read by one goroutine; every packet goes to each
// subscriber's downTrack, which forwards the one layer it has chosen and
// rewrites sequence numbers and timestamps so that a layer switch looks
// like one continuous stream. Nothing is decoded or re-encoded: keyframes
// are recognised from the payload descriptor alone, speaking from the
// audio-level header extension (RFC 6464).
//
// Layer choice: the lowest of the subscriber's wish (tile size), the loss
// its receiver reports show, its REMB, and the send-side bandwidth
// estimate of its subscribe connection (TWCC feedback through Google
// congestion control, internal/rtc): what the estimate leaves after the
// audio it receives is shared between its video tracks, and each gets the
// highest layer whose measured rate fits one and a half times its share.
//
// RTCP: each subscriber's NACKs are answered from that subscriber's own
// send buffer by the NACK responder interceptor, so its loss never reaches
// the publisher; the publisher's own uplink loss is repaired by the NACK
// generator on the publish connection. PLI and FIR from subscribers go to
// the publisher, at most one per layer per pliInterval (coalesced).
//
// Locks on the forwarding path (issue 16): a packet read from a layer
// goes to every subscriber without waiting on negotiation, joins, leaves
// or signalling. The publisher's mute and each subscriber's deafen are
// bits of Participant.flags (an atomic), speaking detection sets its bit
// with a compare-and-swap, and a track's layers and subscribers are
// copy-on-write slices behind atomic pointers; Participant.mu (held
// across pion's CreateOffer, SetLocalDescription and SetRemoteDescription
// in negotiate and Answer, and by AddTrack/RemoveTrack in subscribe and
// unsubscribe) and pubTrack.mu (only layer additions) are off the path.
// What it still takes: downTrack.mu, the one subscriber's forwarding
// state, held elsewhere only for short bookkeeping (layer wish, loss and
// estimate caps), never across a pion call but its own WriteRTP; pion's
// own locks inside WriteRTP and the interceptors; and, when speaking
// changes or a video layer switches, SFU.mu for the member list and each
// recipient's notifyMu while its notice is queued on its connection.

import (
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/rtcp"
	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"
)

const (
	pliInterval = 500 * time.Millisecond
	// speech: a packet whose level is at most speechLevel -dBov (or whose
	// V bit is set) counts as voice; speaking turns on at speechOn
	// points and off when the score falls back to zero.
	speechLevel = 50
	speechOn    = 5
	speechMax   = 25
	// loss thresholds (fraction lost out of 256) of the receiver-report
	// estimate: above lossDown the layer steps down, below lossUp for
	// goodReports reports in a row it steps up.
	lossDown    = 25 // ~10 %
	lossUp      = 5  // ~2 %
	goodReports = 5
	// bweHold: after the bandwidth estimate last forced a step down (or
	// allowed a step up), how long before one layer up is tried. The
	// estimate cannot show room above what is sent (GCC grows to at most
	// 1.5 times the received rate), so going up is a probe: a link that
	// cannot carry it brings the estimate, and the layer, back down.
	bweHold = 5 * time.Second
)

type layer struct {
	rank     int
	rid      string
	tr       *webrtc.TrackRemote
	ssrc     uint32
	levelExt uint8

	lastPLI atomic.Int64 // unix nanos
	rate    atomic.Int64 // bits per second, measured each second
	ended   atomic.Bool
}

type pubTrack struct {
	owner  *Participant
	id     string
	kind   string
	source string
	codec  webrtc.RTPCodecCapability

	// layers, by rank, low first: an immutable slice replaced whole
	// (copy on write, under mu) when a layer arrives, so that the
	// forwarding path reads it without a lock.
	mu     sync.Mutex
	layers atomic.Pointer[[]*layer]

	// downs: the subscribers, copy on write as layers.
	downs   atomic.Pointer[[]*downTrack]
	stopped atomic.Bool
}

func newPubTrack(owner *Participant, id, kind, source string, codec webrtc.RTPCodecCapability) *pubTrack {
	t := &pubTrack{owner: owner, id: id, kind: kind, source: source, codec: codec}
	t.downs.Store(&[]*downTrack{})
	t.layers.Store(&[]*layer{})
	return t
}

func (t *pubTrack) info() TrackInfo {
	n := len(*t.layers.Load())
	muted := false
	if t.kind == "audio" {
		muted = !t.owner.audioOn()
	}
	return TrackInfo{AccountID: t.owner.AccountID, TrackID: t.id, Kind: t.kind, Source: t.source, Layers: n, Muted: muted}
}

func (t *pubTrack) addLayer(tr *webrtc.TrackRemote, levelExt uint8) *layer {
	l := &layer{rank: ridRank(tr.RID()), rid: tr.RID(), tr: tr, ssrc: uint32(tr.SSRC()), levelExt: levelExt}
	t.mu.Lock()
	defer t.mu.Unlock()
	old := *t.layers.Load()
	i := 0
	for i < len(old) && old[i].rank <= l.rank {
		i++
	}
	next := make([]*layer, 0, len(old)+1)
	next = append(append(append(next, old[:i]...), l), old[i:]...)
	t.layers.Store(&next)
	return l
}

// pick is the layer to forward to a subscriber allowed up to rank max:
// the highest live layer at or under it, else the lowest live one.
func (t *pubTrack) pick(max int) *layer {
	var best, low *layer
	for _, l := range *t.layers.Load() {
		if l.ended.Load() {
			continue
		}
		if low == nil {
			low = l
		}
		if l.rank <= max {
			best = l
		}
	}
	if best == nil {
		return low
	}
	return best
}

// rankFor is the highest rank whose measured rate fits bps (0 if none).
func (t *pubTrack) rankFor(bps int64) int {
	r := 0
	for _, l := range *t.layers.Load() {
		if rate := l.rate.Load(); rate > 0 && rate <= bps && l.rank > r {
			r = l.rank
		}
	}
	return r
}

func (t *pubTrack) addDown(d *downTrack) {
	for {
		old := t.downs.Load()
		next := append(append(make([]*downTrack, 0, len(*old)+1), *old...), d)
		if t.downs.CompareAndSwap(old, &next) {
			return
		}
	}
}

func (t *pubTrack) removeDown(d *downTrack) {
	for {
		old := t.downs.Load()
		next := make([]*downTrack, 0, len(*old))
		for _, x := range *old {
			if x != d {
				next = append(next, x)
			}
		}
		if t.downs.CompareAndSwap(old, &next) {
			return
		}
	}
}

func (t *pubTrack) stop() { t.stopped.Store(true) }

// keyframe asks the publisher for a keyframe on l, at most once per
// pliInterval however many subscribers ask.
func (t *pubTrack) keyframe(l *layer) {
	if t.kind != "video" || l == nil {
		return
	}
	now := time.Now().UnixNano()
	last := l.lastPLI.Load()
	if now-last < int64(pliInterval) || !l.lastPLI.CompareAndSwap(last, now) {
		return
	}
	_ = t.owner.pub.WriteRTCP([]rtcp.Packet{&rtcp.PictureLossIndication{MediaSSRC: l.ssrc}})
}

// read forwards one layer until its track ends.
func (t *pubTrack) read(l *layer) {
	buf := make([]byte, 1500)
	var pkt rtp.Packet
	var score int
	var bytes int64
	window := time.Now()
	held := false // video held back while its owner may not speak
	for {
		n, _, err := l.tr.Read(buf)
		if err != nil {
			break
		}
		if t.stopped.Load() {
			break
		}
		if pkt.Unmarshal(buf[:n]) != nil {
			continue
		}
		bytes += int64(n)
		if now := time.Now(); now.Sub(window) >= time.Second {
			l.rate.Store(bytes * 8 * int64(time.Second) / int64(now.Sub(window)))
			bytes, window = 0, now
		}
		key := true
		if t.kind == "audio" {
			if l.levelExt != 0 {
				score = t.speech(&pkt, l.levelExt, score)
			}
			if !t.owner.audioOn() {
				continue
			}
		} else {
			key = isKeyframe(t.codec.MimeType, pkt.Payload)
			if !t.owner.videoOn() {
				held = true
				continue
			}
			if held {
				// Allowed again: subscribers pick up at a keyframe.
				if !key {
					t.keyframe(l)
					continue
				}
				held = false
			}
		}
		t.fanout(l, &pkt, key)
	}
	l.ended.Store(true)
	all := true
	for _, x := range *t.layers.Load() {
		all = all && x.ended.Load()
	}
	if all {
		t.owner.sfu.unpublish(t)
	}
}

// fanout sends one incoming packet to every subscriber of the track, in
// one batch of sends on the media plane (one sendmmsg for the whole
// fan-out instead of one sendto per subscriber). The deferred EndBatch
// closes the batch on every path, a panic in a write included.
//
// Batches are plane-wide and may overlap: each publisher's layer reads on
// its own goroutine, and so does every WHEP relay on the same plane. The
// plane counts open batches; while any is open, every UDP write of any
// connection (another fan-out, RTCP, STUN) joins the one queue, and each
// EndBatch sends the whole queue, so a packet waits at most until the end
// of the first batch to close after it was written, never for every
// overlapping batch to close. Two fan-outs running at once therefore share
// sendmmsg calls rather than delay each other.
func (t *pubTrack) fanout(l *layer, pkt *rtp.Packet, key bool) {
	downs := *t.downs.Load()
	if len(downs) == 0 {
		return
	}
	if b := t.owner.sfu.sends; b != nil && len(downs) > 1 {
		b.BeginBatch()
		defer b.EndBatch()
	}
	now := time.Now() // one clock read per packet, not per subscriber
	for _, d := range downs {
		d.write(l, pkt, key, now)
	}
}

func (t *pubTrack) speech(pkt *rtp.Packet, id uint8, score int) int {
	raw := pkt.GetExtension(id)
	if raw == nil {
		return score
	}
	var al rtp.AudioLevelExtension
	if al.Unmarshal(raw) != nil {
		return score
	}
	if al.Voice || al.Level <= speechLevel {
		score = min(score+1, speechMax)
	} else {
		score = max(score-1, 0)
	}
	switch {
	case score >= speechOn:
		t.owner.setSpeaking(true)
	case score == 0:
		t.owner.setSpeaking(false)
	}
	return score
}

// unpublish drops a track whose every layer ended (the publisher removed
// it, or its connection went).
func (s *SFU) unpublish(t *pubTrack) {
	s.mu.Lock()
	r := s.rooms[t.owner.ChannelID]
	var others []*Participant
	found := false
	if r != nil {
		kept := r.tracks[:0]
		for _, x := range r.tracks {
			if x == t {
				found = true
			} else {
				kept = append(kept, x)
			}
		}
		r.tracks = kept
		for _, o := range r.members {
			others = append(others, o)
		}
	}
	s.mu.Unlock()
	t.stop()
	t.owner.mu.Lock()
	for recv, x := range t.owner.published {
		if x == t {
			delete(t.owner.published, recv)
		}
	}
	t.owner.mu.Unlock()
	if !found {
		return
	}
	for _, o := range others {
		o.unsubscribe(t)
	}
	s.broadcastTracks(t.owner.ChannelID)
}

// downTrack is one published track as one subscriber receives it.
type downTrack struct {
	p      *Participant
	t      *pubTrack
	local  *webrtc.TrackLocalStaticRTP
	sender *webrtc.RTPSender
	clock  int64

	mu      sync.Mutex
	wanted  int // subscriber's choice (tile size)
	capLoss int // receiver-report estimate
	capREMB int // REMB estimate
	capBWE  int // TWCC send-side estimate
	bweAt   time.Time
	good    int // loss-free reports in a row
	current *layer
	started bool
	resync  bool
	seqOff  uint16
	tsOff   uint32
	lastSeq uint16
	lastTs  uint32
	lastAt  time.Time
	out     rtp.Packet
}

func newDownTrack(p *Participant, t *pubTrack, local *webrtc.TrackLocalStaticRTP, sender *webrtc.RTPSender) *downTrack {
	clock := int64(t.codec.ClockRate)
	if clock == 0 {
		clock = 90000
	}
	return &downTrack{p: p, t: t, local: local, sender: sender, clock: clock, wanted: 2, capLoss: 2, capREMB: 2, capBWE: 2}
}

func (d *downTrack) limit() int { return min(d.wanted, d.capLoss, d.capREMB, d.capBWE) }

func (d *downTrack) setWanted(layer int) {
	d.mu.Lock()
	d.wanted = layer
	target := d.t.pick(d.limit())
	cur := d.current
	d.mu.Unlock()
	if target != cur {
		d.t.keyframe(target)
	}
}

// write forwards pkt, received at now, from layer l if l is the layer
// this subscriber gets; a switch to another layer waits for that layer's
// keyframe.
func (d *downTrack) write(l *layer, pkt *rtp.Packet, key bool, now time.Time) {
	d.mu.Lock()
	if d.t.kind == "audio" && d.p.deaf() {
		d.resync = true
		d.mu.Unlock()
		return
	}
	var switched *layer
	if d.current != l {
		target := d.t.pick(d.limit())
		if l != target {
			d.mu.Unlock()
			return
		}
		if !key {
			cur := d.current
			d.mu.Unlock()
			if cur == nil || cur.ended.Load() {
				d.t.keyframe(l)
			}
			return
		}
		d.current, d.resync, switched = l, true, l
	} else if d.t.kind == "video" { // audio has one layer: nothing to pick per packet
		if target := d.t.pick(d.limit()); target != l {
			// Keep forwarding l until the target's keyframe arrives.
			defer d.t.keyframe(target)
		}
	}
	if d.resync {
		if d.started {
			d.seqOff = pkt.SequenceNumber - (d.lastSeq + 1)
			gap := max(now.Sub(d.lastAt).Nanoseconds()*d.clock/int64(time.Second), 1)
			d.tsOff = pkt.Timestamp - (d.lastTs + uint32(gap)) //nolint:gosec // RTP timestamps wrap
		}
		d.resync, d.started = false, true
	}
	seq, ts := pkt.SequenceNumber-d.seqOff, pkt.Timestamp-d.tsOff
	if int16(seq-d.lastSeq) > 0 || d.lastAt.IsZero() { //nolint:gosec // serial-number arithmetic
		d.lastSeq, d.lastTs, d.lastAt = seq, ts, now
	}
	d.out.Header = pkt.Header
	d.out.Header.Extension, d.out.Header.Extensions, d.out.Header.ExtensionProfile = false, nil, 0
	d.out.Header.SequenceNumber, d.out.Header.Timestamp = seq, ts
	d.out.Payload = pkt.Payload
	_ = d.local.WriteRTP(&d.out)
	d.mu.Unlock()
	if switched != nil && d.t.kind == "video" {
		d.p.send(Notice{Type: "layer", TrackID: d.t.id, Layer: switched.rank})
	}
}

// readRTCP reads the subscriber's RTCP for this track (the interceptors
// answer its NACKs) and acts on PLI, FIR, receiver reports and REMB.
func (d *downTrack) readRTCP() {
	ssrc := uint32(0)
	if ps := d.sender.GetParameters().Encodings; len(ps) > 0 {
		ssrc = uint32(ps[0].SSRC)
	}
	for {
		pkts, _, err := d.sender.ReadRTCP()
		if err != nil {
			return
		}
		for _, pk := range pkts {
			switch x := pk.(type) {
			case *rtcp.PictureLossIndication, *rtcp.FullIntraRequest:
				d.mu.Lock()
				l := d.current
				d.mu.Unlock()
				d.t.keyframe(l)
			case *rtcp.ReceiverReport:
				for _, rr := range x.Reports {
					if rr.SSRC == ssrc {
						d.onLoss(rr.FractionLost)
					}
				}
			case *rtcp.ReceiverEstimatedMaximumBitrate:
				d.onREMB(int64(x.Bitrate))
			}
		}
		d.onBWE(time.Now())
	}
}

// onBWE applies the subscribe connection's bandwidth estimate: at once
// when it no longer fits the layer allowed, one layer up after bweHold.
func (d *downTrack) onBWE(now time.Time) {
	if d.t.kind != "video" || d.p.bwe == nil {
		return
	}
	// Headroom of half again: GCC answers any overuse with 0.85 times the
	// received rate, so on a link that carries what is sent (a busy host's
	// jitter read as overuse) the share stays above 1/1.5 of the layer's
	// rate and the layer holds; a real bottleneck takes the estimate far
	// below it.
	share := d.p.videoShare(int64(d.p.bwe()))
	fit, ok := d.t.fits(share * 3 / 2)
	if !ok {
		return // the layers' rates are not measured yet
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	switch {
	case fit < d.capBWE:
		d.capBWE, d.bweAt = fit, now
	case d.capBWE < 2 && now.Sub(d.bweAt) >= bweHold:
		d.capBWE, d.bweAt = d.capBWE+1, now
	}
}

// fits is the highest rank whose measured rate is at most bps (0 when
// none is); ok is false while a live layer has no measured rate.
func (t *pubTrack) fits(bps int64) (rank int, ok bool) {
	for _, l := range *t.layers.Load() {
		if l.ended.Load() {
			continue
		}
		rate := l.rate.Load()
		if rate == 0 {
			return 0, false
		}
		if rate <= bps && l.rank > rank {
			rank = l.rank
		}
	}
	return rank, true
}

// videoShare is one video track's share of estimate bps: what the audio
// this participant receives leaves, split between its video tracks.
func (p *Participant) videoShare(bps int64) int64 {
	p.mu.Lock()
	var audio []*pubTrack
	videos := 0
	for t := range p.down {
		if t.kind == "audio" {
			audio = append(audio, t)
		} else {
			videos++
		}
	}
	p.mu.Unlock()
	for _, t := range audio {
		for _, l := range *t.layers.Load() {
			bps -= l.rate.Load()
		}
	}
	return bps / int64(max(videos, 1))
}

func (d *downTrack) onLoss(fraction uint8) {
	if d.t.kind != "video" {
		return
	}
	d.mu.Lock()
	cur := 2
	if d.current != nil {
		cur = d.current.rank
	}
	switch {
	case fraction > lossDown:
		d.capLoss, d.good = max(cur-1, 0), 0
	case fraction < lossUp:
		if d.good++; d.good >= goodReports {
			d.capLoss, d.good = min(d.capLoss+1, 2), 0
		}
	default:
		d.good = 0
	}
	d.mu.Unlock()
}

func (d *downTrack) onREMB(bps int64) {
	if d.t.kind != "video" {
		return
	}
	r := d.t.rankFor(bps)
	d.mu.Lock()
	d.capREMB = r
	d.mu.Unlock()
}

// isKeyframe reports whether an RTP payload starts a keyframe, from the
// payload format's own header (no decoding).
func isKeyframe(mime string, p []byte) bool {
	switch mime {
	case webrtc.MimeTypeVP8:
		return vp8Key(p)
	case webrtc.MimeTypeH264:
		return h264Key(p)
	case webrtc.MimeTypeVP9:
		// Flexible or not: B (start of frame) set, P (inter-predicted) clear.
		return len(p) > 0 && p[0]&0x08 != 0 && p[0]&0x40 == 0
	case webrtc.MimeTypeAV1:
		// N: the first packet of a coded video sequence.
		return len(p) > 0 && p[0]&0x08 != 0
	}
	return true
}

func vp8Key(p []byte) bool {
	if len(p) < 1 {
		return false
	}
	x, s, pid := p[0]&0x80 != 0, p[0]&0x10 != 0, p[0]&0x07
	i := 1
	if x {
		if len(p) < 2 {
			return false
		}
		ext := p[1]
		i = 2
		if ext&0x80 != 0 { // I: picture id
			if len(p) <= i {
				return false
			}
			if p[i]&0x80 != 0 {
				i += 2
			} else {
				i++
			}
		}
		if ext&0x40 != 0 { // L: TL0PICIDX
			i++
		}
		if ext&0x30 != 0 { // T or K
			i++
		}
	}
	return s && pid == 0 && len(p) > i && p[i]&0x01 == 0
}

func h264Key(p []byte) bool {
	if len(p) < 1 {
		return false
	}
	switch nal := p[0] & 0x1f; nal {
	case 5, 7:
		return true
	case 24: // STAP-A
		for i := 1; i+2 < len(p); {
			size := int(p[i])<<8 | int(p[i+1])
			if i+2 < len(p) {
				if t := p[i+2] & 0x1f; t == 5 || t == 7 {
					return true
				}
			}
			i += 2 + size
		}
	case 28: // FU-A
		return len(p) > 1 && p[1]&0x80 != 0 && (p[1]&0x1f == 5 || p[1]&0x1f == 7)
	}
	return false
}
