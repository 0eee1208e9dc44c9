// Package identity owns accounts (registered, guest, bot, integration),
// argon2id credentials, sessions with rotating refresh tokens, short-lived
// access tokens, bot tokens, scoped integration tokens, the instance admin and
// disable state. It knows no wire format: surfaces map its errors (package
// fault) and render its types.
//
// Every password check (CheckCredentials, Login, CheckAdminBasic,
// VerifyPassword) runs under one sign-in limiter, per account and per client
// address, whatever surface asked (signin.go). An attempt is charged before
// the hash is checked and refunded only when the password was right: a good
// sign-in never resets a budget, so an attacker cannot interleave sign-ins
// to their own account with guesses at others to keep guessing.
package identity

import (
	"context"
	"time"
)

// Kind is the kind of an account.
type Kind string

// Account kinds.
const (
	Registered  Kind = "registered"
	Guest       Kind = "guest"
	Bot         Kind = "bot"
	Integration Kind = "integration"
)

// Account is one identity, the same on every surface.
type Account struct {
	ID           string
	Kind         Kind
	Username     string
	DisplayName  string
	Email        *string
	PasswordHash string
	AvatarURL    string
	IsAdmin      bool
	DisabledAt   *time.Time
	CreatedBy    *string
	CreatedAt    time.Time
	UpdatedAt    time.Time
}

// Disabled reports whether the account may not sign in or act.
func (a *Account) Disabled() bool { return a.DisabledAt != nil }

// Name is what other people see: the display name, else the username.
func (a *Account) Name() string {
	if a.DisplayName != "" {
		return a.DisplayName
	}
	return a.Username
}

// Session is one sign-in: it holds the hash of the current refresh token.
type Session struct {
	ID          string
	AccountID   string
	RefreshHash string
	UserAgent   string
	CreatedAt   time.Time
	LastUsedAt  time.Time
	ExpiresAt   time.Time
	RevokedAt   *time.Time
}

// Rotation is a session's last refresh-token rotation, kept for its
// grace: a retry of the token it rotated away (From, a hash) by the same
// client (Client, a hash) before Until gets the pair it was rotated into
// (Pair, sealed) again, on whichever node the retry lands.
type Rotation struct {
	From   string
	Pair   string
	Client string
	Until  time.Time
}

// TokenKind is the kind of a long-lived token.
type TokenKind string

// Token kinds.
const (
	BotToken         TokenKind = "bot"
	IntegrationToken TokenKind = "integration"
)

// Token is a long-lived secret (bot or integration); only its hash is stored.
type Token struct {
	ID         string
	AccountID  string
	Kind       TokenKind
	Name       string
	Hash       string
	Scopes     []string
	CreatedAt  time.Time
	LastUsedAt *time.Time
	RevokedAt  *time.Time
}

// HasScope reports whether the token grants scope.
func (t *Token) HasScope(scope string) bool {
	for _, s := range t.Scopes {
		if s == scope {
			return true
		}
	}
	return false
}

// ProfileFields names the profile columns an UpdateProfile writes: only
// those a change carries, so two edits of one account made from reads
// taken before each other's (a rename on one surface, an avatar on
// another) keep both.
type ProfileFields uint8

const (
	ProfileUsername    ProfileFields = 1 << iota // username
	ProfileDisplayName                           // display name
	ProfileEmail                                 // email (nil: none)
	ProfileAvatar                                // avatar URL
)

// Store is what identity needs from persistence. Lookups that match nothing
// return an error for which errors.Is(err, fault.NotFound) holds; writes that
// break uniqueness return fault.Conflict.
type Store interface {
	CreateAccount(ctx context.Context, a *Account) error
	// UpdateProfile stores the profile fields of a that f names, and
	// updated_at, and no other column: not the other profile fields, so
	// an edit based on an older read cannot undo another edit of the
	// profile, and never the privileged fields: is_admin, disabled_at and
	// the password hash are written only by SetAdmin, SetDisabled and
	// SetPasswordHash, so such an edit cannot undo a demotion, a disable
	// or a password change either.
	UpdateProfile(ctx context.Context, a *Account, f ProfileFields) error
	// SetAdmin sets only the admin role; SetDisabled only the disabled
	// time (nil: enabled). Each refuses, with ErrLastAdmin and atomically,
	// to demote or disable the last active admin; fault.NotFound for an
	// unknown account.
	SetAdmin(ctx context.Context, id string, admin bool, now time.Time) error
	SetDisabled(ctx context.Context, id string, at *time.Time, now time.Time) error
	// SetPasswordHash sets only the password hash ("": no password).
	SetPasswordHash(ctx context.Context, id, hash string, now time.Time) error
	AccountByID(ctx context.Context, id string) (*Account, error)
	AccountByUsername(ctx context.Context, username string) (*Account, error)
	AccountByEmail(ctx context.Context, email string) (*Account, error)
	// AccountByName finds an account other than a guest whose username or
	// display name has name's NameKey.
	AccountByName(ctx context.Context, name string) (*Account, error)
	ListAccounts(ctx context.Context, kind Kind, limit, offset int) ([]*Account, error)
	// BotsMadeBy lists the ids of the bot accounts an account made.
	BotsMadeBy(ctx context.Context, creatorID string) ([]string, error)
	// HasLiveToken reports whether an account holds a token not revoked.
	HasLiveToken(ctx context.Context, accountID string) (bool, error)
	CountAccounts(ctx context.Context, kind Kind) (int, error)
	AnyAdmin(ctx context.Context) (bool, error)
	// Admins lists every instance admin account.
	Admins(ctx context.Context) ([]*Account, error)
	// DeleteAccount deletes an account with its sessions, tokens and
	// memberships in one transaction, leaving its messages authorless;
	// ErrOwnsCommunities if it owns a community, fault.NotFound if unknown.
	DeleteAccount(ctx context.Context, id string) error

	// CreateSession inserts s and deletes the account's sessions beyond
	// its newest keep (MaxSessions).
	CreateSession(ctx context.Context, s *Session, keep int) error
	SessionByID(ctx context.Context, id string) (*Session, error)
	// SessionAccount is SessionByID and AccountByID of its account in one
	// query; fault.NotFound when either is missing.
	SessionAccount(ctx context.Context, sessionID string) (*Account, *Session, error)
	// RotateSession swaps the refresh hash from oldHash to newHash if and
	// only if oldHash is current and the session is live; it reports
	// whether the swap happened (compare-and-set). The swap records r as
	// the session's last rotation.
	RotateSession(ctx context.Context, id, oldHash, newHash string, now, expires time.Time, r Rotation) (bool, error)
	// LastRotation is the last rotation of a session that is live at now
	// (not revoked, not expired); fault.NotFound otherwise.
	LastRotation(ctx context.Context, id string, now time.Time) (Rotation, error)
	RevokeSession(ctx context.Context, id string, now time.Time) error
	// RevokeAccountSessions revokes the account's sessions and signs out
	// the OpenTogetherTube tokens signed in to it, but the one whose hash
	// is keepOTT ("": none).
	RevokeAccountSessions(ctx context.Context, accountID string, now time.Time, keepOTT string) error
	// SignOutChatTokens deletes the Owncast chat tokens that act as the
	// account (its stage chat registrations), so a token taken before a
	// password change does not outlive it.
	SignOutChatTokens(ctx context.Context, accountID string) error

	CreateToken(ctx context.Context, t *Token) error
	TokenByHash(ctx context.Context, hash string) (*Token, error)
	TokenByID(ctx context.Context, id string) (*Token, error)
	ListTokens(ctx context.Context, kind TokenKind) ([]*Token, error)
	RevokeToken(ctx context.Context, id string, now time.Time) error
	TouchToken(ctx context.Context, id string, now time.Time) error

	// InstanceValue returns a stored instance-wide value; SetInstanceValueOnce
	// stores value under key unless the key exists, and returns whatever is
	// stored afterwards (so concurrent nodes agree on one value).
	InstanceValue(ctx context.Context, key string) (string, error)
	SetInstanceValueOnce(ctx context.Context, key, value string) (string, error)
	SetInstanceValue(ctx context.Context, key, value string) error
}
