package voice

import (
	"context"
	"errors"
	"time"
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

// GoLiveSessions reads a channel's Go Live session (*store.TogetherExtras):
// fault.NotFound when it has none.
type GoLiveSessions interface {
	GoLive(ctx context.Context, channelID string) (*GoLive, error)
}

// GoLiveRules holds the rules of a channel's Go Live that every surface
// relaying its signals follows.
type GoLiveRules struct {
	sessions GoLiveSessions
	access   Access
}

// NewGoLiveRules returns the rules over the sessions' store and the
// community's channel bits.
func NewGoLiveRules(sessions GoLiveSessions, access Access) (*GoLiveRules, error) {
	if sessions == nil || access == nil {
		return nil, errors.New("voice: Go Live rules need the sessions and the channel access")
	}
	return &GoLiveRules{sessions: sessions, access: access}, nil
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
