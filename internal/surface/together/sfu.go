package together

// VOICE_SFU is Hearth's extension op on Together's gateway: the signalling
// of the voice SFU (internal/voice) for Hearth's web app. Together's own
// clients never send it and so never receive its dispatches; they keep the
// mesh (VOICE_SIGNAL) and see SFU participants through VOICE_STATE_UPDATE
// like anyone else (docs/compatibility.md).
//
// Client → server: {"op":"VOICE_SFU","d":{"type":…}} with type
//
//	join        {channel_id}                     join the channel's room (sets the voice state)
//	publish     {sdp, sources: {track_id: mic|camera|screen}} → answer {sdp}
//	answer      {sdp}                            the answer to the server's offer
//	state       {self_mute?, self_deaf?, self_video?, self_screen?}
//	layer       {track_id, layer: 0|1|2}         highest simulcast layer wanted
//	server_mute {user_id, mute}                  MUTE_MEMBERS
//	disconnect  {user_id}                        MUTE_MEMBERS (Together has no MOVE_MEMBERS)
//	leave       {}
//
// Server → client: DISPATCH t=VOICE_SFU, d.type one of joined, answer,
// offer, tracks, participants, speaking, layer, closed, error {op, status,
// message}. Each join on a socket starts a session numbered from 1 on that
// socket; its notices and the join's reply (joined, or error with op join)
// carry the number as session, so a client that left a call and joined
// again tells the notices of the call it left (a late closed, an offer)
// from those of the new one.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/hearth-community/hearth/internal/fault"
	"github.com/hearth-community/hearth/internal/voice"
)

type sfuIn struct {
	Type       string            `json:"type"`
	ChannelID  string            `json:"channel_id"`
	SDP        string            `json:"sdp"`
	Sources    map[string]string `json:"sources"`
	SelfMute   *bool             `json:"self_mute"`
	SelfDeaf   *bool             `json:"self_deaf"`
	SelfVideo  *bool             `json:"self_video"`
	SelfScreen *bool             `json:"self_screen"`
	TrackID    string            `json:"track_id"`
	Layer      *int              `json:"layer"`
	UserID     string            `json:"user_id"`
	Mute       bool              `json:"mute"`
}

type sfuTrack struct {
	UserID  string `json:"user_id"`
	TrackID string `json:"track_id"`
	Kind    string `json:"kind"`
	Source  string `json:"source"`
	Layers  int    `json:"layers"`
	Muted   bool   `json:"muted"`
}

type sfuMember struct {
	UserID     string `json:"user_id"`
	SelfMute   bool   `json:"self_mute"`
	SelfDeaf   bool   `json:"self_deaf"`
	ServerMute bool   `json:"server_mute"`
	Speaking   bool   `json:"speaking"`
}

// maxSDP bounds an offer or answer (a browser's is a few kilobytes).
const maxSDP = 64 << 10

func (s *Surface) sfuReply(c *client, d map[string]any) {
	c.conn.Reply(frame("VOICE_SFU", d))
}

func (s *Surface) sfuError(c *client, op string, err error) { s.sfuSessionError(c, op, err, 0) }

// sfuSessionError is sfuError carrying the session of a join (0: none).
func (s *Surface) sfuSessionError(c *client, op string, err error, session int64) {
	k := fault.KindOf(err)
	msg := fault.Message(err)
	if k == fault.Internal {
		s.log.Warn("voice sfu", "op", op, "err", err)
		msg = "Internal server error"
	}
	d := map[string]any{"type": "error", "op": op, "status": statusOf(k), "message": msg}
	if session != 0 {
		d["session"] = session
	}
	s.sfuReply(c, d)
}

// sfuNotice encodes one SFU notice for the client that joined.
func sfuNotice(n voice.Notice) map[string]any {
	d := map[string]any{"type": n.Type}
	switch n.Type {
	case "offer":
		d["sdp"] = n.SDP
	case "tracks":
		ts := make([]sfuTrack, len(n.Tracks))
		for i, t := range n.Tracks {
			ts[i] = sfuTrack{UserID: t.AccountID, TrackID: t.TrackID, Kind: t.Kind, Source: t.Source, Layers: t.Layers, Muted: t.Muted}
		}
		d["tracks"] = ts
	case "participants":
		d["participants"] = sfuMembers(n.Participants)
	case "speaking":
		d["user_id"], d["speaking"] = n.AccountID, n.Speaking
	case "layer":
		d["track_id"], d["layer"] = n.TrackID, n.Layer
	case "closed":
		d["reason"] = n.Reason
	}
	return d
}

func sfuMembers(ps []voice.ParticipantInfo) []sfuMember {
	out := make([]sfuMember, len(ps))
	for i, p := range ps {
		out[i] = sfuMember{UserID: p.AccountID, SelfMute: p.SelfMute, SelfDeaf: p.SelfDeaf, ServerMute: p.ServerMute, Speaking: p.Speaking}
	}
	return out
}

// onSFU handles one VOICE_SFU frame.
func (s *Surface) onSFU(ctx context.Context, c *client, raw json.RawMessage) {
	var in sfuIn
	if json.Unmarshal(raw, &in) != nil {
		s.sfuError(c, "", fault.New(fault.Invalid, "d must be an object"))
		return
	}
	var session int64
	if in.Type == "join" {
		session = c.sfuJoins.Add(1)
	}
	if s.d.SFU == nil {
		s.sfuSessionError(c, in.Type, fault.New(fault.Unavailable, "The voice SFU is not running on this server (--rtc-udp-addr is not set)"), session)
		return
	}
	if len(in.SDP) > maxSDP {
		s.sfuError(c, in.Type, fault.New(fault.Invalid, "sdp is too long"))
		return
	}
	if in.Type == "join" || in.Type == "state" {
		// Paced with the REST voice routes (VoiceStatesPerSec): a join is
		// a peer connection, and each an event to the channel's viewers.
		if d := s.voiceRL.Allow(c.accountID, 1); !d.Allowed {
			err := &fault.Error{Kind: fault.RateLimited, RetryAfter: d.RetryAfter,
				Msg: fmt.Sprintf("You are changing voice state too quickly. Max %d changes/second.", VoiceStatesPerSec)}
			s.sfuSessionError(c, in.Type, err, session)
			return
		}
	}
	var err error
	switch in.Type {
	case "join":
		if err := s.sfuJoin(ctx, c, in.ChannelID, session); err != nil {
			s.sfuSessionError(c, "join", err, session)
		}
		return
	case "leave":
		err = s.sfuLeave(ctx, c)
	case "server_mute":
		err = s.d.SFU.ServerMute(ctx, c.accountID, in.UserID, in.Mute)
		if err == nil {
			s.sfuServerMute(ctx, in.UserID, in.Mute)
		}
	case "disconnect":
		err = s.d.SFU.Disconnect(ctx, c.accountID, in.UserID)
		if err == nil {
			s.dropVoice(ctx, in.UserID)
		}
	case "publish", "answer", "state", "layer":
		p := c.sfu.Load()
		if p == nil {
			err = fault.New(fault.NotFound, "Not in a voice channel")
			break
		}
		switch in.Type {
		case "publish":
			var answer string
			if answer, err = p.Publish(ctx, in.SDP, in.Sources); err == nil {
				s.sfuReply(c, map[string]any{"type": "answer", "sdp": answer})
			}
		case "answer":
			err = p.Answer(in.SDP)
		case "layer":
			if in.Layer == nil {
				err = fault.New(fault.Invalid, "layer is required")
			} else {
				err = p.SetLayer(in.TrackID, *in.Layer)
			}
		case "state":
			mute, deaf := p.Self()
			if in.SelfMute != nil {
				mute = *in.SelfMute
			}
			if in.SelfDeaf != nil {
				deaf = *in.SelfDeaf
			}
			p.SetSelf(mute, deaf)
			s.sfuVoiceState(ctx, c.accountID, func(v *VoiceState) {
				v.SelfMute, v.SelfDeaf = mute, deaf
				if in.SelfVideo != nil {
					v.SelfVideo = *in.SelfVideo
				}
				if in.SelfScreen != nil {
					v.SelfScreen = *in.SelfScreen
				}
			})
		}
	default:
		err = fault.New(fault.Invalid, "unknown VOICE_SFU type")
	}
	if err != nil {
		s.sfuError(c, in.Type, err)
	}
}

// sfuJoin joins the room, then records the voice state so every client,
// Together's included, sees the participant.
func (s *Surface) sfuJoin(ctx context.Context, c *client, channelID string, session int64) error {
	if s.d.Voice == nil {
		return fault.New(fault.Unavailable, "Voice is not available")
	}
	p, err := s.d.SFU.Join(ctx, c.accountID, channelID, func(n voice.Notice) {
		if n.Type == "closed" {
			if cur := c.sfu.Load(); cur != nil && cur.Closed() {
				c.sfu.CompareAndSwap(cur, nil)
			}
			if strings.HasPrefix(n.Reason, "connection ") {
				// The media connection failed or closed under the member
				// (a network change, a closed tab whose socket lingers):
				// they are out of the call, so out of its voice state too,
				// unless they are back in the room already.
				go s.sfuLost(c.accountID, channelID)
			}
		}
		d := sfuNotice(n)
		d["session"] = session
		s.sfuReply(c, d)
	})
	if err != nil {
		return err
	}
	c.sfu.Store(p)
	ca, err := s.d.Community.ChannelAccess(ctx, c.accountID, channelID)
	if err != nil {
		_ = p.Leave()
		return err
	}
	prev, _ := s.d.Voice.Voice(ctx, c.accountID)
	if prev != nil && prev.ServerMute {
		// A moderator's mute stays with the account (Together keeps it
		// across a switch), so it holds in the new room too.
		p.KeepServerMute()
	}
	if prev == nil || prev.ChannelID != channelID {
		v := &VoiceState{UserID: c.accountID, ChannelID: channelID, CommunityID: ca.Community.ID, Username: c.username,
			JoinedAt: time.Now().UTC().Truncate(time.Microsecond)}
		old, err := s.d.Voice.SetVoice(ctx, v)
		if err != nil {
			_ = p.Leave()
			return err
		}
		if old != nil && old.ChannelID != v.ChannelID {
			s.voiceLeft(ctx, old)
		}
		s.broadcastVoice(ctx, v, toVoice(v, false))
	}
	s.sfuReply(c, map[string]any{"type": "joined", "session": session, "channel_id": channelID, "participants": sfuMembers(s.d.SFU.Members(channelID))})
	return nil
}

func (s *Surface) sfuLeave(ctx context.Context, c *client) error {
	p := c.sfu.Swap(nil)
	if p == nil {
		// The room closed this socket's session beneath it (its node shut
		// down, a moderator, a lost connection) and the client hangs up:
		// the leave still takes the account out of the call, unless it is
		// in an SFU room through another socket.
		if _, err := s.d.SFU.Participant(c.accountID); err == nil {
			return fault.New(fault.NotFound, "Not in a voice channel")
		}
		if !s.dropVoice(ctx, c.accountID) {
			return fault.New(fault.NotFound, "Not in a voice channel")
		}
		return nil
	}
	_ = p.Leave()
	s.dropVoice(ctx, c.accountID)
	return nil
}

// sfuLost takes an account whose SFU connection failed out of the voice
// state of channelID, unless it has joined an SFU room again since.
func (s *Surface) sfuLost(accountID, channelID string) {
	if s.d.Voice == nil {
		return
	}
	if _, err := s.d.SFU.Participant(accountID); err == nil {
		return
	}
	ctx, cancel := context.WithTimeout(s.bg, 10*time.Second)
	defer cancel()
	if v, err := s.d.Voice.DeleteVoice(ctx, accountID, channelID); err == nil {
		if p, err := s.d.SFU.Participant(accountID); err == nil && p.ChannelID == channelID {
			// Back in the room between the check above and the delete (its
			// join saw the old state and set none): keep them in the call.
			if _, err := s.d.Voice.SetVoice(ctx, v); err == nil {
				return
			}
		}
		s.voiceLeft(ctx, v)
	}
}

// sfuClosed ends a socket's SFU session when the socket closes.
func (s *Surface) sfuClosed(c *client) {
	if p := c.sfu.Swap(nil); p != nil {
		_ = p.Leave()
	}
}

// dropVoice removes an account's voice state and announces the leave. It
// reports whether there was a state to remove.
func (s *Surface) dropVoice(ctx context.Context, accountID string) bool {
	if s.d.Voice == nil {
		return false
	}
	v, err := s.d.Voice.DeleteVoice(ctx, accountID, "")
	if err != nil {
		return false
	}
	s.voiceLeft(ctx, v)
	return true
}

// sfuVoiceState applies change to an account's voice state and announces
// it; no state, nothing to announce.
func (s *Surface) sfuVoiceState(ctx context.Context, accountID string, change func(v *VoiceState)) {
	if s.d.Voice == nil {
		return
	}
	v, err := s.d.Voice.Voice(ctx, accountID)
	if err != nil {
		return
	}
	change(v)
	if s.d.Voice.UpdateVoice(ctx, v) == nil {
		s.broadcastVoice(ctx, v, toVoice(v, false))
	}
}

// sfuServerMute stores a moderator's mute in the account's voice state
// (kept across channel switches) and tells the community.
func (s *Surface) sfuServerMute(ctx context.Context, accountID string, mute bool) {
	if s.d.Voice == nil {
		return
	}
	if v, err := s.d.Voice.SetVoiceServerMute(ctx, accountID, mute); err == nil {
		s.broadcastVoice(ctx, v, toVoice(v, false))
	}
}

// sfuFollowREST keeps the SFU in step with Together's REST voice routes:
// a PATCH of self_mute/self_deaf reaches the room, and a leave (or a join
// elsewhere) takes the account out of it.
func (s *Surface) sfuFollowREST(accountID, channelID string, left bool, mute, deaf *bool) {
	if s.d.SFU == nil {
		return
	}
	p, err := s.d.SFU.Participant(accountID)
	if errors.Is(err, fault.NotFound) || err != nil {
		return
	}
	if left || p.ChannelID != channelID {
		_ = p.Leave()
		return
	}
	m, d := p.Self()
	if mute != nil {
		m = *mute
	}
	if deaf != nil {
		d = *deaf
	}
	p.SetSelf(m, d)
}
