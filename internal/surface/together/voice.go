package together

import (
	"context"
	"crypto/hmac"
	"crypto/sha1"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/hearth-community/hearth/internal/community"
	"github.com/hearth-community/hearth/internal/fault"
	"github.com/hearth-community/hearth/internal/identity"
	"github.com/hearth-community/hearth/internal/voice"
)

// VoiceState is an account's presence in a voice channel, shared by nodes.
type VoiceState = voice.VoiceState

// VoiceStore persists voice states (internal/store/together_voice.go).
type VoiceStore interface {
	SetVoice(ctx context.Context, v *VoiceState) (prev *VoiceState, err error)
	Voice(ctx context.Context, accountID string) (*VoiceState, error)
	DeleteVoice(ctx context.Context, accountID, channelID string) (*VoiceState, error)
	VoiceIn(ctx context.Context, channelID string) ([]*VoiceState, error)
	// VoiceAccounts lists the accounts with a voice state in any channel
	// or a go-live session.
	VoiceAccounts(ctx context.Context) ([]string, error)
	UpdateVoice(ctx context.Context, v *VoiceState) error
	// SetVoiceServerMute stores a moderator's mute of the account's state.
	SetVoiceServerMute(ctx context.Context, accountID string, mute bool) (*VoiceState, error)

	// Go-live sessions, one per voice channel, shared by every node.
	// StartGoLive returns fault.Conflict when the channel has one; GoLive
	// fault.NotFound when it has none; StopGoLive ends the session only
	// if broadcasterID still holds it (fault.NotFound otherwise).
	StartGoLive(ctx context.Context, channelID string, g *GoLive) error
	GoLive(ctx context.Context, channelID string) (*GoLive, error)
	StopGoLive(ctx context.Context, channelID, broadcasterID string) error
	// GoLiveBy lists the channels where the account broadcasts.
	GoLiveBy(ctx context.Context, accountID string) ([]string, error)
}

// voiceStateDTO is Together's VoiceStateDto plus username; a leave has
// null channel_id and joined_at.
type voiceStateDTO struct {
	UserID     string     `json:"user_id"`
	ChannelID  *string    `json:"channel_id"`
	SelfMute   bool       `json:"self_mute"`
	SelfDeaf   bool       `json:"self_deaf"`
	SelfVideo  bool       `json:"self_video"`
	SelfScreen bool       `json:"self_screen"`
	ServerMute bool       `json:"server_mute"`
	ServerDeaf bool       `json:"server_deaf"`
	JoinedAt   *time.Time `json:"joined_at"`
	Username   string     `json:"username"`
}

func toVoice(v *VoiceState, left bool) voiceStateDTO {
	d := voiceStateDTO{UserID: v.UserID, SelfMute: v.SelfMute, SelfDeaf: v.SelfDeaf, SelfVideo: v.SelfVideo, SelfScreen: v.SelfScreen,
		ServerMute: v.ServerMute, ServerDeaf: v.ServerDeaf, Username: v.Username}
	if !left {
		ch, at := v.ChannelID, v.JoinedAt
		d.ChannelID, d.JoinedAt = &ch, &at
	}
	return d
}

// GoLive is a channel's Go Live session (Together's GoLiveSession).
type GoLive = voice.GoLive

// goLiveDTO is Together's GoLiveSession as its POST answers it.
type goLiveDTO struct {
	BroadcasterID string    `json:"broadcaster_id"`
	Quality       string    `json:"quality"`
	StartedAt     time.Time `json:"started_at"`
}

func (s *Surface) voiceChannel(ctx context.Context, p *identity.Principal, id string) (*community.ChannelAccess, error) {
	if s.d.Voice == nil {
		return nil, fault.New(fault.Unavailable, "Voice is not available")
	}
	ca, err := s.channelFor(ctx, p, id)
	if err != nil {
		return nil, err
	}
	if !voice.CallChannel(ca.Channel.Kind) {
		return nil, invalid("Channel is not a voice channel")
	}
	return ca, nil
}

// broadcastVoice sends VOICE_STATE_UPDATE about v (as d) to the members
// who can view its channel, and to v's own account. Together sends it to
// the whole server, which showed who joins, leaves and mutes in a channel
// hidden from a member (GET /channels/:id/voice refuses them).
func (s *Surface) broadcastVoice(ctx context.Context, v *VoiceState, d voiceStateDTO) {
	s.publishDispatch(ctx, "VOICE_STATE_UPDATE", d, s.audience(ctx, v.ChannelID, v.UserID))
}

// audience is who may hear of a call in channelID: the members who can
// view it, and also (one's own state, even in a channel one just lost).
// When the channel's viewers cannot be read, only also.
func (s *Surface) audience(ctx context.Context, channelID string, also ...string) []string {
	perms, err := s.viewers(ctx, channelID)
	if err != nil {
		if !errors.Is(err, fault.NotFound) {
			s.log.Warn("voice event: read the channel's viewers", "channel", channelID, "err", err)
		}
		return also
	}
	ids := make([]string, 0, len(perms)+len(also))
	for id, p := range perms {
		if community.CanView(p) {
			ids = append(ids, id)
		}
	}
	for _, id := range also {
		if !canView(perms, id) {
			ids = append(ids, id)
		}
	}
	return ids
}

func (s *Surface) joinVoice(w http.ResponseWriter, r *http.Request, p *identity.Principal) {
	ctx := r.Context()
	ca, err := s.voiceChannel(ctx, p, r.PathValue("channel_id"))
	if err != nil {
		s.fail(w, err)
		return
	}
	if err := ca.MayConnectVoice(); err != nil {
		if errors.Is(err, community.ErrConnectVoice) {
			err = fault.New(fault.Forbidden, "You do not have permission to join this voice channel")
		}
		s.fail(w, err)
		return
	}
	v := &VoiceState{UserID: p.Account.ID, ChannelID: ca.Channel.ID, CommunityID: ca.Community.ID, Username: p.Account.Username,
		JoinedAt: time.Now().UTC().Truncate(time.Microsecond)}
	prev, err := s.d.Voice.SetVoice(ctx, v)
	if err != nil {
		s.fail(w, err)
		return
	}
	if prev != nil && prev.ChannelID != v.ChannelID {
		s.voiceLeft(ctx, prev)
		s.meshLeft(ctx, p.Account.ID, prev.ChannelID)
	}
	cur := toVoice(v, false)
	s.broadcastVoice(ctx, v, cur)
	s.sfuFollowREST(p.Account.ID, ca.Channel.ID, false, nil, nil)
	writeJSON(w, http.StatusCreated, cur)
}

func (s *Surface) leaveVoiceHTTP(w http.ResponseWriter, r *http.Request, p *identity.Principal) {
	ctx := r.Context()
	ca, err := s.voiceChannel(ctx, p, r.PathValue("channel_id"))
	if err != nil {
		s.fail(w, err)
		return
	}
	v, err := s.d.Voice.DeleteVoice(ctx, p.Account.ID, ca.Channel.ID)
	if errors.Is(err, fault.NotFound) {
		err = fault.New(fault.NotFound, "Not in this voice channel")
	}
	if err != nil {
		s.fail(w, err)
		return
	}
	s.voiceLeft(ctx, v)
	s.sfuFollowREST(p.Account.ID, ca.Channel.ID, true, nil, nil)
	s.meshLeft(ctx, p.Account.ID, ca.Channel.ID)
	noContent(w)
}

// leaveVoice takes an account out of its call when its last socket closes
// (voice.Calls.Leave, which announces it through announceLeft).
func (s *Surface) leaveVoice(ctx context.Context, accountID string) {
	if s.d.Voice == nil {
		return
	}
	_, _ = s.d.Calls.Leave(ctx, accountID, "")
}

// voiceLeft hands a voice state the surface deleted to the call rules,
// which announce it (announceLeft) and end the account's go-live in that
// channel (announceGoLiveStop).
func (s *Surface) voiceLeft(ctx context.Context, v *VoiceState) {
	s.d.Calls.Left(ctx, v)
}

// announceLeft encodes the call rules' news of a voice state that ended as
// a leave: every member who can view its channel sees it. The rules (who
// leaves a call when, and which node tells) are voice.Calls'.
func (s *Surface) announceLeft(ctx context.Context, v *VoiceState) {
	s.broadcastVoice(ctx, v, toVoice(v, true))
}

// announceGoLiveStop encodes the call rules' news of a go-live that ended.
func (s *Surface) announceGoLiveStop(ctx context.Context, channelID, broadcasterID string) {
	s.broadcastLiveIn(ctx, channelID, "GO_LIVE_STOP", map[string]any{"channel_id": channelID, "broadcaster_id": broadcasterID})
}

// meshLeft ends the SFU's bridges for a mesh client that left a channel.
func (s *Surface) meshLeft(ctx context.Context, accountID, channelID string) {
	if s.d.SFU != nil {
		s.d.SFU.MeshLeave(ctx, accountID, channelID)
	}
}

// voicePeers lists the accounts in a channel's voice that have a gateway
// socket on some node, for the SFU's mesh bridge. One that joined through
// REST alone has nowhere to receive an offer: the bridge offered to it
// waited bridgeConnect for an answer nobody could send.
func (s *Surface) voicePeers(ctx context.Context, channelID string) ([]string, error) {
	vs, err := s.d.Voice.VoiceIn(ctx, channelID)
	if err != nil {
		return nil, err
	}
	ids := make([]string, 0, len(vs))
	for _, v := range vs {
		if s.pres.Count(v.UserID) > 0 {
			ids = append(ids, v.UserID)
		}
	}
	return ids, nil
}

// sendMeshSignal delivers the SFU's mesh signal (made on an SFU
// participant's behalf) as Together's VOICE_SIGNAL dispatch, on any node.
func (s *Surface) sendMeshSignal(ctx context.Context, to, from string, sig voice.MeshSignal) {
	d := map[string]any{"from_user_id": from, "type": sig.Type, "sdp": nil, "candidate": nil, "stream_type": "voice"}
	if sig.SDP != "" {
		d["sdp"] = sig.SDP
	}
	if sig.Candidate != "" {
		d["candidate"] = sig.Candidate
	}
	s.publishDispatch(ctx, "VOICE_SIGNAL", d, []string{to})
}

func (s *Surface) updateVoice(w http.ResponseWriter, r *http.Request, p *identity.Principal) {
	ctx := r.Context()
	ca, err := s.voiceChannel(ctx, p, r.PathValue("channel_id"))
	if err != nil {
		s.fail(w, err)
		return
	}
	var in struct {
		SelfMute   *bool `json:"self_mute"`
		SelfDeaf   *bool `json:"self_deaf"`
		SelfVideo  *bool `json:"self_video"`
		SelfScreen *bool `json:"self_screen"`
	}
	if err := decode(r, &in, true); err != nil {
		s.bad(w, err)
		return
	}
	if in.SelfMute == nil && in.SelfDeaf == nil && in.SelfVideo == nil && in.SelfScreen == nil {
		s.fail(w, invalid("At least one field (self_mute, self_deaf, self_video, or self_screen) must be provided"))
		return
	}
	v, err := s.d.Voice.Voice(ctx, p.Account.ID)
	if errors.Is(err, fault.NotFound) || (err == nil && v.ChannelID != ca.Channel.ID) {
		s.fail(w, fault.New(fault.NotFound, "Not in this voice channel"))
		return
	}
	if err != nil {
		s.fail(w, err)
		return
	}
	for _, f := range []struct {
		src *bool
		dst *bool
	}{{in.SelfMute, &v.SelfMute}, {in.SelfDeaf, &v.SelfDeaf}, {in.SelfVideo, &v.SelfVideo}, {in.SelfScreen, &v.SelfScreen}} {
		if f.src != nil {
			*f.dst = *f.src
		}
	}
	if err := s.d.Voice.UpdateVoice(ctx, v); err != nil {
		s.fail(w, err)
		return
	}
	cur := toVoice(v, false)
	s.broadcastVoice(ctx, v, cur)
	s.sfuFollowREST(p.Account.ID, ca.Channel.ID, false, in.SelfMute, in.SelfDeaf)
	writeJSON(w, http.StatusOK, cur)
}

func (s *Surface) listVoice(w http.ResponseWriter, r *http.Request, p *identity.Principal) {
	ca, err := s.voiceChannel(r.Context(), p, r.PathValue("channel_id"))
	if err != nil {
		s.fail(w, err)
		return
	}
	vs, err := s.d.Voice.VoiceIn(r.Context(), ca.Channel.ID)
	if err != nil {
		s.fail(w, err)
		return
	}
	out := make([]voiceStateDTO, len(vs))
	for i, v := range vs {
		out[i] = toVoice(v, false)
	}
	writeJSON(w, http.StatusOK, out)
}

// relaySignal forwards a WebRTC signal to a peer in the same voice channel.
func (s *Surface) relaySignal(ctx context.Context, c *client, raw json.RawMessage) {
	var in struct {
		ToUserID   string  `json:"to_user_id"`
		Type       string  `json:"type"`
		SDP        *string `json:"sdp"`
		Candidate  *string `json:"candidate"`
		StreamType *string `json:"stream_type"`
	}
	if json.Unmarshal(raw, &in) != nil {
		return
	}
	switch in.Type {
	case "offer", "answer", "candidate":
	default:
		return
	}
	if s.d.Voice == nil {
		return
	}
	from, err := s.d.Voice.Voice(ctx, c.accountID)
	if err != nil {
		return
	}
	// A mesh signal for an SFU participant is the SFU's to answer (its
	// web app speaks no mesh); Go Live's connections stay peer to peer.
	// The SFU routes it by its room's members, not by voice states: an SFU
	// participant's bridges offer as soon as it joins the room, before its
	// voice state is stored, and a quick answer used to be dropped here
	// for want of it (the bridge then never connected).
	if s.d.SFU != nil && (in.StreamType == nil || *in.StreamType == "voice") && (in.SDP == nil || len(*in.SDP) <= maxSDP) {
		sig := voice.MeshSignal{Type: in.Type}
		if in.SDP != nil {
			sig.SDP = *in.SDP
		}
		if in.Candidate != nil {
			sig.Candidate = *in.Candidate
		}
		handled, err := s.d.SFU.MeshSignal(ctx, c.accountID, from.ChannelID, in.ToUserID, sig)
		if err != nil {
			s.log.Debug("voice mesh bridge", "type", in.Type, "err", err)
		}
		if handled {
			return
		}
	}
	to, err := s.d.Voice.Voice(ctx, in.ToUserID)
	if err != nil || to.ChannelID != from.ChannelID {
		return
	}
	// A go_live signal goes only along the channel's current Go Live
	// (voice.GoLiveRules).
	if in.StreamType != nil && *in.StreamType == "go_live" && !s.goLive.MayRelaySignal(ctx, from.ChannelID, c.accountID, in.ToUserID, in.Type) {
		return
	}
	s.publishDispatch(ctx, "VOICE_SIGNAL", map[string]any{"from_user_id": c.accountID, "type": in.Type, "sdp": in.SDP,
		"candidate": in.Candidate, "stream_type": in.StreamType}, []string{in.ToUserID})
}

func (s *Surface) startGoLive(w http.ResponseWriter, r *http.Request, p *identity.Principal) {
	ctx := r.Context()
	ca, err := s.voiceChannel(ctx, p, r.PathValue("channel_id"))
	if err != nil {
		s.fail(w, err)
		return
	}
	var in struct {
		Quality *string `json:"quality"`
	}
	if r.ContentLength != 0 {
		if err := decode(r, &in, false); err != nil {
			s.bad(w, err)
			return
		}
	}
	// The rules (in the call, SPEAK, the quality, one broadcaster) are
	// voice.GoLiveRules'; Together answers a second broadcaster 400.
	g, err := s.goLive.Start(ctx, ca, in.Quality)
	if fault.KindOf(err) == fault.Conflict {
		err = invalid(fault.Message(err))
	}
	if err != nil {
		s.fail(w, err)
		return
	}
	s.broadcastLive(ctx, ca, "GO_LIVE_START", map[string]any{"channel_id": ca.Channel.ID, "broadcaster_id": g.BroadcasterID,
		"quality": g.Quality, "started_at": g.StartedAt})
	writeJSON(w, http.StatusCreated, goLiveDTO{BroadcasterID: g.BroadcasterID, Quality: g.Quality, StartedAt: g.StartedAt})
}

func (s *Surface) broadcastLive(ctx context.Context, ca *community.ChannelAccess, t string, d any) {
	s.broadcastLiveIn(ctx, ca.Channel.ID, t, d)
}

func (s *Surface) broadcastLiveIn(ctx context.Context, channelID, t string, d any) {
	s.publishDispatch(ctx, t, d, s.audience(ctx, channelID))
}

func (s *Surface) stopGoLive(w http.ResponseWriter, r *http.Request, p *identity.Principal) {
	ctx := r.Context()
	ca, err := s.voiceChannel(ctx, p, r.PathValue("channel_id"))
	if err != nil {
		s.fail(w, err)
		return
	}
	g, err := s.goLive.Stop(ctx, ca)
	switch fault.KindOf(err) {
	case fault.Forbidden:
		err = fault.New(fault.Forbidden, "Only the broadcaster can stop this session")
	case fault.NotFound:
		err = fault.New(fault.NotFound, "No active Go Live session")
	}
	if err != nil {
		s.fail(w, err)
		return
	}
	s.broadcastLive(ctx, ca, "GO_LIVE_STOP", map[string]any{"channel_id": ca.Channel.ID, "broadcaster_id": g.BroadcasterID})
	noContent(w)
}

func (s *Surface) getGoLive(w http.ResponseWriter, r *http.Request, p *identity.Principal) {
	ca, err := s.voiceChannel(r.Context(), p, r.PathValue("channel_id"))
	if err != nil {
		s.fail(w, err)
		return
	}
	g, err := s.d.Voice.GoLive(r.Context(), ca.Channel.ID)
	if errors.Is(err, fault.NotFound) {
		err = fault.New(fault.NotFound, "No active Go Live session")
	}
	if err != nil {
		s.fail(w, err)
		return
	}
	// Together's GET names the channel (its POST answers the bare
	// session, as ours does).
	writeJSON(w, http.StatusOK, map[string]any{"channel_id": ca.Channel.ID, "broadcaster_id": g.BroadcasterID,
		"quality": g.Quality, "started_at": g.StartedAt})
}

// iceServers answers Together's /ice-servers: public STUN plus TURN REST
// credentials (coturn use-auth-secret) when configured.
func (s *Surface) iceServers(w http.ResponseWriter, r *http.Request, p *identity.Principal) {
	type ice struct {
		URLs       string `json:"urls"`
		Username   string `json:"username,omitempty"`
		Credential string `json:"credential,omitempty"`
	}
	servers := []ice{{URLs: "stun:stun.l.google.com:19302"}, {URLs: "stun:stun1.l.google.com:19302"}}
	const ttl = 86400
	if len(s.d.TurnURLs) > 0 && len(s.d.TurnSecret) >= 32 {
		// The name says which account and session (or token) it was made
		// for, so that the embedded TURN server refuses it once that is
		// disabled or signed out (Together: the account's username).
		grant := ""
		if p.SessionID != "" {
			grant = "s" + p.SessionID
		} else if p.Token != nil {
			grant = "t" + p.Token.ID
		}
		user := strconv.FormatInt(time.Now().Add(ttl*time.Second).Unix(), 10) + ":" + voice.TURNName(s.d.TurnSecret, p.Account.ID, grant)
		mac := hmac.New(sha1.New, []byte(s.d.TurnSecret))
		mac.Write([]byte(user))
		cred := base64.StdEncoding.EncodeToString(mac.Sum(nil))
		for _, u := range s.d.TurnURLs {
			servers = append(servers, ice{URLs: u, Username: user, Credential: cred})
		}
	}
	writeJSON(w, http.StatusOK, map[string]any{"iceServers": servers, "ttl": ttl})
}
