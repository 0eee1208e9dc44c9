// Package stagechat owns the rules of a live stage's chat (Owncast's chat):
// chat users and their profile (name, colour, previous names, moderator
// scope), chat access tokens, sending rules (chat disabled, established-user
// mode, flood limits, name rules), moderation (hide/show, disable users, IP
// bans), presence with coalesced join/part announcements, the page settings
// of the instance, and custom emoji. Messages themselves are stored in the
// one message store (package messages); this package decides who may post
// what and publishes its own events (presence, name changes, disables) on
// the bus. It knows no wire format.
package stagechat

import (
	"context"
	"net/netip"
	"slices"
	"time"

	"github.com/hearth-community/hearth/internal/identity"
	"github.com/hearth-community/hearth/internal/messages"
	"github.com/hearth-community/hearth/internal/ratelimit"
)

// ModeratorScope is the scope that makes a chat user a moderator.
const ModeratorScope = "MODERATOR"

// User is a chat user: a Hearth account plus its chat profile.
type User struct {
	ID              string
	DisplayName     string
	DisplayColor    int
	CreatedAt       time.Time
	DisabledAt      *time.Time
	NameChangedAt   *time.Time
	AuthenticatedAt *time.Time
	PreviousNames   []string
	Scopes          []string
	IsBot           bool
}

// IsModerator reports whether the user holds the MODERATOR scope.
func (u *User) IsModerator() bool { return slices.Contains(u.Scopes, ModeratorScope) }

// Disabled reports whether the user may not chat.
func (u *User) Disabled() bool { return u.DisabledAt != nil }

// IPBan is one banned client address. IP is the address as banned (and
// listed); the ban covers BanNet(IP).
type IPBan struct {
	IP        string
	Notes     string
	CreatedAt time.Time
}

// BanNet is the network a ban of ip covers, and the one an address is
// looked up by: an IPv6 address's /64 (one host normally holds a whole
// /64, so a ban of one address alone is sidestepped by the next), an IPv4
// address itself. It is ratelimit.AddrKey, the key every per-address bound
// counts by, and is stored beside each ban.
func BanNet(ip string) string { return ratelimit.AddrKey(ip) }

// BanCovers reports whether a ban of ban (an address as banned) covers the
// client address addr: both are addresses and addr is in BanNet(ban).
func BanCovers(ban, addr string) bool {
	b, err := netip.ParseAddr(ban)
	if err != nil {
		return false
	}
	a, err := netip.ParseAddr(addr)
	if err != nil {
		return false
	}
	return BanNet(b.Unmap().String()) == BanNet(a.Unmap().String())
}

// UserFilter selects users for admin lists.
type UserFilter int

// User filters.
const (
	Moderators UserFilter = iota + 1
	DisabledUsers
)

// UserQuery selects a page of the admin user list (Owncast 0.2's
// /api/admin/users): Search matches the display name (case-insensitive
// substring), Status is one of the UserStatus values, newest first unless
// Oldest.
type UserQuery struct {
	Offset, Limit int
	Search        string
	Status        string
	Oldest        bool
}

// UserQuery statuses.
const (
	UserStatusAll           = "all"
	UserStatusActive        = "active" // not disabled
	UserStatusBots          = "bots"
	UserStatusAuthenticated = "authenticated"
	UserStatusModerators    = "moderators"
	UserStatusBanned        = "banned" // disabled
)

// MaxUserPage is the largest page of the admin user list.
const MaxUserPage = 200

// Store is what the chat needs from persistence. Lookups that match nothing
// return fault.NotFound.
type Store interface {
	// SaveUser inserts or updates the chat profile of u.ID (an account).
	SaveUser(ctx context.Context, u *User) error
	// ClaimName is SaveUser for a name u takes by choice (a guest's
	// sign-up, a rename): ErrNameTaken when another chat user has it
	// (ignoring case), looked up and saved in one step, so of the users
	// taking one name at once only one gets it.
	ClaimName(ctx context.Context, u *User) error
	// User returns the chat profile joined with its account (DisabledAt,
	// IsBot come from the account).
	User(ctx context.Context, accountID string) (*User, error)
	// UserByName finds a chat user by display name, case-insensitively.
	UserByName(ctx context.Context, name string) (*User, error)
	Users(ctx context.Context, f UserFilter) ([]*User, error)
	// ListUsers returns one page of the users q selects and how many it
	// selects in all.
	ListUsers(ctx context.Context, q UserQuery) ([]*User, int, error)
	CreateChatToken(ctx context.Context, hash, accountID, sessionID string, at time.Time) error
	ChatTokenAccount(ctx context.Context, hash string) (string, error)
	// ChatAdmit is IPBanned, ChatTokenAccount and User in one query (a
	// chat socket's connect): account is "" for no such token, u nil for a
	// token whose account has no chat user.
	ChatAdmit(ctx context.Context, hash, ip string) (banned bool, account, session string, u *User, err error)
	// AddIPBan keeps b with BanNet(b.IP); IPBanned (and ChatAdmit's
	// banned) reports whether a ban covers ip's BanNet; RemoveIPBan lifts
	// the ban of ip exactly as listed.
	AddIPBan(ctx context.Context, b IPBan) error
	RemoveIPBan(ctx context.Context, ip string) error
	IPBans(ctx context.Context) ([]IPBan, error)
	IPBanned(ctx context.Context, ip string) (bool, error)
	// Counts reports the number of chat users and of stored messages in
	// conversation.
	Counts(ctx context.Context, conversation string) (users, messages int, err error)
	// InstanceValue and SetInstanceValue hold the settings document.
	InstanceValue(ctx context.Context, key string) (string, error)
	SetInstanceValue(ctx context.Context, key, value string) error
	// ClaimEvent reports whether this call is the first to claim key (on
	// any node); PruneEventClaims forgets claims older than before.
	ClaimEvent(ctx context.Context, key string, at time.Time) (bool, error)
	// ClaimEventAgain is ClaimEvent for a key that recurs: it also wins
	// when the key's last claim was made at or before since.
	ClaimEventAgain(ctx context.Context, key string, at, since time.Time) (bool, error)
	PruneEventClaims(ctx context.Context, before time.Time) error
	// LastEventClaim returns when the latest claim of a key starting with
	// prefix was made (zero: none).
	LastEventClaim(ctx context.Context, prefix string) (time.Time, error)
	// SetInstanceValueOnce stores value unless key exists and returns the
	// stored value (keys generated once for every node).
	SetInstanceValueOnce(ctx context.Context, key, value string) (string, error)
	// Go-live notification registrations.
	AddNotification(ctx context.Context, channel, destination string, at time.Time) error
	NotificationDestinations(ctx context.Context, channel string) ([]string, error)
	RemoveNotification(ctx context.Context, channel, destination string) error
}

// Accounts is what the chat needs from identity.
type Accounts interface {
	CreateGuest(ctx context.Context, displayName string) (*identity.Account, error)
	Account(ctx context.Context, id string) (*identity.Account, error)
	SetDisabled(ctx context.Context, accountID string, disabled bool) (*identity.Account, error)
	DeleteAccount(ctx context.Context, accountID string) error
	// NameFree reports whether name may be used by account self: false
	// when another account (not a guest) holds it on any surface.
	NameFree(ctx context.Context, name, self string) (bool, error)
	// Rename renames an account on every surface.
	Rename(ctx context.Context, accountID, name string) (*identity.Account, error)
}

// Messages is what the chat needs from the message store.
type Messages interface {
	Post(ctx context.Context, in messages.PostInput) (*messages.Message, error)
	List(ctx context.Context, q messages.ListQuery) ([]*messages.Message, error)
	SetHidden(ctx context.Context, conversationID string, ids []string, hidden bool) ([]*messages.Message, error)
}

// Publisher is the part of the bus the chat needs.
type Publisher interface {
	Publish(ctx context.Context, topic string, data []byte) error
}
