package voice

// Mixed channels: Together's own clients speak only the browser-to-browser
// mesh (VOICE_SIGNAL: the newcomer offers to everyone already in the
// channel, one connection per peer, each carrying the same microphone;
// ICE candidates trickle as JSON of RTCIceCandidateInit). When such a
// client's signal is for an SFU participant, the room answers on that
// participant's behalf with a bridge: one server peer connection per
// (mesh client, SFU participant) pair, on the room's node. Each bridge
// sends the mesh client the one SFU participant's microphone it stands
// for; the mesh client's own audio enters the room once, from whichever
// of its bridges is the source (the others' copies are read and dropped),
// as the microphone track of a mesh participant that every SFU
// participant subscribes to like any other. Mesh clients hear each other
// over their own mesh connections, so a mesh participant takes nothing
// from another. When an SFU participant joins a room whose channel has
// mesh clients, the server offers to each on its behalf (Together's
// newcomer-offers rule), so both join orders work.
//
// The server's offers and answers carry their candidates (no trickle):
// Together's client adds a candidate only to a connection it already has,
// and a candidate before the answer would fail on the offerer's side.

import (
	"context"
	"encoding/json"
	"sync"
	"time"

	"github.com/hearth-community/hearth/internal/fault"
	"github.com/hearth-community/hearth/internal/rtc"
	"github.com/pion/rtp"
	"github.com/pion/sdp/v3"
	"github.com/pion/webrtc/v4"
)

// MeshSignal is one VOICE_SIGNAL of Together's mesh.
type MeshSignal struct {
	Type      string // "offer", "answer" or "candidate"
	SDP       string
	Candidate string // an RTCIceCandidateInit as JSON, as browsers write it
}

// MeshConfig connects the SFU to the mesh's signalling.
type MeshConfig struct {
	// Peers lists the accounts in a channel's voice (its voice states).
	Peers func(ctx context.Context, channelID string) ([]string, error)
	// Send delivers sig to account to, as if account from sent it.
	Send func(ctx context.Context, to, from string, sig MeshSignal)
}

const (
	// maxBridges bounds one mesh account's bridge connections (one per
	// SFU participant of its channel).
	maxBridges = 32
	// bridgeConnect: a bridge not connected by then is closed (its mesh
	// client never answered, or its network never met ours).
	bridgeConnect = 30 * time.Second
	// maxEarly bounds the candidates kept for a bridge whose offer has
	// not arrived yet, and maxEarlyPairs the pairs kept.
	maxEarly      = 64
	maxEarlyPairs = 1024
)

// opusCodec is what a bridge sends when the SFU participant has not
// published a microphone yet.
var opusCodec = webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeOpus, ClockRate: 48000, Channels: 2, SDPFmtpLine: "minptime=10;useinbandfec=1"}

type meshState struct {
	bridges map[string]*bridge // by the SFU participant it stands for
	track   *pubTrack          // the mesh client's audio in the room
	src     *bridge            // the bridge whose audio feeds track
	srcL    *layer
}

// bridge is one mesh connection the server holds for an SFU participant.
type bridge struct {
	m      *Participant // the mesh client
	peer   string       // the SFU participant's account
	pc     *webrtc.PeerConnection
	local  *webrtc.TrackLocalStaticRTP
	sender *webrtc.RTPSender

	mu    sync.Mutex // serialises negotiation
	early []webrtc.ICECandidateInit
	cands rtc.Candidates // the mesh client's candidate addresses (rtc.MaxRemoteCandidates)
	timer *time.Timer
}

// EnableMesh makes the SFU answer (and make) mesh offers for its
// participants. Call it once, before the first Join.
func (s *SFU) EnableMesh(cfg MeshConfig) {
	s.mesh = &cfg
	s.early = map[[2]string][]webrtc.ICECandidateInit{}
}

// MeshSignal handles a mesh client's signal for account to in channelID.
// handled is false when to is not an SFU participant there: the caller
// relays the signal as it is.
func (s *SFU) MeshSignal(ctx context.Context, from, channelID, to string, sig MeshSignal) (handled bool, err error) {
	if s.mesh == nil || from == to {
		return false, nil
	}
	if node := s.roomNode(ctx, channelID); node != "" {
		r, err := s.call(ctx, node, rpcReq{Op: "mesh", Account: from, Channel: channelID, Target: to,
			Sig: sig.Type, SDP: sig.SDP, Cand: sig.Candidate})
		return r.Handled, err
	}
	return s.meshSignal(ctx, from, channelID, to, sig)
}

// MeshLeave ends accountID's bridges in channelID (its mesh client left
// the channel's voice).
func (s *SFU) MeshLeave(ctx context.Context, accountID, channelID string) {
	if s.mesh == nil {
		return
	}
	if node := s.roomNode(ctx, channelID); node != "" {
		if _, err := s.call(ctx, node, rpcReq{Op: "meshleave", Account: accountID, Channel: channelID}); err != nil {
			s.log.Debug("voice: mesh leave on the room's node", "err", err)
		}
		return
	}
	s.meshLeave(accountID, channelID)
}

// roomNode is the node running channelID's room when that is another
// node, else "".
func (s *SFU) roomNode(ctx context.Context, channelID string) string {
	if s.cl == nil {
		return ""
	}
	s.mu.Lock()
	here := s.rooms[channelID] != nil
	s.mu.Unlock()
	if here {
		return ""
	}
	owner, err := s.cl.leases.VoiceLeaseOwner(ctx, channelID, time.Now())
	if err != nil || owner == s.cl.node {
		return ""
	}
	return owner
}

func (s *SFU) meshLeave(accountID, channelID string) {
	s.mu.Lock()
	var m *Participant
	if r := s.rooms[channelID]; r != nil {
		m = r.members[accountID]
	}
	for k := range s.early {
		if k[0] == accountID {
			delete(s.early, k)
		}
	}
	s.mu.Unlock()
	if m != nil && m.mesh != nil {
		s.leave(m, "left")
	}
}

// meshRoute finds the participants of a mesh signal from account from to
// account to in channelID's room here; ok is false when the room is not
// to handle it: to is not an SFU participant here, or from is one.
func (s *SFU) meshRoute(from, channelID, to string) (m, target *Participant, ok bool) {
	s.mu.Lock()
	if r := s.rooms[channelID]; r != nil {
		target, m = r.members[to], r.members[from]
	}
	s.mu.Unlock()
	if target == nil || target.mesh != nil || (m != nil && m.mesh == nil) {
		return nil, nil, false
	}
	return m, target, true
}

// serveMesh runs another node's mesh signal for a room here. The caller
// is answered at once with whether the room handles it, and the work
// (access checks, the bridge, ICE gathering, the answer) runs after, bound
// by bridgeConnect rather than by the caller's wait: under load it can
// outlast rpcTimeout, and a signal cut off there was lost for good (the
// mesh client offers once and waits for the answer).
func (s *SFU) serveMesh(q rpcReq, resp *rpcResp) {
	if _, _, ok := s.meshRoute(q.Account, q.Channel, q.Target); !ok {
		return
	}
	resp.Handled = true
	go func() {
		ctx, cancel := context.WithTimeout(s.cl.life, bridgeConnect)
		defer cancel()
		sig := MeshSignal{Type: q.Sig, SDP: q.SDP, Candidate: q.Cand}
		if _, err := s.meshSignal(ctx, q.Account, q.Channel, q.Target, sig); err != nil {
			s.log.Debug("voice: mesh signal from another node", "type", q.Sig, "err", err)
		}
	}()
}

func (s *SFU) meshSignal(ctx context.Context, from, channelID, to string, sig MeshSignal) (bool, error) {
	m, target, ok := s.meshRoute(from, channelID, to)
	if !ok {
		return false, nil
	}
	switch sig.Type {
	case "offer":
		if m == nil {
			var err error
			if m, err = s.joinMesh(ctx, from, channelID); err != nil {
				return true, err
			}
		}
		b, err := m.bridgeTo(target)
		if err != nil {
			return true, err
		}
		answer, err := b.answer(ctx, sig.SDP)
		if err != nil {
			return true, err
		}
		s.mesh.Send(ctx, from, to, MeshSignal{Type: "answer", SDP: answer})
	case "answer":
		if b := m.bridgeFor(to); b != nil {
			return true, b.applyAnswer(sig.SDP)
		}
	case "candidate":
		var c webrtc.ICECandidateInit
		if json.Unmarshal([]byte(sig.Candidate), &c) != nil || c.Candidate == "" {
			return true, nil
		}
		if b := m.bridgeFor(to); b != nil {
			b.addCandidate(c)
			return true, nil
		}
		// The offer is still on its way (signals may cross nodes out of
		// order): keep the candidate for the bridge it makes. That bridge
		// may have taken the candidates kept so far since it was looked
		// for: then the candidate is this call's to hand over.
		s.mu.Lock()
		k := [2]string{from, to}
		if q := s.early[k]; len(q) < maxEarly && (q != nil || len(s.early) < maxEarlyPairs) {
			s.early[k] = append(q, c)
		}
		s.mu.Unlock()
		if m == nil {
			m, _, _ = s.meshRoute(from, channelID, to)
		}
		if b := m.bridgeFor(to); b != nil {
			s.mu.Lock()
			late := s.early[k]
			delete(s.early, k)
			s.mu.Unlock()
			for _, c := range late {
				b.addCandidate(c)
			}
		}
	}
	return true, nil
}

// joinMesh puts a mesh client in a running room. It needs CONNECT; its
// audio enters the room only with SPEAK.
func (s *SFU) joinMesh(ctx context.Context, accountID, channelID string) (*Participant, error) {
	ca, err := s.check(ctx, accountID, channelID)
	if err != nil {
		return nil, err
	}
	p := &Participant{sfu: s, AccountID: accountID, ChannelID: channelID,
		mesh:    &meshState{bridges: map[string]*bridge{}},
		sources: map[string]string{}, down: map[*pubTrack]*downTrack{}, published: map[*webrtc.RTPReceiver]*pubTrack{}}
	p.setPerms(ca.Perms)
	p.community = ca.Community.ID
	s.mu.Lock()
	r := s.rooms[channelID]
	if r == nil {
		s.mu.Unlock()
		return nil, fault.New(fault.NotFound, "No one in this channel uses the SFU")
	}
	if old := r.members[accountID]; old != nil {
		s.mu.Unlock()
		if old.mesh != nil {
			return old, nil
		}
		return nil, fault.New(fault.Conflict, "Already in this channel through the SFU")
	}
	r.members[accountID] = p
	if s.byAccount[accountID] == nil {
		s.byAccount[accountID] = p
	}
	s.mu.Unlock()
	s.broadcastParticipants(channelID)
	s.log.Debug("voice mesh client bridged", "account", accountID, "channel", channelID)
	return p, nil
}

func (p *Participant) bridgeFor(peer string) *bridge {
	if p == nil || p.mesh == nil {
		return nil
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.mesh.bridges[peer]
}

// bridgeTo returns the mesh participant's bridge for the SFU participant
// target, making it if there is none.
func (p *Participant) bridgeTo(target *Participant) (*bridge, error) {
	s := p.sfu
	if b := p.bridgeFor(target.AccountID); b != nil {
		return b, nil
	}
	codec := opusCodec
	if mics := s.micsOf(target); len(mics) > 0 {
		codec = mics[0].codec
	}
	pc, err := s.peers.NewPeerConnection()
	if err != nil {
		return nil, err
	}
	// The stream id is the SFU participant's account: Together's client
	// plays event.streams[0], so the track must name a stream.
	local, err := webrtc.NewTrackLocalStaticRTP(codec, "audio", target.AccountID)
	if err != nil {
		_ = pc.Close()
		return nil, err
	}
	sender, err := pc.AddTrack(local)
	if err != nil {
		_ = pc.Close()
		return nil, err
	}
	b := &bridge{m: p, peer: target.AccountID, pc: pc, local: local, sender: sender}
	b.timer = time.AfterFunc(bridgeConnect, func() {
		if pc.ConnectionState() != webrtc.PeerConnectionStateConnected {
			p.dropBridge(b)
		}
	})
	if s.bridging != nil {
		s.bridging(target.AccountID)
	}
	p.mu.Lock()
	if cur := p.mesh.bridges[target.AccountID]; cur != nil || p.closed || len(p.mesh.bridges) >= maxBridges {
		closed, full := p.closed, len(p.mesh.bridges) >= maxBridges
		p.mu.Unlock()
		b.timer.Stop()
		_ = pc.Close()
		switch {
		case cur != nil:
			return cur, nil
		case closed:
			return nil, fault.New(fault.NotFound, "Not in a voice channel")
		case full:
			return nil, fault.New(fault.RateLimited, "Too many voice connections")
		}
	}
	p.mesh.bridges[target.AccountID] = b
	p.mu.Unlock()
	s.mu.Lock()
	k := [2]string{p.AccountID, target.AccountID}
	b.early = s.early[k]
	delete(s.early, k)
	s.mu.Unlock()

	pc.OnTrack(func(tr *webrtc.TrackRemote, recv *webrtc.RTPReceiver) { b.readIn(tr, recv) })
	pc.OnConnectionStateChange(func(st webrtc.PeerConnectionState) {
		switch st {
		case webrtc.PeerConnectionStateConnected:
			b.timer.Stop()
		case webrtc.PeerConnectionStateFailed, webrtc.PeerConnectionStateClosed:
			p.dropBridge(b)
		}
	})
	go func() { // the interceptors (NACK responder, reports) run as RTCP is read
		for {
			if _, _, err := sender.ReadRTCP(); err != nil {
				return
			}
		}
	}()
	// The target's microphones are read again now that the bridge is in
	// p.mesh.bridges: one published while the connection was being made
	// was added to the room when meshSubscribe could not find the bridge
	// yet, so only this look finds it (meshSubscribe skips a track it
	// already has). Taking them before the bridge existed lost such a
	// track, and the mesh client never heard that talker.
	for _, t := range s.micsOf(target) {
		p.meshSubscribe(t)
	}
	return b, nil
}

// micsOf lists the microphone tracks target publishes in its room.
func (s *SFU) micsOf(target *Participant) []*pubTrack {
	var mics []*pubTrack
	s.mu.Lock()
	defer s.mu.Unlock()
	if r := s.rooms[target.ChannelID]; r != nil {
		for _, t := range r.tracks {
			if t.owner == target && t.kind == "audio" && t.source == SourceMic {
				mics = append(mics, t)
			}
		}
	}
	return mics
}

// dropBridge closes one bridge; a mesh participant left with none is out
// of the room.
func (p *Participant) dropBridge(b *bridge) {
	p.mu.Lock()
	if p.mesh.bridges[b.peer] != b {
		p.mu.Unlock()
		return
	}
	delete(p.mesh.bridges, b.peer)
	var gone []*pubTrack
	for t := range p.down {
		if t.owner.AccountID == b.peer {
			gone = append(gone, t)
		}
	}
	last := len(p.mesh.bridges) == 0
	p.mu.Unlock()
	b.timer.Stop()
	_ = b.pc.Close()
	for _, t := range gone {
		p.meshUnsubscribe(t)
	}
	if last {
		p.sfu.leave(p, "no SFU participant left to bridge")
	}
}

// answer applies a mesh offer and returns the answer with its candidates.
// An offer meeting the server's own (glare) wins: the server rolls back.
func (b *bridge) answer(ctx context.Context, offer string) (string, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.pc.SignalingState() == webrtc.SignalingStateHaveLocalOffer {
		_ = b.pc.SetLocalDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeRollback})
	}
	if err := b.m.checkOffer(offer); err != nil {
		return "", err
	}
	if err := rtc.CheckCandidates(&b.cands, offer); err != nil {
		return "", fault.Wrap(fault.Invalid, "the offer names too many ICE candidate addresses", err)
	}
	if err := b.pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeOffer, SDP: offer}); err != nil {
		return "", fault.Wrap(fault.Invalid, "offer refused", err)
	}
	b.flushEarly()
	ans, err := b.pc.CreateAnswer(nil)
	if err != nil {
		return "", fault.Wrap(fault.Invalid, "offer refused", err)
	}
	gathered := webrtc.GatheringCompletePromise(b.pc)
	if err := b.pc.SetLocalDescription(ans); err != nil {
		return "", fault.Wrap(fault.Internal, "voice: set local description", err)
	}
	select {
	case <-gathered:
	case <-ctx.Done():
		return "", ctx.Err()
	}
	return b.pc.LocalDescription().SDP, nil
}

// checkOffer refuses a mesh offer that is not a session description.
func (p *Participant) checkOffer(offer string) error {
	parsed := &sdp.SessionDescription{}
	if err := parsed.UnmarshalString(offer); err != nil {
		return fault.New(fault.Invalid, "sdp is not a session description")
	}
	return nil
}

// offer makes the server's offer on the bridge (its SFU participant is
// the newcomer) and sends it to the mesh client.
func (b *bridge) offer(ctx context.Context) error {
	b.mu.Lock()
	o, err := b.pc.CreateOffer(nil)
	if err != nil {
		b.mu.Unlock()
		return err
	}
	gathered := webrtc.GatheringCompletePromise(b.pc)
	if err := b.pc.SetLocalDescription(o); err != nil {
		b.mu.Unlock()
		return err
	}
	b.mu.Unlock()
	select {
	case <-gathered:
	case <-ctx.Done():
		return ctx.Err()
	}
	b.mu.Lock()
	ld := b.pc.LocalDescription()
	b.mu.Unlock()
	if ld == nil || ld.Type != webrtc.SDPTypeOffer {
		return nil // the mesh client's own offer came first and won
	}
	b.m.sfu.mesh.Send(ctx, b.m.AccountID, b.peer, MeshSignal{Type: "offer", SDP: ld.SDP})
	return nil
}

func (b *bridge) applyAnswer(answer string) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.pc.SignalingState() != webrtc.SignalingStateHaveLocalOffer {
		return fault.New(fault.Conflict, "No offer is waiting for an answer")
	}
	if err := rtc.CheckCandidates(&b.cands, answer); err != nil {
		return fault.Wrap(fault.Invalid, "the answer names too many ICE candidate addresses", err)
	}
	if err := b.pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeAnswer, SDP: answer}); err != nil {
		return fault.Wrap(fault.Invalid, "answer refused", err)
	}
	b.flushEarly()
	return nil
}

func (b *bridge) addCandidate(c webrtc.ICECandidateInit) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.pc.RemoteDescription() == nil {
		if len(b.early) < maxEarly {
			b.early = append(b.early, c)
		}
		return
	}
	if b.cands.Add(c.Candidate) {
		_ = b.pc.AddICECandidate(c) // an mDNS or unreachable candidate is no error of ours
	}
}

// flushEarly adds the candidates that came before the remote
// description; b.mu is held.
func (b *bridge) flushEarly() {
	for _, c := range b.early {
		if b.cands.Add(c.Candidate) {
			_ = b.pc.AddICECandidate(c)
		}
	}
	b.early = nil
}

// readIn reads the mesh client's audio on one bridge: forwarded into the
// room when this bridge is the source, dropped otherwise.
func (b *bridge) readIn(tr *webrtc.TrackRemote, recv *webrtc.RTPReceiver) {
	m := b.m
	level := uint8(0)
	for _, e := range recv.GetParameters().HeaderExtensions {
		if e.URI == sdp.AudioLevelURI {
			level = uint8(e.ID) //nolint:gosec // extension ids are 1-14
		}
	}
	buf := make([]byte, 1500)
	var pkt rtp.Packet
	var score int
	var t *pubTrack
	var l *layer
	for {
		n, _, err := tr.Read(buf)
		if err != nil {
			break
		}
		if tr.Kind() != webrtc.RTPCodecTypeAudio {
			continue
		}
		if l == nil || l.ended.Load() {
			if t, l = m.meshSource(b, tr, level); l == nil {
				continue
			}
		}
		if pkt.Unmarshal(buf[:n]) != nil {
			continue
		}
		if level != 0 {
			score = t.speech(&pkt, level, score)
		}
		if !m.audioOn() {
			continue
		}
		t.fanout(l, &pkt, true)
	}
	if l != nil {
		l.ended.Store(true)
		m.mu.Lock()
		if m.mesh.src == b {
			m.mesh.src, m.mesh.srcL = nil, nil
		}
		m.mu.Unlock()
	}
}

// meshSource makes bridge b the source of the mesh participant's audio if
// none is (the first to deliver; another takes over when it ends), and
// returns the track and b's layer of it; a nil layer: b is not the
// source, or the participant may not speak.
func (p *Participant) meshSource(b *bridge, tr *webrtc.TrackRemote, level uint8) (*pubTrack, *layer) {
	s := p.sfu
	p.mu.Lock()
	ms := p.mesh
	if p.closed || p.perms.Load()&PermSpeak != PermSpeak || (ms.src != nil && ms.src != b) || ms.bridges[b.peer] != b {
		p.mu.Unlock()
		return nil, nil
	}
	if ms.src == b {
		t, l := ms.track, ms.srcL
		p.mu.Unlock()
		return t, l
	}
	isNew := ms.track == nil
	if isNew {
		ms.track = newPubTrack(p, p.AccountID+":mic", "audio", SourceMic, tr.Codec().RTPCodecCapability)
	}
	// A new layer for each source: subscribers switch to it with their
	// sequence numbers and timestamps kept continuous.
	l := ms.track.addLayer(tr, level)
	ms.src, ms.srcL = b, l
	t := ms.track
	p.mu.Unlock()
	if isNew {
		if !s.addRoomTrack(p, t) {
			return nil, nil
		}
		s.broadcastTracks(p.ChannelID)
	}
	return t, l
}

// meshSubscribe sends an SFU participant's microphone to the mesh client
// on the bridge standing for that participant. Other mesh clients' audio
// and every video reach it over its own mesh connections, or not at all.
func (p *Participant) meshSubscribe(t *pubTrack) {
	if t.kind != "audio" || t.source != SourceMic || t.owner.mesh != nil {
		return
	}
	p.mu.Lock()
	b := p.mesh.bridges[t.owner.AccountID]
	if p.closed || b == nil || p.down[t] != nil {
		p.mu.Unlock()
		return
	}
	d := newDownTrack(p, t, b.local, b.sender)
	p.down[t] = d
	p.mu.Unlock()
	t.addDown(d)
}

func (p *Participant) meshUnsubscribe(t *pubTrack) {
	p.mu.Lock()
	d := p.down[t]
	delete(p.down, t)
	p.mu.Unlock()
	if d != nil {
		t.removeDown(d)
	}
}

// closeMesh closes every bridge of a mesh participant that left.
func (p *Participant) closeMesh() {
	p.mu.Lock()
	bs := make([]*bridge, 0, len(p.mesh.bridges))
	for _, b := range p.mesh.bridges {
		bs = append(bs, b)
	}
	p.mesh.bridges = map[string]*bridge{}
	p.mu.Unlock()
	for _, b := range bs {
		b.timer.Stop()
		_ = b.pc.Close()
	}
}

// offerMesh offers, on the newcomer p's behalf, a bridge to every mesh
// client in p's channel (Together's rule: the newcomer offers).
func (s *SFU) offerMesh(p *Participant) {
	ctx, cancel := context.WithTimeout(context.Background(), rpcTimeout)
	ids, err := s.mesh.Peers(ctx, p.ChannelID)
	cancel()
	if err != nil {
		s.log.Debug("voice: mesh peers", "err", err)
		return
	}
	for _, id := range ids {
		if id != p.AccountID && !p.Closed() {
			s.offerMeshTo(p, id)
		}
	}
}

// offerMeshTo offers the newcomer p's bridge to account id if it is a
// mesh client (in the channel's voice, not an SFU participant).
func (s *SFU) offerMeshTo(p *Participant, id string) {
	ctx, cancel := context.WithTimeout(context.Background(), rpcTimeout)
	defer cancel()
	s.mu.Lock()
	var m *Participant
	if r := s.rooms[p.ChannelID]; r != nil {
		m = r.members[id]
	}
	s.mu.Unlock()
	if m != nil && m.mesh == nil {
		return // an SFU participant
	}
	if m == nil {
		var err error
		if m, err = s.joinMesh(ctx, id, p.ChannelID); err != nil {
			s.log.Debug("voice: mesh join", "account", id, "err", err)
			return
		}
	}
	if m.bridgeFor(p.AccountID) != nil {
		return
	}
	b, err := m.bridgeTo(p)
	if err != nil {
		s.log.Debug("voice: mesh bridge", "account", id, "err", err)
		return
	}
	if err := b.offer(ctx); err != nil {
		s.log.Debug("voice: mesh offer", "account", id, "err", err)
	}
}
