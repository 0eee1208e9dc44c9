package live

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"

	"github.com/hearth-community/hearth/internal/community"
	"github.com/hearth-community/hearth/internal/fault"
	"github.com/hearth-community/hearth/internal/identity"
)

// DefaultStageRef is the value of a channel's stage_id naming the
// instance's default stage.
const DefaultStageRef = "default"

// Communities is what the stage-channel rules need from the community
// domain: a member's bits in a channel, and a channel by id.
type Communities interface {
	ChannelAccess(ctx context.Context, accountID, channelID string) (*community.ChannelAccess, error)
}

// InstanceAdmins is what the WebRTC recheck needs from identity, when the
// Communities given to NewStageChannels has it too: whether an account is
// an instance admin who may act now (not disabled, not deleted). The WHEP
// routes let an instance admin watch every stage, a member of the stage
// channel's community or not, so the recheck of a session keeps the same
// rule (recheckWebRTC).
type InstanceAdmins interface {
	InstanceAdmin(ctx context.Context, accountID string) (bool, error)
}

// ChannelLookup finds a channel, and a community, by id (community's
// store).
type ChannelLookup interface {
	Channel(ctx context.Context, id string) (*community.Channel, error)
	Community(ctx context.Context, id string) (*community.Community, error)
}

// StageLinks is the live stages behind StageChannels.
type StageLinks interface {
	EnsureStage(ctx context.Context, id, name string) (*Stage, error)
	DeleteStage(ctx context.Context, id string) error
	StageForChannel(ctx context.Context, channelID string) (string, error)
	BindChannel(ctx context.Context, channelID, stageID string) error
	ChannelsOfStage(ctx context.Context, stageID string) ([]string, error)
	Stages(ctx context.Context) ([]*Stage, error)
	DefaultStageID() string
}

// StageChannels owns the rules that back each community stage channel
// with a live stage (DESIGN.md §1): the stage has the channel's id, is
// created when the channel is (or on first use) and deleted with it; who
// may watch a stage channel's stream or manage its key; and the instance
// admin's binding of a stage channel to the default stage (the channel
// then shows Owncast's stream, and its messages are Owncast's chat).
//
// Surfaces call it (Owncast's stage routes, Together's stage_id and
// message routes); the node feeds it community events (OnCommunityEvent)
// and runs Sweep at start.
type StageChannels struct {
	live  StageLinks
	comm  Communities
	chans ChannelLookup
	log   *slog.Logger

	// viewers remembers who may view which stage channel, for the HLS
	// routes (a request every second or two per player). Any community
	// event that can change it (membership, roles, overrides, channels)
	// empties it on every node, so a ban stops the next request.
	mu      sync.Mutex
	viewers map[[2]string]bool
	gen     uint64 // bumped by forgetViewers: an answer older than it is not kept
}

// maxStageViewers bounds the viewer cache; when full it starts over.
const maxStageViewers = 10000

// NewStageChannels links stage channels to the stages of l.
func NewStageChannels(l StageLinks, comm Communities, chans ChannelLookup, log *slog.Logger) (*StageChannels, error) {
	if l == nil || comm == nil || chans == nil {
		return nil, errors.New("live: stage channels need stages and communities")
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &StageChannels{live: l, comm: comm, chans: chans, log: log}, nil
}

// OnCommunityEvent keeps stages in step with channels and forgets cached
// viewers when who may view may have changed. Every node runs it for
// every community event.
func (c *StageChannels) OnCommunityEvent(ctx context.Context, e *community.Event) {
	switch e.Type {
	case community.EvMemberKicked, community.EvMemberBanned, community.EvMemberLeft, community.EvMemberRoleAdded,
		community.EvMemberRoleRemoved, community.EvRoleUpdated, community.EvRoleDeleted, community.EvOverrideUpdated,
		community.EvOverrideDeleted, community.EvChannelUpdated, community.EvCommunityUpdated:
		c.forgetViewers()
	}
	switch e.Type {
	case community.EvChannelCreated:
		if e.Channel != nil && e.Channel.Kind == community.KindStage {
			if _, err := c.live.EnsureStage(ctx, e.Channel.ID, e.Channel.Name); err != nil {
				c.log.Warn("create the stage of a stage channel", "channel", e.Channel.ID, "err", err)
			}
		}
	case community.EvChannelDeleted:
		c.forgetViewers()
		if e.Channel != nil && e.Channel.Kind == community.KindStage {
			c.drop(ctx, e.Channel.ID)
		}
	case community.EvCommunityDeleted:
		c.forgetViewers()
		c.Sweep(ctx)
	}
	switch e.Type {
	case community.EvMemberKicked, community.EvMemberBanned, community.EvMemberLeft, community.EvMemberRoleAdded,
		community.EvMemberRoleRemoved, community.EvRoleUpdated, community.EvRoleDeleted, community.EvOverrideUpdated,
		community.EvOverrideDeleted, community.EvChannelUpdated, community.EvChannelDeleted, community.EvCommunityDeleted:
		c.recheckWebRTC(ctx, e.AccountID)
		c.recheckPublishers(ctx, e.AccountID)
	case community.EvMemberTimeout:
		// A timed-out member still watches; they stream no more.
		if e.AccountID != "" {
			c.recheckPublishers(ctx, e.AccountID)
		}
	}
}

// MayPublish is the PublishGate of stage channel keys: the key's holder
// must still manage the channel whose stage it is and not be timed out in
// its community (a member kicked, banned, demoted, disabled or timed out
// since they read the key streams no more; one whose timeout ends may
// stream again).
func (c *StageChannels) MayPublish(ctx context.Context, stageID, accountID string) error {
	ca, err := c.viewable(ctx, accountID, stageID)
	if err != nil {
		return err
	}
	if !canManage(ca) {
		return fault.New(fault.Forbidden, "streaming to the stage needs MANAGE_CHANNELS")
	}
	return ca.MayCommunicate()
}

// heldBroadcasts is the live service's broadcasts with held keys.
type heldBroadcasts interface {
	HeldBroadcasts() []HeldBroadcast
	EndHeldBroadcast(stageID, holder string) bool
}

var _ heldBroadcasts = (*Service)(nil)

// recheckPublishers ends the broadcasts on this node (of accountID's keys,
// or of every held key when "") whose key's holder may no longer stream:
// a key is checked when publishing starts, and a broadcast lasts hours.
func (c *StageChannels) recheckPublishers(ctx context.Context, accountID string) {
	h, ok := c.live.(heldBroadcasts)
	if !ok {
		return
	}
	for _, b := range h.HeldBroadcasts() {
		if accountID != "" && b.Holder != accountID {
			continue
		}
		cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		err := c.MayPublish(cctx, b.StageID, b.Holder)
		cancel()
		if k := fault.KindOf(err); err != nil && (k == fault.NotFound || k == fault.Forbidden) {
			if h.EndHeldBroadcast(b.StageID, b.Holder) {
				c.log.Info("ended a stage channel's broadcast: its key's holder may no longer stream", "stage", b.StageID, "account", b.Holder)
			}
		} else if err != nil {
			c.log.Warn("recheck a stage channel's publisher", "stage", b.StageID, "err", err)
		}
	}
}

// AccountDisabled ends what a disabled account still holds of stage
// channels on this node: its cached HLS access (its signed playlist URL
// stays valid for hours), its WHEP sessions and the broadcasts it streams
// with a held key, all checked against Communities again, which must by
// then count a disabled account as no one's member. Every node runs it
// when an account is disabled.
func (c *StageChannels) AccountDisabled(ctx context.Context, accountID string) {
	if accountID == "" {
		return
	}
	c.forgetViewers()
	c.recheckWebRTC(ctx, accountID)
	c.recheckPublishers(ctx, accountID)
}

// AccountDemoted ends what accountID held on this node only as an instance
// admin, once it is one no more (identity.DemotedTopic; the account stays
// enabled and signed in): its WHEP sessions on stage channels are checked
// again (mayWatch), so one on a channel of a community it is no member of
// ends and one it may view as a member goes on. Every node runs it on a
// demotion. (Its broadcasts need no recheck: holding and using a stage
// channel's key asks membership and the community's manage permissions,
// never the instance admin flag.)
func (c *StageChannels) AccountDemoted(ctx context.Context, accountID string) {
	if accountID == "" {
		return
	}
	c.recheckWebRTC(ctx, accountID)
}

// webrtcViewers is the live service's WHEP sessions (live.Service).
type webrtcViewers interface {
	ViewerSessions() []ViewerSession
	EndSession(stageID, id string) error
}

var _ webrtcViewers = (*Service)(nil)

// recheckWebRTC ends the WHEP sessions on this node (of accountID, or of
// everyone when "") watching a stage channel the viewer may no longer
// view: a WebRTC session is checked once, when it starts, where HLS asks
// on every request. A session opened through a channel bound to the
// default stage is checked against that channel, as that channel's HLS
// is; one opened on the default stage itself is public and is not. An
// instance admin keeps watching (mayWatch), as the session was opened.
func (c *StageChannels) recheckWebRTC(ctx context.Context, accountID string) {
	w, ok := c.live.(webrtcViewers)
	if !ok {
		return
	}
	def := c.live.DefaultStageID()
	for _, v := range w.ViewerSessions() {
		channel := v.Channel
		if channel == "" && v.StageID != def {
			channel = v.StageID // a stage channel's own stage
		}
		if channel == "" || (accountID != "" && v.AccountID != accountID) {
			continue
		}
		cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		err := c.mayWatch(cctx, v.AccountID, channel)
		cancel()
		if errors.Is(err, fault.NotFound) {
			_ = w.EndSession(v.StageID, v.ID)
		} else if err != nil {
			c.log.Warn("recheck a WebRTC viewer", "stage", v.StageID, "err", err)
		}
	}
}

// mayWatch is the rule a WHEP session through stage channel channelID
// opened under (hearthapi's Gate.Access), asked again: an instance admin
// watches every stage channel there is, a member of its community or not;
// anyone else one they may view. NotFound when they may not.
func (c *StageChannels) mayWatch(ctx context.Context, accountID, channelID string) error {
	if a, ok := c.comm.(InstanceAdmins); ok {
		admin, err := a.InstanceAdmin(ctx, accountID)
		if err != nil {
			return err
		}
		if admin {
			ch, err := c.chans.Channel(ctx, channelID)
			if errors.Is(err, fault.NotFound) || (err == nil && ch.Kind != community.KindStage) {
				return errStageChannelNotFound
			}
			return err
		}
	}
	_, err := c.viewable(ctx, accountID, channelID)
	return err
}

// drop deletes a stage channel's stage and binding.
func (c *StageChannels) drop(ctx context.Context, channelID string) {
	if err := c.live.BindChannel(ctx, channelID, ""); err != nil {
		c.log.Warn("unbind a deleted stage channel", "channel", channelID, "err", err)
	}
	if err := c.live.DeleteStage(ctx, channelID); err != nil && !errors.Is(err, fault.NotFound) {
		c.log.Warn("delete the stage of a deleted channel", "channel", channelID, "err", err)
	}
}

// Sweep deletes stages and bindings whose channel is gone (a deleted
// community takes its channels without one event each; channels deleted
// while no node ran). Every stage but the default belongs to a channel.
func (c *StageChannels) Sweep(ctx context.Context) {
	gone := func(id string) bool {
		_, err := c.chans.Channel(ctx, id)
		return errors.Is(err, fault.NotFound)
	}
	stages, err := c.live.Stages(ctx)
	if err != nil {
		return
	}
	def := c.live.DefaultStageID()
	for _, st := range stages {
		if !st.Default && st.ID != def && gone(st.ID) {
			c.drop(ctx, st.ID)
		}
		if chans, err := c.live.ChannelsOfStage(ctx, st.ID); err == nil {
			for _, ch := range chans {
				if gone(ch) {
					c.drop(ctx, ch)
				}
			}
		}
	}
}

// stageOf returns the stage of a stage channel, creating the channel's own
// stage when it has none yet (channels made before stages were linked, or
// an event this node missed).
func (c *StageChannels) stageOf(ctx context.Context, ch *community.Channel) (string, error) {
	if ch.Kind != community.KindStage {
		return "", fault.New(fault.NotFound, "not a stage channel")
	}
	id, err := c.live.StageForChannel(ctx, ch.ID)
	if err != nil {
		return "", err
	}
	if id == ch.ID {
		if _, err := c.live.EnsureStage(ctx, ch.ID, ch.Name); err != nil {
			return "", err
		}
	}
	return id, nil
}

// StageOf returns the stage of stage channel channelID when the signed-in
// account may view the channel, or with manage when it may manage the
// stage (the owner or MANAGE_CHANNELS; the default stage's key only for
// instance admins). NotFound when the account cannot see the channel.
func (c *StageChannels) StageOf(ctx context.Context, a *identity.Account, channelID string, manage bool) (string, error) {
	if a == nil {
		return "", fault.New(fault.Unauthorized, "sign in to watch a stage channel")
	}
	ca, err := c.viewable(ctx, a.ID, channelID)
	if err != nil {
		return "", err
	}
	stageID, err := c.stageOf(ctx, ca.Channel)
	if err != nil {
		return "", err
	}
	if manage {
		if !canManage(ca) {
			return "", fault.New(fault.Forbidden, "managing the stage needs MANAGE_CHANNELS")
		}
		if stageID == c.live.DefaultStageID() && !a.IsAdmin {
			return "", fault.New(fault.Forbidden, "the default stage's key is the instance admin's")
		}
	}
	return stageID, nil
}

// Access is what accountID may do with stage channel channelID: NotFound
// when they cannot see it (as StageOf), manage for its managers (the owner,
// MANAGE_CHANNELS or ADMINISTRATOR). The recordings API asks it.
func (c *StageChannels) Access(ctx context.Context, accountID, channelID string) (manage bool, err error) {
	ca, err := c.viewable(ctx, accountID, channelID)
	if err != nil {
		return false, err
	}
	return canManage(ca), nil
}

// canManage is the one rule for who manages a stage channel's stage.
func canManage(ca *community.ChannelAccess) bool {
	return ca.IsOwner || ca.Has(community.PermManageChannels) || ca.Has(community.PermAdministrator)
}

// viewable is accountID's access to stage channel channelID; NotFound when
// they cannot see it (unknown, not a member, banned, hidden by overrides).
// All of those answer errStageChannelNotFound, so that nobody tells a
// stage channel hidden from them from an id that names nothing.
func (c *StageChannels) viewable(ctx context.Context, accountID, channelID string) (*community.ChannelAccess, error) {
	ca, err := c.comm.ChannelAccess(ctx, accountID, channelID)
	if errors.Is(err, fault.NotFound) {
		return nil, errStageChannelNotFound
	}
	if err != nil {
		return nil, err
	}
	if !ca.Can(community.PermViewChannel) || ca.Channel.Kind != community.KindStage {
		return nil, errStageChannelNotFound
	}
	return ca, nil
}

var errStageChannelNotFound = fault.New(fault.NotFound, "stage channel not found")

// StageForViewer returns the stage of a stage channel accountID may still
// view (the HLS routes ask it on every request: a member banned, kicked or
// hidden from the channel stops playing it). Answers are cached until the
// next community event that can change them.
func (c *StageChannels) StageForViewer(ctx context.Context, channelID, accountID string) (string, error) {
	key := [2]string{accountID, channelID}
	c.mu.Lock()
	ok, gen := c.viewers[key], c.gen
	c.mu.Unlock()
	var ch *community.Channel
	if ok {
		got, err := c.chans.Channel(ctx, channelID)
		if errors.Is(err, fault.NotFound) {
			return "", errStageChannelNotFound
		}
		if err != nil {
			return "", err
		}
		ch = got
	} else {
		ca, err := c.viewable(ctx, accountID, channelID)
		if err != nil {
			return "", err
		}
		ch = ca.Channel
		c.mu.Lock()
		if c.gen == gen {
			if c.viewers == nil || len(c.viewers) >= maxStageViewers {
				c.viewers = map[[2]string]bool{}
			}
			c.viewers[key] = true
		}
		c.mu.Unlock()
	}
	return c.stageOf(ctx, ch)
}

// PublicStage returns the stage of a stage channel anyone may watch,
// signed in or not: one whose community is open to all (public, no invite
// needed), which anyone may join and see (a channel's WebFinger stream
// link, and anonymous players, use it). NotFound for any other channel,
// answered as for one that does not exist. Answers are cached with the
// viewers' (forgotten on the community events that can change them).
func (c *StageChannels) PublicStage(ctx context.Context, channelID string) (string, error) {
	key := [2]string{anyone, channelID}
	c.mu.Lock()
	ok, gen := c.viewers[key], c.gen
	c.mu.Unlock()
	ch, err := c.chans.Channel(ctx, channelID)
	if errors.Is(err, fault.NotFound) {
		return "", errStageChannelNotFound
	}
	if err != nil {
		return "", err
	}
	if ch.Kind != community.KindStage {
		return "", errStageChannelNotFound
	}
	if !ok {
		cm, err := c.chans.Community(ctx, ch.CommunityID)
		if errors.Is(err, fault.NotFound) {
			return "", errStageChannelNotFound
		}
		if err != nil {
			return "", err
		}
		if !cm.OpenToAll() {
			return "", errStageChannelNotFound
		}
		c.mu.Lock()
		if c.gen == gen {
			if c.viewers == nil || len(c.viewers) >= maxStageViewers {
				c.viewers = map[[2]string]bool{}
			}
			c.viewers[key] = true
		}
		c.mu.Unlock()
	}
	return c.stageOf(ctx, ch)
}

// anyone stands for the account in the viewer cache's public answers (no
// account's id is "*").
const anyone = "*"

// forgetViewers empties the viewer cache: who may view changed.
func (c *StageChannels) forgetViewers() {
	c.mu.Lock()
	c.viewers = nil
	c.gen++
	c.mu.Unlock()
}

// ChatOf returns the conversation holding a stage channel's messages: a
// stage channel bound to another stage keeps them in that stage's chat
// (stage true); any other channel keeps its own.
func (c *StageChannels) ChatOf(ctx context.Context, channelID string) (string, bool) {
	id, err := c.live.StageForChannel(ctx, channelID)
	if err != nil || id == channelID {
		return channelID, false
	}
	return id, true
}

// ChannelsOfChat lists the stage channels whose messages live in a stage
// chat.
func (c *StageChannels) ChannelsOfChat(ctx context.Context, conversationID string) []string {
	chans, err := c.live.ChannelsOfStage(ctx, conversationID)
	if err != nil {
		return nil
	}
	return chans
}

// MaySpeakInChat is the communities' rule for a line accountID says in a
// stage's chat (conversationID, the stage's id): that chat is also the
// chat of every stage channel bound to the stage, so a member timed out
// in one of those channels' communities says nothing in it
// (community.ErrTimedOut), as in the channel itself. Everyone else,
// members or not, meets the chat's own rules only: the chat is open to
// anyone the stage's admin lets in.
func (c *StageChannels) MaySpeakInChat(ctx context.Context, conversationID, accountID string) error {
	chans, err := c.live.ChannelsOfStage(ctx, conversationID)
	if err != nil {
		return err
	}
	for _, ch := range chans {
		ca, err := c.comm.ChannelAccess(ctx, accountID, ch)
		if errors.Is(err, fault.NotFound) {
			continue
		}
		if err != nil {
			return err
		}
		if err := ca.MayCommunicate(); err != nil {
			return err
		}
	}
	return nil
}

// Refusals of a stage channel's binding.
var (
	ErrBindAdmin = fault.New(fault.Forbidden, "only an instance admin binds a stage channel to a stage")
	ErrBindKind  = fault.New(fault.Invalid, "only a stage channel is bound to a stage")
	ErrStageRef  = fault.New(fault.Invalid, "a stage channel is bound to the default stage or to its own")
)

// MayBindStage checks, before anything is written, that p may bind a
// channel of kind to ref: DefaultStageRef, or nil for the channel's own
// stage. Only an instance admin binds (ErrBindAdmin), only a stage channel
// (ErrBindKind), and only to one of those two (ErrStageRef), in that
// order.
func (c *StageChannels) MayBindStage(p *identity.Principal, kind string, ref *string) error {
	if p == nil || p.Account == nil || !p.Account.IsAdmin {
		return ErrBindAdmin
	}
	if kind != community.KindStage {
		return ErrBindKind
	}
	if ref != nil && *ref != DefaultStageRef {
		return ErrStageRef
	}
	return nil
}

// BindStage lets an instance admin bind a stage channel to the default
// stage (DefaultStageRef) or back to its own ("" or the channel's id), as
// MayBindStage allows.
func (c *StageChannels) BindStage(ctx context.Context, p *identity.Principal, channelID, ref string) error {
	if p == nil || p.Account == nil || !p.Account.IsAdmin {
		return ErrBindAdmin
	}
	ch, err := c.chans.Channel(ctx, channelID)
	if err != nil {
		return err
	}
	var to *string // the channel's own
	if ref != "" && ref != channelID {
		to = &ref
	}
	if err := c.MayBindStage(p, ch.Kind, to); err != nil {
		return err
	}
	if to != nil {
		return c.live.BindChannel(ctx, channelID, c.live.DefaultStageID())
	}
	if err := c.live.BindChannel(ctx, channelID, ""); err != nil {
		return err
	}
	_, err = c.live.EnsureStage(ctx, channelID, ch.Name)
	return err
}
