package watch

import (
	"context"
	"time"

	"github.com/hearth-community/hearth/internal/fault"
)

// A room may belong to a community channel (the room behind a watch
// channel). Such a room obeys the community, not OpenTogetherTube's rules:
// only accounts that can see the channel open it, join it or act in it
// (asked of the community on every request and socket join, and again when
// membership changes); its title follows the channel's name, it stays
// unlisted, has no OpenTogetherTube owner and fixed grants (ChannelGrants),
// and it is never listed. Its settings change only through the community.

// Channels is what the watch service asks about community channels; the
// application implements it with the community service.
type Channels interface {
	// CanViewChannel reports whether accountID can see channelID
	// (membership, bans, VIEW_CHANNEL overrides); false, nil for an unknown
	// channel or a non-member.
	CanViewChannel(ctx context.Context, accountID, channelID string) (bool, error)
	// MaySend reports whether accountID may say text in channelID's room
	// as it may post it in the channel (SEND_MESSAGES, not timed out, and
	// the community's automod, counting duplicates and spam among the
	// room's chat kept as conversationID; "" text: the permission alone):
	// nil, or a Forbidden error saying why.
	MaySend(ctx context.Context, accountID, channelID, conversationID, text string) error
	// ChannelOfRoom returns the channel a room stored without a link backs
	// and the channel's name, or "" when it backs none: rooms made before
	// the link was stored are linked when they are loaded.
	ChannelOfRoom(ctx context.Context, roomName string) (channelID, title string, err error)
}

// SetChannels sets who answers for community channels. Call it before the
// service serves requests; without it a channel's room admits nobody.
func (s *Service) SetChannels(c Channels) { s.channels = c }

// ChannelGrants are the grants of a channel's room: members who can see
// the channel play, queue and chat; moderators kick; no role below
// Administrator configures the room (and no one changes its title,
// visibility or grants, which follow the channel).
func ChannelGrants() Grants {
	var g Grants
	g.m[RoleRegistered+1] = ParseMask("playback", "manage-queue", "chat")
	g.m[RoleModerator+1] = ParseMask("manage-users.promote-trusted-user", "manage-users.demote-trusted-user", "manage-users.kick")
	g.normalise()
	return g
}

// errChannelManaged refuses a change that only the community makes.
func errChannelManaged(what string) error {
	return newErr(fault.Forbidden, CodePermissionDenied,
		"Permission denied: this room belongs to a community channel; its "+what+" follows the channel and is changed in the community.")
}

// conformLocked makes a channel's room consistent with the rules above and
// reports whether anything changed. Caller holds r.mu (or owns r alone).
func (r *Room) conformLocked(channelID string) bool {
	changed := r.channel != channelID
	r.channel = channelID
	if r.visibility != Unlisted {
		r.visibility, changed = Unlisted, true
	}
	if r.ownerID != "" {
		r.ownerID, changed = "", true
	}
	if g := ChannelGrants(); r.grants != g {
		r.grants, changed = g, true
	}
	if r.temporary {
		r.temporary, changed = false, true
	}
	return changed
}

// Channel is the community channel the room belongs to, or "".
func (r *Room) Channel() string {
	if r.remote != "" {
		return ""
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.channel
}

// channelRule is the community channel whose rules a's request to r
// follows: "" for Hearth itself (a.System) and for a room of no channel.
func channelRule(r *Room, a Actor) string {
	if a.System {
		return ""
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.channel
}

// authorize refuses a who cannot see the channel the room belongs to with
// ErrRoomNotFound, so a private room's existence does not leak. Rooms of no
// channel admit everyone (OpenTogetherTube's rules apply), and so does
// Hearth itself. It must run on the node that runs r.
func (s *Service) authorize(ctx context.Context, r *Room, a Actor) error {
	ch := channelRule(r, a)
	if ch == "" {
		return nil
	}
	if !a.LoggedIn || a.AccountID == "" || s.channels == nil {
		return ErrRoomNotFound
	}
	ok, err := s.channels.CanViewChannel(ctx, a.AccountID, ch)
	if err != nil {
		return err
	}
	if !ok {
		return ErrRoomNotFound
	}
	return nil
}

// maySend refuses chat in a channel's room from an account that may not
// post in the channel (SEND_MESSAGES denied, or timed out), and text the
// community's automod blocks (and acts on), as the channel's own messages
// are refused: room chat is the channel's chat by another surface. Rooms
// of no channel follow their grants alone.
func (s *Service) maySend(ctx context.Context, r *Room, a Actor, text string) error {
	ch := channelRule(r, a)
	if ch == "" {
		return nil
	}
	if s.channels == nil {
		return ErrRoomNotFound
	}
	if err := s.channels.MaySend(ctx, a.AccountID, ch, ConversationID(r.name), text); err != nil {
		if fault.KindOf(err) == fault.Forbidden {
			return newErr(fault.Forbidden, CodePermissionDenied, "Permission denied: "+fault.Message(err))
		}
		return err
	}
	return nil
}

// Open returns room name for a: the room if a may open it, ErrRoomNotFound
// when it does not exist or belongs to a channel a cannot see. Surfaces
// open rooms with it for every request that names one.
func (s *Service) Open(ctx context.Context, name string, a Actor) (*Room, error) {
	r, err := s.Get(ctx, name)
	if err != nil {
		return nil, err
	}
	if r.remote != "" {
		if _, err := s.call(ctx, r, rpcReq{Op: "access", Actor: a}); err != nil {
			return nil, err
		}
		return r, nil
	}
	if err := s.authorize(ctx, r, a); err != nil {
		return nil, err
	}
	return r, nil
}

// Recheck closes the connections to the rooms of channelIDs (every
// channel's room when channelIDs is nil) of accountID (every account when
// "") that can no longer see the channel: a member was banned, kicked or
// left, or lost VIEW_CHANNEL through a role or override. Every node runs
// it for the rooms it runs; the close reaches the socket on whichever
// node holds it.
func (s *Service) Recheck(ctx context.Context, channelIDs []string, accountID string) {
	want := map[string]bool{}
	for _, id := range channelIDs {
		want[id] = true
	}
	for _, r := range s.Loaded() {
		r.mu.Lock()
		ch := r.channel
		var who []member
		if ch != "" && (channelIDs == nil || want[ch]) && !r.unloaded {
			for _, m := range r.members {
				if accountID == "" || m.AccountID == accountID {
					who = append(who, *m)
				}
			}
		}
		r.mu.Unlock()
		seen := map[string]error{}
		for _, m := range who {
			err, done := seen[m.AccountID]
			if !done {
				cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
				err = s.authorize(cctx, r, m.Actor)
				cancel()
				seen[m.AccountID] = err
			}
			if err == nil {
				continue
			}
			if !isNotFound(err) {
				s.log.Warn("recheck room access", "room", r.name, "err", err)
				continue
			}
			r.mu.Lock()
			if !r.unloaded && r.memberByClient(m.clientID) != nil {
				r.publishTo(m.clientID, Event{Type: EvClose, Close: CloseKicked})
			}
			r.mu.Unlock()
		}
	}
}
