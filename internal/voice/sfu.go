package voice

// The selective forwarding unit: each participant of a voice channel sends
// its media once, on a publish peer connection it offers; Hearth forwards
// every packet, unchanged but for SSRC, payload type, sequence number and
// timestamp, to every other participant on a subscribe peer connection the
// server offers. Two connections per participant (LiveKit's split) keep
// the two directions' negotiations apart, so neither side ever meets glare.
//
// The rules live here, not in a surface: who may join (CONNECT), who may
// send audio (SPEAK) and video (Together has no VIDEO bit: SPEAK), who may
// mute or disconnect others (MUTE_MEMBERS; Together has no MOVE_MEMBERS).
// Surfaces carry the offers, answers and notices in their own wire format.

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hearth-community/hearth/internal/community"
	"github.com/hearth-community/hearth/internal/fault"
	"github.com/hearth-community/hearth/internal/rtc"
	"github.com/pion/sdp/v3"
	"github.com/pion/webrtc/v4"
)

// Permission bits the SFU checks. Together has no VIDEO and no
// MOVE_MEMBERS bit: video needs SPEAK, and disconnecting or moving others
// needs MUTE_MEMBERS (docs/compatibility.md).
const (
	PermConnect     = community.PermConnectVoice
	PermSpeak       = community.PermSpeak
	PermVideo       = community.PermSpeak
	PermMuteMembers = community.PermMuteMembers
	PermMoveMembers = community.PermMuteMembers
)

// Track sources a publisher names for its tracks.
const (
	SourceMic    = "mic"
	SourceCamera = "camera"
	SourceScreen = "screen"
)

// Peers makes server-side peer connections (*rtc.Plane).
type Peers interface {
	NewPeerConnection() (*webrtc.PeerConnection, error)
}

// Estimating is a Peers whose connections report a send-side bandwidth
// estimate from the remote's TWCC feedback (*rtc.Plane): bits per second.
// With it, each subscriber's video layers follow its own link's estimate.
type Estimating interface {
	NewPeerConnectionBWE() (*webrtc.PeerConnection, func() int, error)
}

// sendBatcher is a media plane that sends a fan-out's packets together
// (*rtc.Plane: BeginBatch queues the plane's UDP writes, EndBatch sends
// them with one sendmmsg).
type sendBatcher interface {
	BeginBatch()
	EndBatch()
}

// Access resolves an account's bits in a channel (*community.Service).
type Access interface {
	ChannelAccess(ctx context.Context, accountID, channelID string) (*community.ChannelAccess, error)
}

// Notice is what the SFU tells one participant; the surface encodes it.
type Notice struct {
	// Type: "offer" (SDP: answer it with Answer), "tracks" (Tracks: every
	// track published in the room now), "speaking" (AccountID, Speaking),
	// "participants" (Participants), "layer" (TrackID, Layer: the layer
	// now forwarded to this subscriber), "closed" (Reason: the
	// participant is out of the room).
	Type         string
	SDP          string
	Tracks       []TrackInfo
	Participants []ParticipantInfo
	AccountID    string
	Speaking     bool
	TrackID      string
	Layer        int
	Reason       string
	// MembersVer is Participants' version on the room's node (room.ver).
	MembersVer uint64
}

// TrackInfo describes one published track.
type TrackInfo struct {
	AccountID string // publisher
	TrackID   string // "<account>:<publisher's track id>": the subscribe side's msid stream and track id
	Kind      string // "audio" or "video"
	Source    string // mic, camera, screen
	Layers    int    // simulcast layers received (1 without simulcast)
	Muted     bool
}

// ParticipantInfo is one participant's state.
type ParticipantInfo struct {
	AccountID  string
	SelfMute   bool
	SelfDeaf   bool
	ServerMute bool
	Speaking   bool
}

// SFU is the forwarding unit of one node: one room per voice channel.
type SFU struct {
	peers  Peers
	sends  sendBatcher // nil: the plane cannot batch sends
	access Access
	log    *slog.Logger

	cl *cluster // nil: one node

	mesh  *MeshConfig                             // nil: mesh offers are not answered (EnableMesh)
	early map[[2]string][]webrtc.ICECandidateInit // mesh candidates before their offer; guarded by mu

	mu        sync.Mutex
	rooms     map[string]*room
	byAccount map[string]*Participant // this node's participants and proxies

	// bridging, when set (tests only, export_test.go), runs in bridgeTo
	// between making a bridge's connection and registering the bridge.
	bridging func(target string)
}

// NewSFU makes an SFU on a media plane; access checks permissions.
func NewSFU(peers Peers, access Access, log *slog.Logger) *SFU {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	sends, _ := peers.(sendBatcher)
	return &SFU{peers: peers, sends: sends, access: access, log: log, rooms: map[string]*room{}, byAccount: map[string]*Participant{}}
}

type room struct {
	id      string
	members map[string]*Participant // by account
	tracks  []*pubTrack
	// ver numbers each list of the room's members taken (under SFU.mu),
	// so a proxy node that hears lists by two paths (the join's answer,
	// the notices of each of its proxies) keeps the newest.
	ver uint64
}

// Participant is one account's presence in a room.
type Participant struct {
	sfu       *SFU
	AccountID string
	ChannelID string
	community string // the channel's community, for community events
	notify    func(Notice)
	// perms are the account's bits in the channel, read at join and again
	// by Recheck when the community changes them.
	perms atomic.Int64

	pub *webrtc.PeerConnection
	sub *webrtc.PeerConnection
	bwe func() int // the subscribe connection's estimate (bits/s); nil without one

	// remote: a proxy whose room runs on another node (no peer
	// connections here); origin: a participant here serving another
	// node's client (cluster.go).
	remote, origin *link
	members        []ParticipantInfo // a proxy's room, from the owner's notices
	membersVer     uint64            // the owner's version of members (see room.ver)
	// mesh: a Together mesh client bridged into the room (mesh.go): no
	// pub or sub connection, one bridge per SFU participant.
	mesh *meshState

	// flags: self mute, self deaf, server mute and speaking (flag*
	// bits), read by the forwarding path on every packet: an atomic, so
	// that no packet waits on mu, which negotiation holds across pion's
	// CreateOffer and SetRemoteDescription.
	flags atomic.Uint32

	mu                   sync.Mutex // guards what follows and the subscribe negotiation
	closed               bool
	sources              map[string]string // publisher track id → source
	down                 map[*pubTrack]*downTrack
	negotiating, pending bool
	published            map[*webrtc.RTPReceiver]*pubTrack
	// pubCands and subCands count the addresses the client's candidates
	// name on each connection (rtc.MaxRemoteCandidates).
	pubCands, subCands rtc.Candidates

	notifyMu sync.Mutex // notices go out one at a time, in order
}

// Join puts accountID in the voice channel's room; a second Join of the
// same account replaces the first (one voice channel per account, as
// Together's voice states). notify receives the participant's notices; it
// must not block for long.
//
// With a cluster (EnableCluster), the room runs on the node holding the
// channel's lease; on any other node the participant is a proxy whose
// calls go to that node over the bus.
func (s *SFU) Join(ctx context.Context, accountID, channelID string, notify func(Notice)) (*Participant, error) {
	ca, err := s.check(ctx, accountID, channelID)
	if err != nil {
		return nil, err
	}
	if s.cl != nil {
		s.cl.mu.Lock()
		closing := s.cl.closing
		s.cl.mu.Unlock()
		if closing {
			return nil, fault.New(fault.Unavailable, "This server is shutting down; join again")
		}
		p, here, err := s.joinOwner(ctx, accountID, channelID, notify)
		if !here {
			return p, err
		}
	}
	return s.joinLocal(ca, accountID, channelID, notify, nil)
}

// check is the join rule, and the rule of staying: a voice (or stage)
// channel, VIEW and CONNECT, and no timeout in its community.
func (s *SFU) check(ctx context.Context, accountID, channelID string) (*community.ChannelAccess, error) {
	ca, err := s.access.ChannelAccess(ctx, accountID, channelID)
	if err != nil {
		return nil, err
	}
	if !CallChannel(ca.Channel.Kind) {
		return nil, fault.New(fault.Invalid, "Channel is not a voice channel")
	}
	if !ca.Can(community.PermViewChannel) || !ca.Can(PermConnect) {
		return nil, fault.New(fault.Forbidden, "You do not have permission to join this voice channel")
	}
	if err := ca.MayCommunicate(); err != nil {
		return nil, err
	}
	return ca, nil
}

// joinLocal puts the participant in the room on this node; origin is set
// when its client is on another node.
func (s *SFU) joinLocal(ca *community.ChannelAccess, accountID, channelID string, notify func(Notice), origin *link) (*Participant, error) {
	pub, err := s.peers.NewPeerConnection()
	if err != nil {
		return nil, err
	}
	var sub *webrtc.PeerConnection
	var bwe func() int
	if ep, ok := s.peers.(Estimating); ok {
		sub, bwe, err = ep.NewPeerConnectionBWE()
	} else {
		sub, err = s.peers.NewPeerConnection()
	}
	if err != nil {
		_ = pub.Close()
		return nil, err
	}
	p := &Participant{sfu: s, AccountID: accountID, ChannelID: channelID, notify: notify,
		pub: pub, sub: sub, bwe: bwe, sources: map[string]string{}, down: map[*pubTrack]*downTrack{},
		published: map[*webrtc.RTPReceiver]*pubTrack{}, origin: origin}
	p.setPerms(ca.Perms)
	p.community = ca.Community.ID
	pub.OnTrack(p.onTrack)
	for _, pc := range []*webrtc.PeerConnection{pub, sub} {
		pc.OnConnectionStateChange(func(st webrtc.PeerConnectionState) {
			if st == webrtc.PeerConnectionStateFailed || st == webrtc.PeerConnectionStateClosed {
				s.leave(p, "connection "+st.String())
			}
		})
	}

	s.mu.Lock()
	old := s.byAccount[accountID]
	s.mu.Unlock()
	if old != nil {
		s.leave(old, "replaced")
	}
	s.mu.Lock()
	r := s.rooms[channelID]
	if r == nil {
		r = &room{id: channelID, members: map[string]*Participant{}}
		s.rooms[channelID] = r
	}
	r.members[accountID] = p
	s.byAccount[accountID] = p
	tracks := append([]*pubTrack(nil), r.tracks...)
	s.mu.Unlock()
	if origin != nil {
		s.cl.mu.Lock()
		s.cl.remotes[origin.session] = p
		s.cl.mu.Unlock()
	}

	for _, t := range tracks {
		p.subscribe(t)
	}
	s.broadcastParticipants(channelID)
	p.send(Notice{Type: "tracks", Tracks: s.trackInfos(channelID)})
	if s.mesh != nil {
		go s.offerMesh(p)
	}
	return p, nil
}

// Recheck removes from the rooms this node runs the participants (of
// accountID, or every account when "") in channelIDs (every room when nil)
// who may no longer be in the call: banned, kicked or gone from the
// community, denied VIEW_CHANNEL or CONNECT by a role or override
// change, or timed out. Those who stay get their bits refreshed, so SPEAK taken away
// refuses their next publish. Every node runs it for the rooms it runs
// (community events reach every node); a removed participant gets a
// "closed" notice wherever its client is.
func (s *SFU) Recheck(ctx context.Context, channelIDs []string, accountID string) {
	want := make(map[string]bool, len(channelIDs))
	for _, id := range channelIDs {
		want[id] = true
	}
	s.recheck(ctx, func(p *Participant) bool {
		return (channelIDs == nil || want[p.ChannelID]) && (accountID == "" || p.AccountID == accountID)
	})
}

// OnCommunityEvent rechecks the participants a community event may have
// taken out of a call (Recheck); every node runs it for every community
// event.
func (s *SFU) OnCommunityEvent(ctx context.Context, e *community.Event) {
	inCommunity := func(p *Participant) bool { return p.community == e.CommunityID }
	switch e.Type {
	case community.EvMemberKicked, community.EvMemberBanned, community.EvMemberLeft, community.EvMemberRoleAdded,
		community.EvMemberRoleRemoved, community.EvMemberTimeout:
		s.recheck(ctx, func(p *Participant) bool { return inCommunity(p) && p.AccountID == e.AccountID })
	case community.EvRoleUpdated, community.EvRoleDeleted, community.EvCommunityDeleted:
		s.recheck(ctx, inCommunity)
	case community.EvOverrideUpdated, community.EvOverrideDeleted:
		if e.Override != nil {
			s.Recheck(ctx, []string{e.Override.ChannelID}, "")
		}
	case community.EvChannelUpdated, community.EvChannelDeleted:
		if e.Channel != nil {
			s.Recheck(ctx, []string{e.Channel.ID}, "")
		}
	}
}

func (s *SFU) recheck(ctx context.Context, match func(*Participant) bool) {
	s.mu.Lock()
	var ps []*Participant
	for _, r := range s.rooms {
		for _, p := range r.members {
			if p.remote == nil && match(p) {
				ps = append(ps, p)
			}
		}
	}
	s.mu.Unlock()
	for _, p := range ps {
		cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		ca, err := s.check(cctx, p.AccountID, p.ChannelID)
		cancel()
		switch k := fault.KindOf(err); {
		case err == nil:
			if p.setPerms(ca.Perms) {
				// SPEAK taken away silences what p already sends (not
				// only its next publish); given back, its video resumes
				// on a fresh keyframe.
				s.broadcastParticipants(p.ChannelID)
				s.broadcastTracks(p.ChannelID)
			}
		case errors.Is(err, community.ErrTimedOut):
			s.leave(p, "removed: timed out")
		case k == fault.NotFound || k == fault.Forbidden:
			s.leave(p, "removed: no longer allowed in this channel")
		default:
			s.log.Warn("recheck a voice participant", "account", p.AccountID, "channel", p.ChannelID, "err", err)
		}
	}
}

// Participant returns accountID's participant, NotFound when it is in no
// room on this node.
func (s *SFU) Participant(accountID string) (*Participant, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if p := s.byAccount[accountID]; p != nil {
		return p, nil
	}
	return nil, errNotInCall
}

var errNotInCall = fault.New(fault.NotFound, "Not in a voice channel")

// Leave takes accountID out of its room (NotFound when in none).
func (s *SFU) Leave(accountID string) error {
	p, err := s.Participant(accountID)
	if err != nil {
		return err
	}
	s.leave(p, "left")
	return nil
}

// Leave takes the participant out of its room (a no-op once out).
func (p *Participant) Leave() error {
	p.sfu.leave(p, "left")
	return nil
}

// Closed reports whether the participant is out of its room.
func (p *Participant) Closed() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.closed
}

// Self is the participant's own mute and deafen.
func (p *Participant) Self() (mute, deaf bool) {
	f := p.flags.Load()
	return f&flagSelfMute != 0, f&flagSelfDeaf != 0
}

// Members lists the participants of a channel's room.
func (s *SFU) Members(channelID string) []ParticipantInfo {
	out, _ := s.membersOf(channelID)
	return out
}

// membersOf is Members with the list's version on the room's node.
func (s *SFU) membersOf(channelID string) ([]ParticipantInfo, uint64) {
	s.mu.Lock()
	r := s.rooms[channelID]
	var ps []*Participant
	var ver uint64
	if r != nil {
		for _, p := range r.members {
			ps = append(ps, p)
		}
		r.ver++
		ver = r.ver
	}
	s.mu.Unlock()
	if r == nil && s.cl != nil {
		// A room on another node: the newest list its owner told any proxy
		// here. (Each proxy hears the owner on its own; the list of one
		// whose notice is late lacks who joined since, the asker too.)
		s.cl.mu.Lock()
		defer s.cl.mu.Unlock()
		var out []ParticipantInfo
		for _, p := range s.cl.proxies {
			if p.ChannelID != channelID {
				continue
			}
			p.mu.Lock()
			if out == nil || p.membersVer > ver {
				out, ver = append([]ParticipantInfo{}, p.members...), p.membersVer
			}
			p.mu.Unlock()
		}
		if out != nil {
			return out, ver
		}
	}
	out := make([]ParticipantInfo, 0, len(ps))
	for _, p := range ps {
		out = append(out, p.info())
	}
	sort.Slice(out, func(i, j int) bool { return out[i].AccountID < out[j].AccountID })
	return out, ver
}

// Close takes every participant out of every room. With a cluster it
// first gives up this node's leases, so that the participants of other
// nodes' clients (told "moved") join again on a node that stays.
func (s *SFU) Close() {
	s.closeCluster()
	defer s.stopCluster()
	s.mu.Lock()
	ps := make([]*Participant, 0, len(s.byAccount))
	for _, p := range s.byAccount {
		ps = append(ps, p)
	}
	s.mu.Unlock()
	for _, p := range ps {
		reason := "shutdown"
		if p.origin != nil {
			reason = ReasonMoved
		}
		s.leave(p, reason)
	}
}

func (s *SFU) leave(p *Participant, reason string) {
	if p.remote != nil {
		s.leaveProxy(p, reason, true)
		return
	}
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return
	}
	p.closed = true
	p.mu.Unlock()

	s.mu.Lock()
	r := s.rooms[p.ChannelID]
	var gone []*pubTrack
	var others []*Participant
	empty := false
	if r != nil && r.members[p.AccountID] == p {
		delete(r.members, p.AccountID)
		kept := r.tracks[:0]
		for _, t := range r.tracks {
			if t.owner == p {
				gone = append(gone, t)
			} else {
				kept = append(kept, t)
			}
		}
		r.tracks = kept
		for _, o := range r.members {
			others = append(others, o)
		}
		if len(r.members) == 0 {
			delete(s.rooms, p.ChannelID)
			empty = true
		}
	}
	s.mu.Unlock()
	s.forget(p)
	if empty && s.cl != nil {
		go s.release(p.ChannelID)
	}

	for _, t := range gone {
		t.stop()
	}
	for _, o := range others {
		for _, t := range gone {
			o.unsubscribe(t)
		}
		if b := o.bridgeFor(p.AccountID); b != nil {
			o.dropBridge(b)
		}
	}
	if p.mesh != nil {
		p.closeMesh()
	} else {
		_ = p.pub.Close()
		_ = p.sub.Close()
	}
	p.send(Notice{Type: "closed", Reason: reason})
	if r != nil {
		s.broadcastParticipants(p.ChannelID)
		if len(gone) > 0 {
			s.broadcastTracks(p.ChannelID)
		}
	}
	s.log.Debug("voice participant left", "account", p.AccountID, "channel", p.ChannelID, "reason", reason)
}

func (s *SFU) roomMembers(channelID string) []*Participant {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.rooms[channelID]
	if r == nil {
		return nil
	}
	out := make([]*Participant, 0, len(r.members))
	for _, p := range r.members {
		out = append(out, p)
	}
	return out
}

func (s *SFU) broadcast(channelID string, n Notice) {
	for _, p := range s.roomMembers(channelID) {
		p.send(n)
	}
}

func (s *SFU) broadcastParticipants(channelID string) {
	ms, ver := s.membersOf(channelID)
	s.broadcast(channelID, Notice{Type: "participants", Participants: ms, MembersVer: ver})
}

func (s *SFU) broadcastTracks(channelID string) {
	s.broadcast(channelID, Notice{Type: "tracks", Tracks: s.trackInfos(channelID)})
}

func (s *SFU) trackInfos(channelID string) []TrackInfo {
	s.mu.Lock()
	r := s.rooms[channelID]
	var ts []*pubTrack
	if r != nil {
		ts = append(ts, r.tracks...)
	}
	s.mu.Unlock()
	out := make([]TrackInfo, 0, len(ts))
	for _, t := range ts {
		out = append(out, t.info())
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].AccountID != out[j].AccountID {
			return out[i].AccountID < out[j].AccountID
		}
		return out[i].TrackID < out[j].TrackID
	})
	return out
}

func (p *Participant) send(n Notice) {
	if p.notify == nil {
		return
	}
	p.notifyMu.Lock()
	defer p.notifyMu.Unlock()
	p.notify(n)
}

func (p *Participant) info() ParticipantInfo {
	f := p.flags.Load()
	return ParticipantInfo{AccountID: p.AccountID, SelfMute: f&flagSelfMute != 0, SelfDeaf: f&flagSelfDeaf != 0,
		ServerMute: f&(flagServerMute|flagNoSpeak) != 0, Speaking: f&flagSpeaking != 0}
}

// Bounds on what one publisher's offers name. Each sending track is
// forwarded to every other member of the room (a down track, a goroutine
// and a renegotiation each), and the sources of track ids were kept for the
// participant's whole stay, merged on every offer: a member with SPEAK
// could send hundreds of tracks, or grow the map by a frame's worth of ids
// twenty times a second. A browser sends a microphone, a camera and a
// screen with its audio.
const (
	maxSendingTracks = 16
	maxSources       = 64
)

// Publish applies the participant's offer on its publish connection and
// returns the answer (ICE candidates included: no trickle). sources names
// each track id's source (mic, camera, screen); a track it does not name
// is a mic (audio) or camera (video). Audio needs SPEAK, video VIDEO;
// without them the whole offer is refused and nothing changes.
func (p *Participant) Publish(ctx context.Context, offer string, sources map[string]string) (string, error) {
	if p.remote != nil {
		r, err := p.proxyCall(ctx, rpcReq{Op: "publish", SDP: offer, Sources: sources})
		return r.SDP, err
	}
	parsed := &sdp.SessionDescription{}
	if err := parsed.UnmarshalString(offer); err != nil {
		return "", fault.New(fault.Invalid, "sdp is not a session description")
	}
	sending := 0
	for _, m := range parsed.MediaDescriptions {
		if !sends(m) {
			continue
		}
		if sending++; sending > maxSendingTracks {
			return "", fault.Newf(fault.Invalid, "an offer may send at most %d tracks", maxSendingTracks)
		}
		switch m.MediaName.Media {
		case "audio":
			if p.perms.Load()&PermSpeak != PermSpeak {
				return "", fault.New(fault.Forbidden, "You do not have permission to speak in this channel")
			}
		case "video":
			if p.perms.Load()&PermVideo != PermVideo {
				return "", fault.New(fault.Forbidden, "You do not have permission to send video in this channel")
			}
		}
	}
	if len(sources) > maxSources {
		return "", fault.Newf(fault.Invalid, "at most %d track sources", maxSources)
	}
	for id, src := range sources {
		if src != SourceMic && src != SourceCamera && src != SourceScreen {
			return "", fault.New(fault.Invalid, "source must be mic, camera or screen")
		}
		if len(id) > 256 {
			return "", fault.New(fault.Invalid, "track id too long")
		}
	}
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return "", fault.New(fault.NotFound, "Not in a voice channel")
	}
	if len(p.sources)+len(sources) > maxSources {
		// Only tracks yet to arrive need their source (onTrack keeps it
		// with the track), so the oldest names can go.
		clear(p.sources)
	}
	if err := rtc.CheckCandidates(&p.pubCands, offer); err != nil {
		p.mu.Unlock()
		return "", fault.Wrap(fault.Invalid, "the offer names too many ICE candidate addresses", err)
	}
	for id, src := range sources {
		p.sources[id] = src
	}
	p.mu.Unlock()
	if err := p.pub.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeOffer, SDP: offer}); err != nil {
		return "", fault.Wrap(fault.Invalid, "offer refused", err)
	}
	answer, err := p.pub.CreateAnswer(nil)
	if err != nil {
		return "", fault.Wrap(fault.Invalid, "offer refused", err)
	}
	gathered := webrtc.GatheringCompletePromise(p.pub)
	if err := p.pub.SetLocalDescription(answer); err != nil {
		return "", fmt.Errorf("voice: set local description: %w", err)
	}
	select {
	case <-gathered:
	case <-ctx.Done():
		return "", ctx.Err()
	}
	return p.pub.LocalDescription().SDP, nil
}

// sends reports whether an offer's media section sends (sendrecv or
// sendonly; sendrecv is the default).
func sends(m *sdp.MediaDescription) bool {
	for _, a := range m.Attributes {
		switch a.Key {
		case "recvonly", "inactive":
			return false
		}
	}
	return m.MediaName.Port.Value != 0
}

// Answer applies the participant's answer to the server's latest offer on
// the subscribe connection.
func (p *Participant) Answer(answer string) error {
	if p.remote != nil {
		ctx, cancel := p.bgCtx()
		defer cancel()
		_, err := p.proxyCall(ctx, rpcReq{Op: "answer", SDP: answer})
		return err
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return fault.New(fault.NotFound, "Not in a voice channel")
	}
	if p.sub.SignalingState() != webrtc.SignalingStateHaveLocalOffer {
		return fault.New(fault.Conflict, "No offer is waiting for an answer")
	}
	// An answer naming too many candidate addresses is refused as one
	// pion refuses: rolled back, and a fresh offer made.
	err := rtc.CheckCandidates(&p.subCands, answer)
	if err == nil {
		err = p.sub.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeAnswer, SDP: answer})
	}
	p.negotiating = false
	if err != nil {
		// Roll the refused offer back and offer afresh, so that one bad
		// answer does not leave the subscriber without media for good.
		_ = p.sub.SetLocalDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeRollback})
		p.pending = false
		go p.negotiate()
		return fault.Wrap(fault.Invalid, "answer refused", err)
	}
	if p.pending {
		p.pending = false
		go p.negotiate()
	}
	return nil
}

// negotiate sends a fresh subscribe offer, or marks one pending while an
// offer waits for its answer.
func (p *Participant) negotiate() {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return
	}
	if p.negotiating {
		p.pending = true
		p.mu.Unlock()
		return
	}
	offer, err := p.sub.CreateOffer(nil)
	if err != nil {
		p.mu.Unlock()
		p.sfu.log.Debug("voice: subscribe offer", "err", err)
		return
	}
	gathered := webrtc.GatheringCompletePromise(p.sub)
	if err := p.sub.SetLocalDescription(offer); err != nil {
		p.mu.Unlock()
		p.sfu.log.Debug("voice: subscribe offer", "err", err)
		return
	}
	p.negotiating = true
	p.mu.Unlock()
	<-gathered
	if ld := p.sub.LocalDescription(); ld != nil {
		p.send(Notice{Type: "offer", SDP: ld.SDP})
	}
}

// SetSelf records the participant's own mute and deafen. A self-muted
// participant's audio is not forwarded; a deafened one is sent none.
func (p *Participant) SetSelf(mute, deaf bool) {
	p.updateFlags(func(f uint32) uint32 {
		f = setFlag(f, flagSelfMute, mute)
		f = setFlag(f, flagSelfDeaf, deaf)
		if mute {
			f &^= flagSpeaking
		}
		return f
	})
	if p.remote != nil {
		ctx, cancel := p.bgCtx()
		defer cancel()
		if _, err := p.proxyCall(ctx, rpcReq{Op: "self", Mute: mute, Deaf: deaf}); err != nil {
			p.sfu.log.Warn("voice: self mute on the room's node", "err", err)
		}
		return
	}
	p.sfu.broadcastParticipants(p.ChannelID)
	p.sfu.broadcastTracks(p.ChannelID)
}

// KeepServerMute applies a moderator's mute that the account carries from
// its stored voice state (as Together, a server mute stays with the
// account across channels) to the participant it has just become.
func (p *Participant) KeepServerMute() {
	p.updateFlags(func(f uint32) uint32 { return setFlag(f, flagServerMute, true) &^ flagSpeaking })
	if p.remote != nil {
		ctx, cancel := p.bgCtx()
		defer cancel()
		if _, err := p.proxyCall(ctx, rpcReq{Op: "keepmute"}); err != nil {
			p.sfu.log.Warn("voice: server mute on the room's node", "err", err)
		}
		return
	}
	p.sfu.broadcastParticipants(p.ChannelID)
	p.sfu.broadcastTracks(p.ChannelID)
}

// ServerMute mutes or unmutes target in the actor's room; it needs
// MUTE_MEMBERS in the channel.
func (s *SFU) ServerMute(ctx context.Context, actorID, targetID string, mute bool) error {
	if node := s.moderationNode(actorID, targetID); node != "" {
		_, err := s.call(ctx, node, rpcReq{Op: "mute", Account: actorID, Target: targetID, Mute: mute})
		return err
	}
	t, err := s.moderate(ctx, actorID, targetID, PermMuteMembers)
	if err != nil {
		return err
	}
	t.updateFlags(func(f uint32) uint32 {
		f = setFlag(f, flagServerMute, mute)
		if mute {
			f &^= flagSpeaking
		}
		return f
	})
	s.broadcastParticipants(t.ChannelID)
	s.broadcastTracks(t.ChannelID)
	return nil
}

// Disconnect takes target out of its room; it needs MOVE_MEMBERS.
func (s *SFU) Disconnect(ctx context.Context, actorID, targetID string) error {
	if node := s.moderationNode(actorID, targetID); node != "" {
		_, err := s.call(ctx, node, rpcReq{Op: "disconnect", Account: actorID, Target: targetID})
		return err
	}
	t, err := s.moderate(ctx, actorID, targetID, PermMoveMembers)
	if err != nil {
		return err
	}
	s.leave(t, "disconnected by a moderator")
	return nil
}

// moderationNode is the node a moderation runs on when it is not this
// one: the room's node of the target's proxy here, else of the actor's
// (a moderator in the same room reaches every participant there).
func (s *SFU) moderationNode(actorID, targetID string) string {
	if s.cl == nil {
		return ""
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	t, a := s.byAccount[targetID], s.byAccount[actorID]
	switch {
	case t != nil && t.remote == nil:
		return ""
	case t != nil:
		return t.remote.node
	case a != nil && a.remote != nil:
		return a.remote.node
	}
	return ""
}

func (s *SFU) moderate(ctx context.Context, actorID, targetID string, perm int64) (*Participant, error) {
	t, err := s.Participant(targetID)
	if err != nil {
		return nil, err
	}
	ca, err := s.access.ChannelAccess(ctx, actorID, t.ChannelID)
	if fault.KindOf(err) == fault.NotFound || (err == nil && !ca.Can(community.PermViewChannel)) {
		// Whoever cannot see the target's channel (a stranger, a
		// moderator it is hidden from) may not act in its call, nor learn
		// that the target is there: the answer is Participant's for an
		// account in no call.
		return nil, errNotInCall
	}
	if err != nil {
		return nil, err
	}
	if !ca.Can(perm) {
		return nil, fault.New(fault.Forbidden, "Missing required permission")
	}
	// The role hierarchy, as for a kick, ban or timeout: a moderator mutes
	// and disconnects only members below their highest role, never the
	// owner. Oneself is always one's own to mute or disconnect.
	if actorID != targetID {
		ta, err := s.access.ChannelAccess(ctx, targetID, t.ChannelID)
		switch {
		case err == nil:
			if err := ca.MayModerate(ta.Access); err != nil {
				return nil, err
			}
		case fault.KindOf(err) != fault.NotFound:
			// (NotFound: the target is no longer a member, so holds no
			// rank, and is leaving the call.)
			return nil, err
		}
	}
	return t, nil
}

// SetLayer sets the highest simulcast layer (0 low, 1 medium, 2 high) the
// participant wants of a track, from its tile size; the forwarded layer
// is the lower of this and the bandwidth estimate's.
func (p *Participant) SetLayer(trackID string, layer int) error {
	if layer < 0 || layer > 2 {
		return fault.New(fault.Invalid, "layer must be 0, 1 or 2")
	}
	if p.remote != nil {
		ctx, cancel := p.bgCtx()
		defer cancel()
		_, err := p.proxyCall(ctx, rpcReq{Op: "layer", TrackID: trackID, Layer: layer})
		return err
	}
	p.mu.Lock()
	var d *downTrack
	for t, dt := range p.down {
		if t.id == trackID {
			d = dt
		}
	}
	p.mu.Unlock()
	if d == nil {
		return fault.New(fault.NotFound, "Unknown track")
	}
	d.setWanted(layer)
	return nil
}

// Participant.flags bits.
const (
	flagSelfMute uint32 = 1 << iota
	flagSelfDeaf
	flagServerMute
	flagSpeaking
	// flagNoSpeak: the participant lacks SPEAK in the channel now (denied
	// when joining, or taken away since): nothing it sends is forwarded,
	// audio or video (PermVideo is PermSpeak), as a moderator's mute does
	// for audio.
	flagNoSpeak
)

func setFlag(f, bit uint32, on bool) uint32 {
	if on {
		return f | bit
	}
	return f &^ bit
}

// updateFlags applies change to the participant's flags atomically.
func (p *Participant) updateFlags(change func(uint32) uint32) {
	for {
		old := p.flags.Load()
		if p.flags.CompareAndSwap(old, change(old)) {
			return
		}
	}
}

// audioOn reports whether p's audio may reach others now (no lock: the
// forwarding path asks on every packet).
func (p *Participant) audioOn() bool {
	return p.flags.Load()&(flagSelfMute|flagServerMute|flagNoSpeak) == 0
}

// videoOn reports whether p's video may reach others now (no lock, as
// audioOn).
func (p *Participant) videoOn() bool {
	return p.flags.Load()&flagNoSpeak == 0
}

// setPerms records p's bits in its channel now, and reports whether that
// changed whether it may speak.
func (p *Participant) setPerms(perms int64) (speakChanged bool) {
	p.perms.Store(perms)
	ok := perms&PermSpeak == PermSpeak
	p.updateFlags(func(f uint32) uint32 {
		speakChanged = (f&flagNoSpeak == 0) != ok
		f = setFlag(f, flagNoSpeak, !ok)
		if !ok {
			f &^= flagSpeaking
		}
		return f
	})
	return speakChanged
}

// deaf reports whether p is sent no audio (no lock, as audioOn).
func (p *Participant) deaf() bool {
	return p.flags.Load()&flagSelfDeaf != 0
}

// setSpeaking records p's speaking from its audio levels (no lock: it
// runs on the forwarding path) and tells the room when it changes.
func (p *Participant) setSpeaking(v bool) {
	for {
		old := p.flags.Load()
		if (old&flagSpeaking != 0) == v || (v && old&(flagSelfMute|flagServerMute|flagNoSpeak) != 0) {
			return
		}
		if p.flags.CompareAndSwap(old, setFlag(old, flagSpeaking, v)) {
			break
		}
	}
	p.sfu.broadcast(p.ChannelID, Notice{Type: "speaking", AccountID: p.AccountID, Speaking: v})
}

// onTrack handles one incoming track (one simulcast layer of it).
func (p *Participant) onTrack(tr *webrtc.TrackRemote, recv *webrtc.RTPReceiver) {
	kind := tr.Kind().String()
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return
	}
	t := p.published[recv]
	isNew := t == nil
	if isNew {
		src := p.sources[tr.ID()]
		if src == "" {
			src = SourceMic
			if kind == "video" {
				src = SourceCamera
			}
		}
		// Track ids are the publisher's: prefix the account so two
		// publishers' ids never meet in one subscriber.
		t = newPubTrack(p, p.AccountID+":"+tr.ID(), kind, src, tr.Codec().RTPCodecCapability)
		p.published[recv] = t
	}
	p.mu.Unlock()

	level := uint8(0)
	for _, e := range recv.GetParameters().HeaderExtensions {
		if e.URI == sdp.AudioLevelURI {
			level = uint8(e.ID) //nolint:gosec // extension ids are 1-14
		}
	}
	l := t.addLayer(tr, level)
	if isNew && !p.sfu.addRoomTrack(p, t) {
		return
	}
	p.sfu.broadcastTracks(p.ChannelID)
	go t.read(l)
}

// subscribe adds a down track of t to p's subscribe connection.
func (p *Participant) subscribe(t *pubTrack) {
	if p.mesh != nil {
		p.meshSubscribe(t)
		return
	}
	// The stream id is the track id too: browsers give remote tracks
	// random ids but keep the msid's stream id, so that is what a client
	// matches against the tracks notice ("<account>:<publisher's id>").
	local, err := webrtc.NewTrackLocalStaticRTP(t.codec, t.id, t.id)
	if err != nil {
		p.sfu.log.Warn("voice: down track", "err", err)
		return
	}
	p.mu.Lock()
	if p.closed || p.down[t] != nil {
		p.mu.Unlock()
		return
	}
	sender, err := p.sub.AddTrack(local)
	if err != nil {
		p.mu.Unlock()
		p.sfu.log.Warn("voice: add down track", "err", err)
		return
	}
	d := newDownTrack(p, t, local, sender)
	p.down[t] = d
	p.mu.Unlock()
	t.addDown(d)
	go d.readRTCP()
	p.negotiate()
}

func (p *Participant) unsubscribe(t *pubTrack) {
	if p.mesh != nil {
		p.meshUnsubscribe(t)
		return
	}
	p.mu.Lock()
	d := p.down[t]
	delete(p.down, t)
	closed := p.closed
	if d != nil && !closed {
		_ = p.sub.RemoveTrack(d.sender)
	}
	p.mu.Unlock()
	if d == nil {
		return
	}
	t.removeDown(d)
	if !closed {
		p.negotiate()
	}
}

// errClosed: the track or participant is gone.
var errClosed = errors.New("voice: closed")

func ridRank(rid string) int {
	switch strings.ToLower(rid) {
	case "q", "l", "low", "0":
		return 0
	case "h", "m", "mid", "1":
		return 1
	case "f", "high", "2", "":
		return 2
	}
	return 1
}

// addRoomTrack adds p's new track t to p's room and subscribes every other
// member to it; false (nothing done) when p has left the room.
func (s *SFU) addRoomTrack(p *Participant, t *pubTrack) bool {
	s.mu.Lock()
	r := s.rooms[p.ChannelID]
	if r == nil || r.members[p.AccountID] != p {
		s.mu.Unlock()
		return false
	}
	r.tracks = append(r.tracks, t)
	var others []*Participant
	for _, o := range r.members {
		if o != p {
			others = append(others, o)
		}
	}
	s.mu.Unlock()
	for _, o := range others {
		o.subscribe(t)
	}
	return true
}
