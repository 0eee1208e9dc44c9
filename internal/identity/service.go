package identity

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"runtime"
	"strings"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"

	"github.com/hearth-community/hearth/internal/fault"
)

// RevokedTopic is the bus topic on which identity announces that an
// account, session or token stopped being valid; gateways close the
// matching sockets on every node.
const RevokedTopic = "identity.revoked"

// Revoked is the payload published on RevokedTopic. Exactly one of the
// fields is set.
type Revoked struct {
	AccountID string `json:"account_id,omitempty"`
	SessionID string `json:"session_id,omitempty"`
	TokenID   string `json:"token_id,omitempty"`
}

// DemotedTopic is the bus topic on which identity announces that an
// instance admin lost the role while the account stays enabled and signed
// in: what only an instance admin may hold (a WHEP session on a stage
// channel of a community they are no member of) is checked again on every
// node, and their membership access goes on. Payload: Demoted.
const DemotedTopic = "identity.demoted"

// Demoted is the payload published on DemotedTopic.
type Demoted struct {
	AccountID string `json:"account_id"`
}

// Publisher is the part of the bus identity needs.
type Publisher interface {
	Publish(ctx context.Context, topic string, data []byte) error
}

// Config tunes the service.
type Config struct {
	// Secret signs access and refresh tokens (HS256). If empty, one is
	// generated and stored in the database on first use, shared by nodes.
	Secret     string
	AccessTTL  time.Duration
	RefreshTTL time.Duration
	Argon2     Argon2Params
	// SignIn limits wrong passwords per account and per client address
	// (signin.go). Zero means DefaultSignInLimits.
	SignIn SignInLimits
	// SignInBudget, when set, holds the sign-in buckets where every node
	// sees them (the database on PostgreSQL); nil keeps them in this
	// node's memory.
	SignInBudget SignInBudget
	Now          func() time.Time // for tests; time.Now by default
}

// Service is the identity domain service.
type Service struct {
	st        Store
	pub       Publisher
	onRevoked atomic.Pointer[func(Revoked)]
	log       *slog.Logger
	secret    []byte
	cfg       Config
	now       func() time.Time
	// hashing bounds concurrent argon2id work (password.go); slotWaiters
	// counts the callers waiting for a slot, and freeArmed says a return of
	// argon2id's memory to the OS is scheduled (password.go, hashingDone).
	hashing     chan struct{}
	slotWaiters atomic.Int32
	freeArmed   atomic.Bool
	// signin limits password checks (signin.go).
	signin *signInLimiter
}

// Tokens is what a sign-in returns.
type Tokens struct {
	AccessToken  string
	RefreshToken string
	SessionID    string
	AccessExpiry time.Time
}

// Principal is an authenticated caller.
type Principal struct {
	Account   *Account
	SessionID string // set for access tokens from a session
	Token     *Token // set for bot and integration tokens
}

// New builds the service. It loads or creates the signing secret.
func New(ctx context.Context, cfg Config, st Store, pub Publisher, logger *slog.Logger) (*Service, error) {
	if st == nil {
		return nil, errors.New("identity: nil store")
	}
	if cfg.AccessTTL <= 0 {
		cfg.AccessTTL = 15 * time.Minute
	}
	if cfg.RefreshTTL <= 0 {
		cfg.RefreshTTL = 7 * 24 * time.Hour
	}
	if cfg.Argon2.Memory == 0 {
		cfg.Argon2 = DefaultArgon2
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.SignIn == (SignInLimits{}) {
		cfg.SignIn = DefaultSignInLimits
	}
	signin, err := newSignInLimiter(cfg.SignIn, cfg.SignInBudget, cfg.Now)
	if err != nil {
		return nil, err
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	signin.log = logger
	s := &Service{st: st, pub: pub, log: logger, cfg: cfg, now: cfg.Now, hashing: make(chan struct{}, max(2, runtime.NumCPU())), signin: signin}
	secret := cfg.Secret
	if secret == "" {
		gen, err := randomString(48)
		if err != nil {
			return nil, err
		}
		secret, err = st.SetInstanceValueOnce(ctx, "jwt_secret", gen)
		if err != nil {
			return nil, fmt.Errorf("identity: load signing secret: %w", err)
		}
	}
	s.secret = []byte(secret)
	return s, nil
}

// Now is the service's clock.
func (s *Service) Now() time.Time { return s.now() }

func randomString(n int) (string, error) {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("identity: random: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}

func randomHex(n int) (string, error) {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("identity: random: %w", err)
	}
	return hex.EncodeToString(b), nil
}

// HashToken is how every secret token is stored: SHA-256, lowercase hex.
func HashToken(raw string) string {
	sum := sha256.Sum256([]byte(raw))
	return hex.EncodeToString(sum[:])
}

// NewID returns a new UUIDv7 string.
func NewID() string { return uuid.Must(uuid.NewV7()).String() }

// ValidUsername reports whether name is a legal username: 1–32 characters
// of letters, digits, '_', '-' and '.'. Surfaces may be stricter.
func ValidUsername(name string) bool {
	if name == "" || utf8.RuneCountInString(name) > 32 {
		return false
	}
	for _, r := range name {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '_', r == '-', r == '.':
		default:
			return false
		}
	}
	return true
}

// RegisterInput is a new registered account.
type RegisterInput struct {
	Username    string
	Email       string
	Password    string
	DisplayName string
	Admin       bool
	// OperatorChosen lifts the minimum password length: the operator set
	// this password on the command line (e.g. Owncast's "abc123").
	OperatorChosen bool
	// NoPassword creates the account with no password (Password must be
	// empty): it signs in only through a linked provider (OpenTogetherTube's
	// Discord sign-in) until a password is set.
	NoPassword bool
}

// Register creates a registered account with a password (or, NoPassword,
// without one).
func (s *Service) Register(ctx context.Context, in RegisterInput) (*Account, error) {
	if !ValidUsername(in.Username) {
		return nil, fault.New(fault.Invalid, "username must be 1-32 letters, digits, '_', '-' or '.'")
	}
	if in.NoPassword {
		if in.Password != "" {
			return nil, fault.New(fault.Invalid, "a password was given for an account without one")
		}
	} else if n := len(in.Password); (n < 8 && !in.OperatorChosen) || n == 0 || n > 128 {
		return nil, fault.New(fault.Invalid, "password must be 8-128 characters")
	}
	if utf8.RuneCountInString(in.DisplayName) > MaxDisplayNameLength {
		return nil, fault.New(fault.Invalid, "display name must be at most 64 characters")
	}
	in.DisplayName = CleanName(in.DisplayName, MaxDisplayNameLength)
	hash := ""
	if !in.NoPassword {
		h, err := s.hashPassword(ctx, in.Password)
		if err != nil {
			return nil, err
		}
		hash = h
	}
	now := s.now().UTC()
	a := &Account{ID: NewID(), Kind: Registered, Username: in.Username, DisplayName: in.DisplayName,
		PasswordHash: hash, IsAdmin: in.Admin, CreatedAt: now, UpdatedAt: now}
	if e := strings.TrimSpace(in.Email); e != "" {
		if len(e) > 254 || !strings.Contains(e, "@") {
			return nil, fault.New(fault.Invalid, "invalid email address")
		}
		a.Email = &e
	}
	if err := s.st.CreateAccount(ctx, a); err != nil {
		if errors.Is(err, fault.Conflict) {
			return nil, fault.New(fault.Conflict, "username or email already taken")
		}
		return nil, err
	}
	return a, nil
}

// CreateGuest creates a guest account (anonymous watcher or chatter).
func (s *Service) CreateGuest(ctx context.Context, displayName string) (*Account, error) {
	if utf8.RuneCountInString(displayName) > MaxDisplayNameLength {
		return nil, fault.New(fault.Invalid, "display name must be at most 64 characters")
	}
	displayName = CleanName(displayName, MaxDisplayNameLength)
	suffix, err := randomHex(6)
	if err != nil {
		return nil, err
	}
	now := s.now().UTC()
	a := &Account{ID: NewID(), Kind: Guest, Username: "guest-" + suffix, DisplayName: displayName, CreatedAt: now, UpdatedAt: now}
	if err := s.st.CreateAccount(ctx, a); err != nil {
		return nil, err
	}
	return a, nil
}

// Account returns an account by id.
func (s *Service) Account(ctx context.Context, id string) (*Account, error) {
	return s.st.AccountByID(ctx, id)
}

// AccountByUsername returns an account by username (case-insensitive).
func (s *Service) AccountByUsername(ctx context.Context, username string) (*Account, error) {
	return s.st.AccountByUsername(ctx, username)
}

// UpdateProfile stores the profile changes a surface made to a, in the
// fields f names (username, display name, email, avatar URL): a's other
// fields, as the surface read them, are not written back, so a concurrent
// edit of another field is kept. The display name passes CleanName and the
// avatar URL must be http(s), whichever surface set them. It never writes
// a's admin role, disabled state or password hash (Store.UpdateProfile):
// those change only through SetPassword, SetDisabled and UpdateAdminState.
func (s *Service) UpdateProfile(ctx context.Context, a *Account, f ProfileFields) error {
	if f&ProfileAvatar != 0 {
		if err := CheckURL("avatar_url", a.AvatarURL); err != nil {
			return err
		}
	}
	if f&ProfileDisplayName != 0 {
		a.DisplayName = CleanName(a.DisplayName, MaxDisplayNameLength)
	}
	a.UpdatedAt = s.now().UTC()
	return s.st.UpdateProfile(ctx, a, f)
}

// Store exposes the store for surfaces that list accounts.
func (s *Service) Store() Store { return s.st }

var errBadLogin = fault.New(fault.Unauthorized, "Invalid username or password")

// CheckCredentials verifies a username (or email) and password, under the
// sign-in limits (signin.go): addr is the client's address, as
// ratelimit.ClientIP gives it, or "" when there is no client. While the
// account or the address is limited it returns fault.RateLimited, with a
// RetryAfter, whatever the password. Disabled accounts get Forbidden.
func (s *Service) CheckCredentials(ctx context.Context, login, password, addr string) (*Account, error) {
	a, err := s.lookupLogin(ctx, login)
	if err != nil {
		return nil, err
	}
	ctx, settle, err := s.beginAttempt(ctx, accountKey(a, login), addr)
	if err != nil {
		return nil, err
	}
	a, err = s.checkCredentials(ctx, a, password)
	settle(err)
	return a, err
}

// checkCredentials checks password against a, the account a login named
// (nil for none), with no limit.
func (s *Service) checkCredentials(ctx context.Context, a *Account, password string) (*Account, error) {
	if a == nil {
		// Spend the same time as a real check so timing does not reveal
		// which usernames exist.
		if _, err := s.checkPassword(ctx, password, dummyHash); err != nil {
			return nil, err
		}
		return nil, errBadLogin
	}
	if err := s.verifyPassword(ctx, a, password); err != nil {
		return nil, err
	}
	if a.Disabled() {
		return nil, fault.New(fault.Forbidden, "Account is disabled")
	}
	return a, nil
}

const dummyHash = "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$bHVqCxwRrh8XaX3S8wRvI9Ou6Tfp0m1ecRI4cIPt+UE"

// Login checks credentials (under the sign-in limits, as CheckCredentials)
// and opens a session.
func (s *Service) Login(ctx context.Context, login, password, userAgent, addr string) (*Account, *Tokens, error) {
	a, err := s.CheckCredentials(ctx, login, password, addr)
	if err != nil {
		return nil, nil, err
	}
	t, err := s.OpenSession(ctx, a, userAgent)
	if err != nil {
		return nil, nil, err
	}
	return a, t, nil
}

// SetPassword replaces an account's password and signs out its sessions,
// OpenTogetherTube tokens signed in to it and its Owncast chat tokens
// included.
func (s *Service) SetPassword(ctx context.Context, accountID, password string) error {
	return s.SetPasswordKeeping(ctx, accountID, password, "")
}

// SetPasswordKeeping is SetPassword made through one OpenTogetherTube token
// (keepOTT, the hash of the token): that token stays signed in, as on
// OpenTogetherTube; every other session is signed out.
func (s *Service) SetPasswordKeeping(ctx context.Context, accountID, password, keepOTT string) error {
	if n := len(password); n < 8 || n > 128 {
		return fault.New(fault.Invalid, "password must be 8-128 characters")
	}
	if _, err := s.st.AccountByID(ctx, accountID); err != nil {
		return err // unknown before the hash is spent
	}
	hash, err := s.hashPassword(ctx, password)
	if err != nil {
		return err
	}
	if err := s.st.SetPasswordHash(ctx, accountID, hash, s.now().UTC()); err != nil {
		return err
	}
	if err := s.st.RevokeAccountSessions(ctx, accountID, s.now(), keepOTT); err != nil {
		return err
	}
	if err := s.st.SignOutChatTokens(ctx, accountID); err != nil {
		return err
	}
	s.announce(ctx, Revoked{AccountID: accountID})
	return nil
}

// SetDisabled disables or re-enables an account. Disabling signs out every
// session and closes every open socket of the account, on every node.
// Disabling the last active admin is refused (ErrLastAdmin), atomically.
func (s *Service) SetDisabled(ctx context.Context, accountID string, disabled bool) (*Account, error) {
	a, err := s.st.AccountByID(ctx, accountID)
	if err != nil {
		return nil, err
	}
	if disabled == a.Disabled() {
		return a, nil
	}
	now := s.now().UTC()
	if disabled {
		a.DisabledAt = &now
	} else {
		a.DisabledAt = nil
	}
	if err := s.st.SetDisabled(ctx, accountID, a.DisabledAt, now); err != nil {
		return nil, err
	}
	a.UpdatedAt = now
	if disabled {
		if err := s.st.RevokeAccountSessions(ctx, accountID, s.now(), ""); err != nil {
			return nil, err
		}
		s.announce(ctx, Revoked{AccountID: accountID})
		if bots, err := s.st.BotsMadeBy(ctx, accountID); err != nil {
			s.log.Warn("list a disabled account's bots", "account", accountID, "err", err)
		} else {
			s.announceBots(ctx, bots)
		}
	}
	return a, nil
}

// OnRevoked sets f to be called with every revocation this node makes,
// before it is published: this node's sockets of a signed-out session
// close before the sign-out's request returns, where the bus hands each
// subscription its messages from its own queue, later (under load, after
// a chat line sent once the sign-out had answered). Other nodes act on
// the published revocation.
func (s *Service) OnRevoked(f func(Revoked)) { s.onRevoked.Store(&f) }

func (s *Service) announce(ctx context.Context, r Revoked) {
	if f := s.onRevoked.Load(); f != nil {
		(*f)(r)
	}
	if s.pub == nil {
		return
	}
	b, _ := json.Marshal(r)
	if err := s.pub.Publish(context.WithoutCancel(ctx), RevokedTopic, b); err != nil {
		s.log.Error("publish revocation", "err", err)
	}
}

// EnsureAdmin creates the instance admin if no admin exists. With an empty
// password it generates one and returns it, so the caller can print it once.
// It reports whether an account was created.
func (s *Service) EnsureAdmin(ctx context.Context, username, password string) (created bool, generated string, err error) {
	any, err := s.st.AnyAdmin(ctx)
	if err != nil || any {
		return false, "", err
	}
	if password == "" {
		if generated, err = randomString(15); err != nil {
			return false, "", err
		}
		password = generated
	}
	_, err = s.Register(ctx, RegisterInput{Username: username, Password: password, Admin: true, OperatorChosen: true})
	if errors.Is(err, fault.Conflict) {
		// Another node won the race, or the name is taken by a normal user.
		if any, err2 := s.st.AnyAdmin(ctx); err2 == nil && any {
			return false, "", nil
		}
		return false, "", fmt.Errorf("identity: cannot create admin %q: username taken by a non-admin account", username)
	}
	if err != nil {
		return false, "", err
	}
	return true, generated, nil
}
