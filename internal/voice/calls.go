package voice

// The rules of who stays in a channel's call. A voice state (and a Go Live
// session) lives in the store every node shares; what ends it is decided
// here, not in a surface: a member who leaves the community (or is kicked
// or banned) leaves its call there; a role, member role, override or
// channel change that takes VIEW_CHANNEL or CONNECT away, or a timeout,
// takes the member out of the call, and one that takes SPEAK away ends its Go Live; leaving
// a call ends one's Go Live in it; an account connected nowhere is in no
// call and streams to none. The SFU applies the same rules to the rooms it
// runs (SFU.OnCommunityEvent); these keep the shared states true for the
// mesh clients and for everyone's list of who is in a call.
//
// Every node runs the rules for every event, and the stores' deletes are
// conditional: the one node whose delete removes the state (or session)
// tells the surfaces (CallNews), so a leave is announced exactly once
// across the cluster.

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"

	"github.com/hearth-community/hearth/internal/community"
	"github.com/hearth-community/hearth/internal/fault"
)

// CallStore keeps the voice states and Go Live sessions every node shares
// (*store.TogetherExtras).
type CallStore interface {
	// Voice returns the account's voice state (fault.NotFound: in no call).
	Voice(ctx context.Context, accountID string) (*VoiceState, error)
	// DeleteVoice removes the account's state in channelID ("": in any
	// channel) and returns it; fault.NotFound when there was none, so of
	// nodes racing to delete it exactly one gets it.
	DeleteVoice(ctx context.Context, accountID, channelID string) (*VoiceState, error)
	// VoiceIn lists the states in a channel's call.
	VoiceIn(ctx context.Context, channelID string) ([]*VoiceState, error)
	// GoLive returns a channel's session: fault.NotFound when it has none.
	GoLive(ctx context.Context, channelID string) (*GoLive, error)
	// StopGoLive ends a channel's session if broadcasterID still holds it
	// (fault.NotFound otherwise).
	StopGoLive(ctx context.Context, channelID, broadcasterID string) error
	// GoLiveBy lists the channels where the account broadcasts.
	GoLiveBy(ctx context.Context, accountID string) ([]string, error)
}

// ChannelLister lists a community's channels (community.Store).
type ChannelLister interface {
	Channels(ctx context.Context, communityID string) ([]*community.Channel, error)
}

// CallNews is how a surface hears what ended, to announce it in its own
// protocol. Only the node whose store write ended the state or session
// calls it, so each is told once across the cluster.
type CallNews struct {
	// Left: v's state was deleted (v as it was).
	Left func(ctx context.Context, v *VoiceState)
	// GoLiveStopped: broadcasterID's Go Live in channelID ended.
	GoLiveStopped func(ctx context.Context, channelID, broadcasterID string)
}

// CallsConfig is what the call rules work over.
type CallsConfig struct {
	Store    CallStore
	Access   Access        // the community's channel bits
	Channels ChannelLister // the community's channels
	// SFU, when there is one, ends a mesh client's bridges as it leaves.
	SFU *SFU
	Log *slog.Logger
}

// Calls applies the rules of who stays in a call to the shared voice
// states and Go Live sessions, and tells the surfaces what it ended.
type Calls struct {
	cfg  CallsConfig
	log  *slog.Logger
	mu   sync.RWMutex
	news []CallNews
}

// callTimeout bounds the work one event or disconnect sets off.
const callTimeout = 10 * time.Second

// NewCalls returns the call rules over cfg.
func NewCalls(cfg CallsConfig) (*Calls, error) {
	if cfg.Store == nil || cfg.Access == nil || cfg.Channels == nil {
		return nil, errors.New("voice: the call rules need the store, the channel access and the channel list")
	}
	log := cfg.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Calls{cfg: cfg, log: log}, nil
}

// Listen adds a surface's news. Call it while wiring, before events flow.
func (c *Calls) Listen(n CallNews) {
	c.mu.Lock()
	c.news = append(c.news, n)
	c.mu.Unlock()
}

func (c *Calls) tellLeft(ctx context.Context, v *VoiceState) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	for _, n := range c.news {
		if n.Left != nil {
			n.Left(ctx, v)
		}
	}
}

func (c *Calls) tellGoLiveStopped(ctx context.Context, channelID, broadcasterID string) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	for _, n := range c.news {
		if n.GoLiveStopped != nil {
			n.GoLiveStopped(ctx, channelID, broadcasterID)
		}
	}
}

// Left announces v, a state just deleted by the caller, and ends the Go
// Live its account held in that channel. (Together leaves the Go Live
// running; since only someone in the call may go live, nobody could start
// another there until the broadcaster came back and stopped it.)
func (c *Calls) Left(ctx context.Context, v *VoiceState) {
	c.tellLeft(ctx, v)
	if c.cfg.Store.StopGoLive(ctx, v.ChannelID, v.UserID) == nil {
		c.tellGoLiveStopped(ctx, v.ChannelID, v.UserID)
	}
}

// Leave takes accountID out of its call in channelID ("": whichever it is
// in): the state goes, the leave is announced (Left), and the SFU ends the
// bridges of its mesh client there. fault.NotFound when it was in none (or
// another node took it out first).
func (c *Calls) Leave(ctx context.Context, accountID, channelID string) (*VoiceState, error) {
	v, err := c.cfg.Store.DeleteVoice(ctx, accountID, channelID)
	if err != nil {
		return nil, err
	}
	c.Left(ctx, v)
	if c.cfg.SFU != nil {
		c.cfg.SFU.MeshLeave(ctx, accountID, v.ChannelID)
	}
	return v, nil
}

// Disconnected takes an account connected nowhere (its last socket closed
// on every node, its node died with its sockets, or its sessions were
// revoked) out of its call and ends its Go Live sessions: without it a
// member joined over REST alone, or held by a dead node, stayed listed in
// the call for good, and nobody else could go live in the channel until a
// moderator stopped the session.
func (c *Calls) Disconnected(ctx context.Context, accountID string) {
	_, _ = c.Leave(ctx, accountID, "")
	c.endGoLive(ctx, accountID)
}

// endGoLive stops every Go Live session of accountID.
func (c *Calls) endGoLive(ctx context.Context, accountID string) {
	chs, err := c.cfg.Store.GoLiveBy(ctx, accountID)
	if err != nil {
		return
	}
	for _, id := range chs {
		if c.cfg.Store.StopGoLive(ctx, id, accountID) != nil {
			continue // another node stopped it first
		}
		c.tellGoLiveStopped(ctx, id, accountID)
	}
}

// OnCommunityEvent applies the rules to what a community event may have
// made wrong; every node runs it for every community event.
func (c *Calls) OnCommunityEvent(ctx context.Context, e *community.Event) {
	ctx, cancel := context.WithTimeout(ctx, callTimeout)
	defer cancel()
	switch e.Type {
	case community.EvMemberLeft, community.EvMemberKicked, community.EvMemberBanned:
		c.dropIn(ctx, e.AccountID, e.CommunityID)
	case community.EvMemberRoleAdded, community.EvMemberRoleRemoved, community.EvMemberTimeout:
		if v, err := c.cfg.Store.Voice(ctx, e.AccountID); err == nil && v.CommunityID == e.CommunityID {
			c.recheck(ctx, []*VoiceState{v})
		}
	case community.EvRoleUpdated, community.EvRoleDeleted:
		chans, err := c.cfg.Channels.Channels(ctx, e.CommunityID)
		if err != nil {
			c.log.Warn("voice recheck: channels", "community", e.CommunityID, "err", err)
			return
		}
		for _, ch := range chans {
			if CallChannel(ch.Kind) {
				c.recheckIn(ctx, ch.ID)
			}
		}
	case community.EvOverrideUpdated, community.EvOverrideDeleted:
		if e.Override != nil {
			c.recheckIn(ctx, e.Override.ChannelID)
		}
	case community.EvChannelUpdated, community.EvChannelDeleted:
		if e.Channel != nil {
			c.recheckIn(ctx, e.Channel.ID)
		}
	}
}

// dropIn takes an account that is no longer a member of communityID (it
// left, or was kicked or banned) out of its call there.
func (c *Calls) dropIn(ctx context.Context, accountID, communityID string) {
	if accountID == "" {
		return
	}
	v, err := c.cfg.Store.Voice(ctx, accountID)
	if err != nil || v.CommunityID != communityID {
		return
	}
	_, _ = c.Leave(ctx, accountID, v.ChannelID)
}

func (c *Calls) recheckIn(ctx context.Context, channelID string) {
	vs, err := c.cfg.Store.VoiceIn(ctx, channelID)
	if err != nil {
		c.log.Warn("voice recheck: voice states", "channel", channelID, "err", err)
		return
	}
	c.recheck(ctx, vs)
}

// recheck takes out of its call each of vs whose account may no longer be
// in it: VIEW_CHANNEL and CONNECT, the rule of joining (the SFU's and the
// surfaces'); and ends the Go Live of one who stays without SPEAK (the rule
// of starting it, GoLiveRules.Start), as a stage key follows its holder.
func (c *Calls) recheck(ctx context.Context, vs []*VoiceState) {
	live := map[string]string{} // channel → its broadcaster ("" none)
	for _, v := range vs {
		ca, err := c.cfg.Access.ChannelAccess(ctx, v.UserID, v.ChannelID)
		switch k := fault.KindOf(err); {
		case err == nil && ca.Can(community.PermViewChannel) && ca.MayConnectVoice() == nil:
			if ca.MayGoLive() != nil {
				c.stopGoLiveOf(ctx, live, v)
			}
			continue
		case err != nil && k != fault.NotFound && k != fault.Forbidden:
			c.log.Warn("voice recheck", "account", v.UserID, "channel", v.ChannelID, "err", err)
			continue
		}
		_, _ = c.Leave(ctx, v.UserID, v.ChannelID)
	}
}

// stopGoLiveOf ends v's account's Go Live in v's channel, if it holds it
// (live caches each channel's broadcaster for one recheck).
func (c *Calls) stopGoLiveOf(ctx context.Context, live map[string]string, v *VoiceState) {
	b, ok := live[v.ChannelID]
	if !ok {
		if g, err := c.cfg.Store.GoLive(ctx, v.ChannelID); err == nil {
			b = g.BroadcasterID
		}
		live[v.ChannelID] = b
	}
	if b != v.UserID || c.cfg.Store.StopGoLive(ctx, v.ChannelID, v.UserID) != nil {
		return // not theirs, or another node stopped it first
	}
	c.tellGoLiveStopped(ctx, v.ChannelID, v.UserID)
}
