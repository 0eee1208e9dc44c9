package voice

import (
	"context"
	"errors"
	"time"

	"github.com/hearth-community/hearth/internal/community"
	"github.com/hearth-community/hearth/internal/fault"
)

// GoLive is a channel's Go Live session (Together's GoLiveSession): one
// member of the channel's call streams its screen or camera to the others,
// peer to peer, over connections the members signal to each other. A
// channel has at most one; the store shares it between nodes.
type GoLive struct {
	BroadcasterID string
	Quality       string
	StartedAt     time.Time
}

// GoLiveSessions keeps the channels' Go Live sessions and reads the voice
// states (*store.TogetherExtras).
type GoLiveSessions interface {
	// Voice returns the account's voice state (fault.NotFound: in no call).
	Voice(ctx context.Context, accountID string) (*VoiceState, error)
	// StartGoLive stores a channel's session: fault.Conflict when the
	// channel has one (the store decides between nodes).
	StartGoLive(ctx context.Context, channelID string, g *GoLive) error
	// GoLive returns a channel's session: fault.NotFound when it has none.
	GoLive(ctx context.Context, channelID string) (*GoLive, error)
	// StopGoLive ends a channel's session if broadcasterID still holds it
	// (fault.NotFound otherwise), so a stop never ends a newer one.
	StopGoLive(ctx context.Context, channelID, broadcasterID string) error
}

// Go Live's refusals, in Together's words where Together refuses too.
var (
	ErrNotInCall    = fault.New(fault.Invalid, "You must be in the voice channel to go live")
	ErrQuality      = fault.New(fault.Invalid, "quality must be 480p, 720p or 1080p")
	ErrBroadcasting = fault.New(fault.Conflict, "Another user is already broadcasting in this channel")
)

// DefaultQuality is a Go Live's quality when its broadcaster names none.
const DefaultQuality = "720p"

// GoLiveRules holds the rules of a channel's Go Live that every surface
// starting, stopping or relaying one follows.
type GoLiveRules struct {
	sessions GoLiveSessions
	access   Access
	now      func() time.Time
}

// NewGoLiveRules returns the rules over the sessions' store and the
// community's channel bits.
func NewGoLiveRules(sessions GoLiveSessions, access Access) (*GoLiveRules, error) {
	if sessions == nil || access == nil {
		return nil, errors.New("voice: Go Live rules need the sessions and the channel access")
	}
	return &GoLiveRules{sessions: sessions, access: access, now: time.Now}, nil
}

// Start makes ca's account the broadcaster of ca's channel at quality
// (nil: DefaultQuality) and returns the session. As Together, only a member
// of the channel's call goes live (ErrNotInCall), at 480p, 720p or 1080p
// (ErrQuality), and one at a time (ErrBroadcasting); starting again
// replaces one's own session (a new quality). Beyond Together, it needs
// SPEAK in the channel (community.ErrGoLive): the SFU sends nothing of a
// member denied it, so that member may not stream to the call either.
func (r *GoLiveRules) Start(ctx context.Context, ca *community.ChannelAccess, quality *string) (*GoLive, error) {
	accountID, channelID := ca.AccountID, ca.Channel.ID
	if v, err := r.sessions.Voice(ctx, accountID); errors.Is(err, fault.NotFound) || (err == nil && v.ChannelID != channelID) {
		return nil, ErrNotInCall
	} else if err != nil {
		return nil, err
	}
	if err := ca.MayGoLive(); err != nil {
		return nil, err
	}
	q := DefaultQuality
	if quality != nil {
		q = *quality
	}
	if q != "480p" && q != "720p" && q != "1080p" {
		return nil, ErrQuality
	}
	g := &GoLive{BroadcasterID: accountID, Quality: q, StartedAt: r.now().UTC().Truncate(time.Microsecond)}
	err := r.sessions.StartGoLive(ctx, channelID, g)
	if errors.Is(err, fault.Conflict) {
		if cur, gerr := r.sessions.GoLive(ctx, channelID); gerr == nil && cur.BroadcasterID == accountID {
			if err = r.sessions.StopGoLive(ctx, channelID, accountID); err == nil || errors.Is(err, fault.NotFound) {
				err = r.sessions.StartGoLive(ctx, channelID, g)
			}
		}
	}
	if errors.Is(err, fault.Conflict) {
		return nil, ErrBroadcasting
	}
	if err != nil {
		return nil, err
	}
	return g, nil
}

// Stop ends the Go Live in ca's channel and returns the session it ended:
// its broadcaster or a holder of MUTE_MEMBERS there whose highest role is
// above the broadcaster's (not the owner's) stops it (community.ErrStopGoLive
// or the hierarchy's refusal otherwise); fault.NotFound when the channel has
// none, or when it ended meanwhile.
func (r *GoLiveRules) Stop(ctx context.Context, ca *community.ChannelAccess) (*GoLive, error) {
	g, err := r.sessions.GoLive(ctx, ca.Channel.ID)
	if err != nil {
		return nil, err
	}
	if err := ca.MayStopGoLive(g.BroadcasterID); err != nil {
		return nil, err
	}
	// Another's Go Live is stopped only by a moderator above them in the
	// role hierarchy, never the owner's, as the SFU's server mute and
	// disconnect (SFU.moderate).
	if g.BroadcasterID != ca.AccountID {
		ta, err := r.access.ChannelAccess(ctx, g.BroadcasterID, ca.Channel.ID)
		switch {
		case err == nil:
			if err := ca.MayModerate(ta.Access); err != nil {
				return nil, err
			}
		case fault.KindOf(err) != fault.NotFound:
			return nil, err
		}
	}
	if err := r.sessions.StopGoLive(ctx, ca.Channel.ID, g.BroadcasterID); err != nil {
		return nil, err
	}
	return g, nil
}

// MayRelaySignal says whether a Go Live signal of type typ ("offer",
// "answer" or "candidate", as MeshSignal's) from one member of channelID's
// call to another belongs to the channel's current Go Live; the caller has
// checked that both are in that call. Its connections run from the
// broadcaster to each viewer: the broadcaster offers once its session is
// stored, and a viewer answers the offer and trickles its candidates back.
// So an offer goes only from the current broadcaster while it may still go
// live (SPEAK: the recheck that ends a Go Live follows the community's
// event, this closes the gap before it), an answer only to the broadcaster,
// and a candidate only from or to it. With no session, or any other type,
// nothing goes. (Together relays any: a member who never went live, or
// whose Go Live ended, could stream to the call peer to peer under its
// name.)
func (r *GoLiveRules) MayRelaySignal(ctx context.Context, channelID, from, to, typ string) bool {
	g, err := r.sessions.GoLive(ctx, channelID)
	if err != nil {
		return false
	}
	switch typ {
	case "offer":
		if g.BroadcasterID != from {
			return false
		}
		ca, err := r.access.ChannelAccess(ctx, from, channelID)
		return err == nil && ca.MayGoLive() == nil
	case "answer":
		return g.BroadcasterID == to
	case "candidate":
		return g.BroadcasterID == from || g.BroadcasterID == to
	}
	return false
}
