package watch

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"

	"github.com/google/uuid"

	"github.com/hearth-community/hearth/internal/community"
	"github.com/hearth-community/hearth/internal/fault"
)

// RoomName is the name of the watch room behind a community watch
// channel: the channel id without dashes (32 hex characters, within
// OpenTogetherTube's 3–32 name rule). The web app opens the room by it.
func RoomName(channelID string) string { return strings.ReplaceAll(channelID, "-", "") }

// CommunityChannels backs each community watch channel with a watch room
// (DESIGN.md §1): an unlisted permanent room, owned by whoever made the
// channel, is created with the channel, retitled with it and deleted with
// it or with its community. Unlisted keeps a private community's channel
// names out of /api/room/list; the name (the channel's random id) is known
// only to those who can see the channel.
//
// The room belongs to the channel (Channels, answered here from the
// community): only those who can see the channel open it, its settings
// follow the channel, and a member who loses sight of the channel (ban,
// kick, leave, a role or override change) has their room sockets closed on
// every node.
//
// Room access is asked on every join and every room request; the answers
// are cached (who may view which watch channel) until the next community
// event that can change them, as live.StageChannels does for stage
// viewers: onEvent empties the cache on every node before it rechecks the
// rooms' members, so a ban or an override change is seen at once.
type CommunityChannels struct {
	watch *Service
	comm  *community.Service
	log   *slog.Logger
	// Access reads a member's access to a channel: comm.ChannelAccess
	// unless replaced before use (a test counts the reads).
	Access func(ctx context.Context, accountID, channelID string) (*community.ChannelAccess, error)
	// CanSend is the community's rule for posting in a channel:
	// comm.CanSend unless replaced before use.
	CanSend func(ctx context.Context, accountID, channelID string) (*community.ChannelAccess, error)

	mu      sync.Mutex
	viewers map[[2]string]bool                     // {account, channel} → may view; only "yes" is kept
	senders map[[2]string]*community.ChannelAccess // {account, channel} → its access, when it may chat; only "yes" is kept
	gen     uint64                                 // bumped by forget: an answer older than it is not kept
}

// maxWatchViewers bounds the viewer cache; when full it starts over.
const maxWatchViewers = 10000

// NewCommunityChannels makes the link; the caller hands it to
// Service.SetChannels and calls OnCommunityEvent with every community
// event the node receives.
func NewCommunityChannels(w *Service, comm *community.Service, log *slog.Logger) *CommunityChannels {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &CommunityChannels{watch: w, comm: comm, log: log, Access: comm.ChannelAccess, CanSend: comm.CanSend}
}

// forget empties the viewer cache: who may view changed.
func (l *CommunityChannels) forget() {
	l.mu.Lock()
	l.viewers = nil
	l.senders = nil
	l.gen++
	l.mu.Unlock()
}

// OnCommunityEvent runs on every node; creating and deleting are idempotent
// (Ensure ends with one room on any node, a second delete finds none).
func (l *CommunityChannels) OnCommunityEvent(ctx context.Context, e *community.Event) {
	switch e.Type {
	case community.EvMemberKicked, community.EvMemberBanned, community.EvMemberLeft, community.EvMemberRoleAdded,
		community.EvMemberRoleRemoved, community.EvRoleUpdated, community.EvRoleDeleted, community.EvOverrideUpdated,
		community.EvOverrideDeleted, community.EvChannelUpdated, community.EvChannelDeleted, community.EvCommunityDeleted,
		community.EvMemberTimeout, community.EvMemberTimeoutEnded:
		l.forget() // before the rechecks below, which ask CanViewChannel
	}
	watchChannel := e.Channel != nil && e.Channel.Kind == community.KindWatch
	switch {
	case e.Type == community.EvChannelCreated && watchChannel:
		if _, err := l.watch.Ensure(ctx, CreateInput{Name: RoomName(e.Channel.ID), Title: e.Channel.Name,
			Channel: e.Channel.ID}); err != nil {
			l.log.Warn("create the room of a watch channel", "channel", e.Channel.ID, "err", err)
		}
	case e.Type == community.EvChannelUpdated && watchChannel:
		if err := l.watch.Retitle(ctx, RoomName(e.Channel.ID), e.Channel.Name); err != nil && !errors.Is(err, fault.NotFound) {
			l.log.Warn("retitle the room of a renamed watch channel", "channel", e.Channel.ID, "err", err)
		}
		// A channel moved or re-synced with its category may hide it.
		l.watch.Recheck(ctx, []string{e.Channel.ID}, "")
	case e.Type == community.EvMemberKicked, e.Type == community.EvMemberBanned, e.Type == community.EvMemberLeft,
		e.Type == community.EvMemberRoleAdded, e.Type == community.EvMemberRoleRemoved:
		if e.AccountID != "" {
			l.watch.Recheck(ctx, l.watchChannels(ctx, e.CommunityID), e.AccountID)
		}
	case e.Type == community.EvRoleUpdated, e.Type == community.EvRoleDeleted:
		l.watch.Recheck(ctx, l.watchChannels(ctx, e.CommunityID), "")
	case e.Type == community.EvOverrideUpdated, e.Type == community.EvOverrideDeleted:
		if e.Override != nil {
			l.watch.Recheck(ctx, []string{e.Override.ChannelID}, "")
		}
	case e.Type == community.EvChannelDeleted && watchChannel:
		l.drop(ctx, e.Channel.ID)
	case e.Type == community.EvCommunityDeleted:
		for _, ch := range e.Channels {
			if ch.Kind == community.KindWatch {
				l.drop(ctx, ch.ID)
			}
		}
	}
}

// drop deletes the room of a deleted watch channel.
func (l *CommunityChannels) drop(ctx context.Context, channelID string) {
	if err := l.watch.DeleteRoom(ctx, RoomName(channelID)); err != nil && !errors.Is(err, fault.NotFound) {
		l.log.Warn("delete the room of a deleted watch channel", "channel", channelID, "err", err)
	}
}

// watchChannels returns the ids of a community's watch channels; nil (every
// channel's room) when they cannot be read, so a recheck is never skipped.
func (l *CommunityChannels) watchChannels(ctx context.Context, communityID string) []string {
	chans, err := l.comm.Store().Channels(ctx, communityID)
	if err != nil {
		return nil
	}
	ids := []string{}
	for _, ch := range chans {
		if ch.Kind == community.KindWatch {
			ids = append(ids, ch.ID)
		}
	}
	return ids
}

// CanViewChannel implements Channels: a member who holds VIEW_CHANNEL
// in the watch channel (bans and kicks remove membership; overrides count).
// A "yes" is cached until the next community event that can change it.
func (l *CommunityChannels) CanViewChannel(ctx context.Context, accountID, channelID string) (bool, error) {
	key := [2]string{accountID, channelID}
	l.mu.Lock()
	ok, gen := l.viewers[key], l.gen
	l.mu.Unlock()
	if ok {
		return true, nil
	}
	ca, err := l.Access(ctx, accountID, channelID)
	if errors.Is(err, fault.NotFound) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	if ca.Channel.Kind != community.KindWatch || !ca.Can(community.PermViewChannel) {
		return false, nil
	}
	l.mu.Lock()
	if l.gen == gen {
		if l.viewers == nil || len(l.viewers) >= maxWatchViewers {
			l.viewers = map[[2]string]bool{}
		}
		l.viewers[key] = true
	}
	l.mu.Unlock()
	return true, nil
}

// MaySend implements Channels: the community's own rule for posting in
// the channel (community.Service.CanSend), then its automod on the text
// (community.Service.CheckChat, asked for every line: what it blocks
// depends on the words, and it may act). A "yes" of the first is cached
// as viewers are, until the next community event that can change it (a
// timeout included); a timeout that runs out is asked again.
func (l *CommunityChannels) MaySend(ctx context.Context, accountID, channelID, conversationID, text string) error {
	key := [2]string{accountID, channelID}
	l.mu.Lock()
	ca, gen := l.senders[key], l.gen
	l.mu.Unlock()
	if ca == nil {
		if l.CanSend == nil {
			return fault.New(fault.Forbidden, "You don't have permission to send messages in this channel")
		}
		var err error
		if ca, err = l.CanSend(ctx, accountID, channelID); err != nil {
			return err
		}
		// A timeout that ended allows it now, but is not remembered.
		if ca.TimeoutUntil == nil {
			l.mu.Lock()
			if l.gen == gen {
				if l.senders == nil || len(l.senders) >= maxWatchViewers {
					l.senders = map[[2]string]*community.ChannelAccess{}
				}
				l.senders[key] = ca
			}
			l.mu.Unlock()
		}
	}
	if text == "" {
		return nil
	}
	return l.comm.CheckChat(ctx, ca, conversationID, text)
}

// ChannelOfRoom implements Channels: a room named after a watch
// channel's id (RoomName) is that channel's.
func (l *CommunityChannels) ChannelOfRoom(ctx context.Context, roomName string) (string, string, error) {
	id, err := uuid.Parse(roomName)
	if err != nil || len(roomName) != 32 {
		return "", "", nil
	}
	ch, err := l.comm.Store().Channel(ctx, id.String())
	if errors.Is(err, fault.NotFound) {
		return "", "", nil
	}
	if err != nil {
		return "", "", err
	}
	if ch.Kind != community.KindWatch || RoomName(ch.ID) != strings.ToLower(roomName) {
		return "", "", nil
	}
	return ch.ID, ch.Name, nil
}
