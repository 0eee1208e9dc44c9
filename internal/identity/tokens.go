package identity

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/golang-jwt/jwt/v5"

	"github.com/hearth-community/hearth/internal/fault"
)

// Token types carried in the token_type claim, as Together issues them.
const (
	typeAccess  = "access"
	typeRefresh = "refresh"
)

// claims are the JWT claims of access and refresh tokens: Together's
// (sub, username, token_type, iat, exp) plus sid (the session) and, for a
// bot's exchanged access token, tid (the bot token).
type claims struct {
	Username  string `json:"username"`
	TokenType string `json:"token_type"`
	SessionID string `json:"sid,omitempty"`
	TokenID   string `json:"tid,omitempty"`
	jwt.RegisteredClaims
}

// Errors a surface maps onto its own messages.
var (
	ErrInvalidToken    = fault.New(fault.Unauthorized, "Invalid or expired token")
	ErrWrongTokenType  = fault.New(fault.Unauthorized, "Invalid token type")
	ErrSessionRevoked  = fault.New(fault.Unauthorized, "Session not found, expired, or token already rotated")
	ErrAccountDisabled = fault.New(fault.Forbidden, "Account is disabled")
)

func (s *Service) sign(c claims) (string, error) {
	tok, err := jwt.NewWithClaims(jwt.SigningMethodHS256, c).SignedString(s.secret)
	if err != nil {
		return "", fmt.Errorf("identity: sign token: %w", err)
	}
	return tok, nil
}

func (s *Service) parse(raw string) (*claims, error) {
	var c claims
	_, err := jwt.ParseWithClaims(raw, &c, func(*jwt.Token) (any, error) { return s.secret, nil },
		jwt.WithValidMethods([]string{jwt.SigningMethodHS256.Alg()}),
		jwt.WithTimeFunc(s.now), jwt.WithExpirationRequired())
	if err != nil {
		return nil, ErrInvalidToken
	}
	return &c, nil
}

func (s *Service) newClaims(a *Account, typ, sid, tid string, ttl time.Duration) (claims, error) {
	now := s.now()
	jti, err := randomString(12)
	if err != nil {
		return claims{}, err
	}
	return claims{Username: a.Username, TokenType: typ, SessionID: sid, TokenID: tid,
		RegisteredClaims: jwt.RegisteredClaims{Subject: a.ID, ID: jti,
			IssuedAt: jwt.NewNumericDate(now), ExpiresAt: jwt.NewNumericDate(now.Add(ttl))}}, nil
}

// MaxSessions is how many sessions an account keeps: signing in once more
// signs the oldest out. Each sign-in is a row, kept until this bound (there
// is no sweep), so without it every sign-in of an account grew the table.
const MaxSessions = 100

// OpenSession starts a session for an authenticated account and returns its
// first access and refresh tokens; past MaxSessions the oldest goes.
func (s *Service) OpenSession(ctx context.Context, a *Account, userAgent string) (*Tokens, error) {
	if a.Disabled() {
		return nil, ErrAccountDisabled
	}
	now := s.now().UTC()
	// A header may carry bytes that are not UTF-8 (an old client's Latin-1
	// "café"), which PostgreSQL refuses to store: such a client could not
	// sign in there (400) while it could on SQLite. They are replaced.
	sess := &Session{ID: NewID(), AccountID: a.ID, UserAgent: truncate(strings.ToValidUTF8(userAgent, "\uFFFD"), 256),
		CreatedAt: now, LastUsedAt: now, ExpiresAt: now.Add(s.cfg.RefreshTTL)}
	refresh, err := s.refreshToken(a, sess.ID)
	if err != nil {
		return nil, err
	}
	sess.RefreshHash = HashToken(refresh)
	if err := s.st.CreateSession(ctx, sess, MaxSessions); err != nil {
		return nil, err
	}
	access, exp, err := s.accessToken(a, sess.ID, "")
	if err != nil {
		return nil, err
	}
	return &Tokens{AccessToken: access, RefreshToken: refresh, SessionID: sess.ID, AccessExpiry: exp}, nil
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

func (s *Service) refreshToken(a *Account, sid string) (string, error) {
	c, err := s.newClaims(a, typeRefresh, sid, "", s.cfg.RefreshTTL)
	if err != nil {
		return "", err
	}
	return s.sign(c)
}

func (s *Service) accessToken(a *Account, sid, tid string) (string, time.Time, error) {
	c, err := s.newClaims(a, typeAccess, sid, tid, s.cfg.AccessTTL)
	if err != nil {
		return "", time.Time{}, err
	}
	tok, err := s.sign(c)
	return tok, c.ExpiresAt.UTC(), err
}

// refreshGrace is how long a refresh token that was just rotated may be
// presented again and get the same new pair back instead of revoking the
// session: two tabs (or a client retrying after a lost response, or
// Together's web client, which refreshes once per request that got a 401)
// refresh at once with the same token, and only one of them can win the
// rotation. The grace is kept with the session in the database (Rotation),
// so the retry gets the pair from whichever node of a cluster it reaches.
const refreshGrace = 10 * time.Second

// rotationLabel separates the key that seals a rotation's pair from every
// other use of the signing secret.
const rotationLabel = "hearth refresh rotation v1"

// sealedPair is what a rotation keeps of the pair it issued.
type sealedPair struct {
	Access  string `json:"a"`
	Refresh string `json:"r"`
	Expiry  int64  `json:"e"` // Unix seconds, as the token's exp
}

func (s *Service) rotationAEAD() (cipher.AEAD, error) {
	block, err := aes.NewCipher(s.subkey(rotationLabel))
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(block)
}

// sealPair encrypts a rotation's pair for the database, bound to the
// session and to the token it replaced: only a holder of the signing
// secret can read it, and a sealed pair copied onto another session or
// rotation does not open.
func (s *Service) sealPair(t *Tokens, sessionID, fromHash string) (string, error) {
	aead, err := s.rotationAEAD()
	if err != nil {
		return "", err
	}
	plain, err := json.Marshal(sealedPair{Access: t.AccessToken, Refresh: t.RefreshToken, Expiry: t.AccessExpiry.Unix()})
	if err != nil {
		return "", err
	}
	nonce := make([]byte, aead.NonceSize(), aead.NonceSize()+len(plain)+aead.Overhead())
	if _, err := rand.Read(nonce); err != nil {
		return "", err
	}
	return base64.RawStdEncoding.EncodeToString(aead.Seal(nonce, nonce, plain, []byte(sessionID+"|"+fromHash))), nil
}

func (s *Service) openPair(sealed, sessionID, fromHash string) (*Tokens, bool) {
	aead, err := s.rotationAEAD()
	if err != nil {
		return nil, false
	}
	b, err := base64.RawStdEncoding.DecodeString(sealed)
	if err != nil || len(b) < aead.NonceSize() {
		return nil, false
	}
	plain, err := aead.Open(nil, b[:aead.NonceSize()], b[aead.NonceSize():], []byte(sessionID+"|"+fromHash))
	if err != nil {
		return nil, false
	}
	var p sealedPair
	if json.Unmarshal(plain, &p) != nil {
		return nil, false
	}
	return &Tokens{AccessToken: p.Access, RefreshToken: p.Refresh, SessionID: sessionID, AccessExpiry: time.Unix(p.Expiry, 0).UTC()}, true
}

// withinGrace returns the pair a just-rotated refresh token (oldHash) was
// rotated into, when the same client presents it again within the grace
// and the session has not been rotated again since.
func (s *Service) withinGrace(ctx context.Context, sessionID, oldHash, client string, now time.Time) (*Tokens, error) {
	r, err := s.st.LastRotation(ctx, sessionID, now)
	if errors.Is(err, fault.NotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	if r.From != oldHash || !now.Before(r.Until) || subtle.ConstantTimeCompare([]byte(r.Client), []byte(HashToken(client))) != 1 {
		return nil, nil
	}
	t, ok := s.openPair(r.Pair, sessionID, oldHash)
	if !ok {
		return nil, nil
	}
	return t, nil
}

// Refresh is RefreshFrom for a client that says nothing about itself.
func (s *Service) Refresh(ctx context.Context, raw string) (*Account, *Tokens, error) {
	return s.RefreshFrom(ctx, raw, "")
}

// RefreshFrom exchanges a refresh token for a new access token and a new
// refresh token (rotation). Presenting a refresh token that was already
// rotated is treated as theft: the whole session is revoked, except within
// refreshGrace of its rotation by the same client (client: what the surface
// knows of the caller, its user agent and address), when the same new pair
// is returned again. Another client presenting it within the grace is
// reuse, as after it.
func (s *Service) RefreshFrom(ctx context.Context, raw, client string) (*Account, *Tokens, error) {
	c, err := s.parse(raw)
	if err != nil {
		return nil, nil, err
	}
	if c.TokenType != typeRefresh || c.SessionID == "" {
		return nil, nil, ErrWrongTokenType
	}
	sess, err := s.st.SessionByID(ctx, c.SessionID)
	if errors.Is(err, fault.NotFound) {
		return nil, nil, ErrSessionRevoked
	}
	if err != nil {
		return nil, nil, err
	}
	now := s.now().UTC()
	if sess.RevokedAt != nil || now.After(sess.ExpiresAt) || sess.AccountID != c.Subject {
		return nil, nil, ErrSessionRevoked
	}
	a, err := s.st.AccountByID(ctx, sess.AccountID)
	if err != nil {
		return nil, nil, err
	}
	if a.Disabled() {
		return nil, nil, ErrAccountDisabled
	}
	next, err := s.refreshToken(a, sess.ID)
	if err != nil {
		return nil, nil, err
	}
	oldHash := HashToken(raw)
	access, exp, err := s.accessToken(a, sess.ID, "")
	if err != nil {
		return nil, nil, err
	}
	tok := Tokens{AccessToken: access, RefreshToken: next, SessionID: sess.ID, AccessExpiry: exp}
	sealed, err := s.sealPair(&tok, sess.ID, oldHash)
	if err != nil {
		return nil, nil, err
	}
	grace := Rotation{From: oldHash, Pair: sealed, Client: HashToken(client), Until: now.Add(refreshGrace)}
	ok, err := s.st.RotateSession(ctx, sess.ID, oldHash, HashToken(next), now, now.Add(s.cfg.RefreshTTL), grace)
	if err != nil {
		return nil, nil, err
	}
	if !ok {
		again, err := s.withinGrace(ctx, sess.ID, oldHash, client, now)
		if err != nil {
			return nil, nil, err
		}
		if again != nil {
			return a, again, nil
		}
		// A valid, signed refresh token for a live session that is no
		// longer current: it was used before. Revoke the session.
		s.log.Warn("refresh token reuse detected; session revoked", "account", a.ID, "session", sess.ID)
		if err := s.st.RevokeSession(ctx, sess.ID, now); err != nil {
			return nil, nil, err
		}
		s.announce(ctx, Revoked{SessionID: sess.ID})
		return nil, nil, ErrSessionRevoked
	}
	return a, &tok, nil
}

// Logout revokes the session a refresh or access token belongs to.
func (s *Service) Logout(ctx context.Context, sessionID string) error {
	if err := s.st.RevokeSession(ctx, sessionID, s.now()); err != nil {
		return err
	}
	s.announce(ctx, Revoked{SessionID: sessionID})
	return nil
}

// Authenticate validates an access token: signature, expiry, type, and that
// its session (or bot token) and account are still live. Revocation and
// disabling therefore take effect on the next request.
func (s *Service) Authenticate(ctx context.Context, raw string) (*Principal, error) {
	c, err := s.parse(raw)
	if err != nil {
		return nil, err
	}
	if c.TokenType != typeAccess {
		return nil, ErrWrongTokenType
	}
	if c.SessionID != "" {
		// The common case, a live session of a live account, in one query;
		// anything else takes the steps below, which decide which error.
		a, sess, err := s.st.SessionAccount(ctx, c.SessionID)
		if err == nil && a.ID == c.Subject && !a.Disabled() && sess.RevokedAt == nil {
			return &Principal{Account: a, SessionID: c.SessionID}, nil
		}
		if err != nil && !errors.Is(err, fault.NotFound) {
			return nil, err
		}
	}
	a, err := s.st.AccountByID(ctx, c.Subject)
	if errors.Is(err, fault.NotFound) {
		return nil, ErrInvalidToken
	}
	if err != nil {
		return nil, err
	}
	if a.Disabled() {
		return nil, ErrAccountDisabled
	}
	p := &Principal{Account: a, SessionID: c.SessionID}
	switch {
	case c.SessionID != "":
		sess, err := s.st.SessionByID(ctx, c.SessionID)
		if errors.Is(err, fault.NotFound) {
			return nil, ErrInvalidToken
		}
		if err != nil {
			return nil, err
		}
		if sess.RevokedAt != nil || sess.AccountID != a.ID {
			return nil, ErrInvalidToken
		}
	case c.TokenID != "":
		t, err := s.st.TokenByID(ctx, c.TokenID)
		if errors.Is(err, fault.NotFound) {
			return nil, ErrInvalidToken
		}
		if err != nil {
			return nil, err
		}
		if t.RevokedAt != nil || t.AccountID != a.ID {
			return nil, ErrInvalidToken
		}
		if err := s.checkBotMaker(ctx, a); err != nil {
			return nil, err
		}
		p.Token = t
	default:
		return nil, ErrInvalidToken
	}
	return p, nil
}

// StillValid reports whether what a principal was authenticated with is
// still good: its account neither disabled nor deleted, and its session
// (sessionID) not signed out, or its token (tokenID) not revoked; with
// neither, the account alone. For credentials handed out for a while (the
// embedded TURN server's), asked again as they are used. An error reading
// the store counts as no.
func (s *Service) StillValid(ctx context.Context, accountID, sessionID, tokenID string) bool {
	if sessionID != "" {
		a, sess, err := s.st.SessionAccount(ctx, sessionID)
		return err == nil && a.ID == accountID && !a.Disabled() && sess.RevokedAt == nil
	}
	a, err := s.st.AccountByID(ctx, accountID)
	if err != nil || a.Disabled() {
		return false
	}
	if tokenID != "" {
		t, err := s.st.TokenByID(ctx, tokenID)
		return err == nil && t.RevokedAt == nil && t.AccountID == accountID && s.checkBotMaker(ctx, a) == nil
	}
	return true
}

// checkBotMaker refuses a bot whose maker was disabled or deleted: a bot
// acts for the account that made it (Together's POST /bots), so an account
// the admin disabled or deleted does not go on posting, joining and
// messaging through its bots. A bot account with no maker is one whose
// maker was deleted (community.Bots always names one). Other kinds pass.
func (s *Service) checkBotMaker(ctx context.Context, a *Account) error {
	if a.Kind != Bot {
		return nil
	}
	if a.CreatedBy == nil {
		return ErrInvalidToken
	}
	maker, err := s.st.AccountByID(ctx, *a.CreatedBy)
	switch {
	case errors.Is(err, fault.NotFound):
		return ErrInvalidToken
	case err != nil:
		return err
	case maker.Disabled():
		return ErrAccountDisabled
	}
	return nil
}

// announceBots announces the revocation of the bots an account made, so
// their open sockets close with the maker's (checkBotMaker refuses their
// next request). ids are read before a delete, which unlinks them.
func (s *Service) announceBots(ctx context.Context, ids []string) {
	for _, id := range ids {
		s.announce(ctx, Revoked{AccountID: id})
	}
}

// AuthenticateToken validates a long-lived bot or integration token.
func (s *Service) AuthenticateToken(ctx context.Context, kind TokenKind, raw string) (*Principal, error) {
	return s.authenticateToken(ctx, kind, raw, "")
}

// AuthenticateScopedToken is AuthenticateToken for a call that needs
// scope: a token without it is refused like an unknown one and is not
// marked used (its last-used time tells the admin what it did, and a
// refused call did nothing).
func (s *Service) AuthenticateScopedToken(ctx context.Context, kind TokenKind, raw, scope string) (*Principal, error) {
	if scope == "" {
		return nil, ErrInvalidToken
	}
	return s.authenticateToken(ctx, kind, raw, scope)
}

func (s *Service) authenticateToken(ctx context.Context, kind TokenKind, raw, scope string) (*Principal, error) {
	if raw == "" || len(raw) > 256 {
		return nil, ErrInvalidToken
	}
	t, err := s.st.TokenByHash(ctx, HashToken(raw))
	if errors.Is(err, fault.NotFound) {
		return nil, ErrInvalidToken
	}
	if err != nil {
		return nil, err
	}
	if t.Kind != kind || t.RevokedAt != nil || (scope != "" && !t.HasScope(scope)) {
		return nil, ErrInvalidToken
	}
	a, err := s.st.AccountByID(ctx, t.AccountID)
	if err != nil {
		if errors.Is(err, fault.NotFound) {
			return nil, ErrInvalidToken
		}
		return nil, err
	}
	if a.Disabled() {
		return nil, ErrAccountDisabled
	}
	if err := s.checkBotMaker(ctx, a); err != nil {
		return nil, err
	}
	if err := s.st.TouchToken(ctx, t.ID, s.now()); err != nil {
		s.log.Warn("touch token", "err", err)
	}
	return &Principal{Account: a, Token: t}, nil
}

// ExchangeBotToken turns a bot's long-lived token into a short-lived access
// token (Together's POST /bots/connect).
func (s *Service) ExchangeBotToken(ctx context.Context, p *Principal) (string, time.Time, error) {
	if p.Token == nil || p.Token.Kind != BotToken {
		return "", time.Time{}, ErrWrongTokenType
	}
	return s.accessToken(p.Account, "", p.Token.ID)
}

// CreateBot creates a bot account owned by ownerID and its token. The raw
// token (64 lowercase hex characters) is returned once and never stored.
func (s *Service) CreateBot(ctx context.Context, ownerID, username, displayName string) (*Account, *Token, string, error) {
	if !ValidUsername(username) {
		return nil, nil, "", fault.New(fault.Invalid, "invalid bot username")
	}
	now := s.now().UTC()
	displayName = CleanName(displayName, MaxDisplayNameLength)
	a := &Account{ID: NewID(), Kind: Bot, Username: username, DisplayName: displayName, CreatedAt: now, UpdatedAt: now}
	if ownerID != "" {
		a.CreatedBy = &ownerID
	}
	if err := s.st.CreateAccount(ctx, a); err != nil {
		return nil, nil, "", err
	}
	t, raw, err := s.newToken(ctx, a.ID, BotToken, displayName, nil)
	if err != nil {
		return nil, nil, "", err
	}
	return a, t, raw, nil
}

// RegenerateBotToken revokes a bot's tokens and issues a fresh one.
func (s *Service) RegenerateBotToken(ctx context.Context, tokenID string) (*Token, string, error) {
	old, err := s.st.TokenByID(ctx, tokenID)
	if err != nil {
		return nil, "", err
	}
	if err := s.RevokeToken(ctx, old.ID); err != nil {
		return nil, "", err
	}
	return s.newToken(ctx, old.AccountID, old.Kind, old.Name, old.Scopes)
}

// Known integration scopes (Owncast's names).
var knownScopes = map[string]bool{
	"CAN_SEND_MESSAGES":        true,
	"CAN_SEND_SYSTEM_MESSAGES": true,
	"HAS_ADMIN_ACCESS":         true,
}

// ValidScope reports whether scope is a known integration scope.
func ValidScope(scope string) bool { return knownScopes[scope] }

// CreateIntegrationToken creates an integration account with a scoped
// token. The raw token is returned once; only its hash is stored.
func (s *Service) CreateIntegrationToken(ctx context.Context, name string, scopes []string) (*Account, *Token, string, error) {
	name = strings.TrimSpace(name)
	if name == "" || utf8.RuneCountInString(name) > 64 {
		return nil, nil, "", fault.New(fault.Invalid, "token name must be 1-64 characters")
	}
	if len(scopes) == 0 {
		return nil, nil, "", fault.New(fault.Invalid, "at least one scope is required")
	}
	for _, sc := range scopes {
		if !ValidScope(sc) {
			return nil, nil, "", fault.Newf(fault.Invalid, "unknown scope %q", sc)
		}
	}
	suffix, err := randomHex(6)
	if err != nil {
		return nil, nil, "", err
	}
	if name = CleanName(name, MaxDisplayNameLength); name == "" {
		return nil, nil, "", fault.New(fault.Invalid, "token name must be 1-64 characters")
	}
	now := s.now().UTC()
	a := &Account{ID: NewID(), Kind: Integration, Username: "integration-" + suffix, DisplayName: name, CreatedAt: now, UpdatedAt: now}
	if err := s.st.CreateAccount(ctx, a); err != nil {
		return nil, nil, "", err
	}
	t, raw, err := s.newToken(ctx, a.ID, IntegrationToken, name, scopes)
	if err != nil {
		return nil, nil, "", err
	}
	return a, t, raw, nil
}

func (s *Service) newToken(ctx context.Context, accountID string, kind TokenKind, name string, scopes []string) (*Token, string, error) {
	id := NewID()
	var raw string
	var err error
	switch kind {
	case BotToken:
		raw, err = randomHex(32)
	case IntegrationToken:
		raw = s.integrationTokenFor(id) // integration_tokens.go
	default:
		raw, err = randomString(32)
	}
	if err != nil {
		return nil, "", err
	}
	t := &Token{ID: id, AccountID: accountID, Kind: kind, Name: name, Hash: HashToken(raw), Scopes: scopes, CreatedAt: s.now().UTC()}
	if err := s.st.CreateToken(ctx, t); err != nil {
		return nil, "", err
	}
	return t, raw, nil
}

// RevokeToken revokes a bot or integration token; sockets opened with it
// close at once.
func (s *Service) RevokeToken(ctx context.Context, tokenID string) error {
	if err := s.st.RevokeToken(ctx, tokenID, s.now()); err != nil {
		return err
	}
	s.announce(ctx, Revoked{TokenID: tokenID})
	// A bot's revoked token leaves the bot nothing to act with (Active):
	// what it holds by its account (stage channel keys and playback, its
	// call) is checked again where the account's revocation is heard.
	if t, err := s.st.TokenByID(ctx, tokenID); err == nil && t.Kind == BotToken {
		s.announce(ctx, Revoked{AccountID: t.AccountID})
	}
	return nil
}

// Active reports whether an account may act at all: it exists and is not
// disabled, and a bot also holds a live token and its maker may act
// (checkBotMaker). What an account holds beyond its sign-in (a stage
// channel's stream key, a signed playlist URL) asks it.
func (s *Service) Active(ctx context.Context, accountID string) (bool, error) {
	a, err := s.st.AccountByID(ctx, accountID)
	switch {
	case errors.Is(err, fault.NotFound):
		return false, nil
	case err != nil:
		return false, err
	case a.Disabled():
		return false, nil
	case a.Kind != Bot:
		return true, nil
	}
	switch err := s.checkBotMaker(ctx, a); {
	case errors.Is(err, ErrInvalidToken) || errors.Is(err, ErrAccountDisabled):
		return false, nil
	case err != nil:
		return false, err
	}
	return s.st.HasLiveToken(ctx, a.ID)
}

// ListTokens lists tokens of a kind, revoked ones included.
func (s *Service) ListTokens(ctx context.Context, kind TokenKind) ([]*Token, error) {
	return s.st.ListTokens(ctx, kind)
}

// AdminSession reports whether raw is an access token of a live session of
// a live instance admin, whether or not the token itself has expired: the
// web app's admin pages open for it without a Basic prompt (the page is the
// app's shell; every admin call is authorised on its own). A session that
// was signed out, expired, or revoked by a change of password no longer
// counts, nor does a token whose signature or type is wrong.
func (s *Service) AdminSession(ctx context.Context, raw string) (*Account, error) {
	var c claims
	_, err := jwt.ParseWithClaims(raw, &c, func(*jwt.Token) (any, error) { return s.secret, nil },
		jwt.WithValidMethods([]string{jwt.SigningMethodHS256.Alg()}), jwt.WithoutClaimsValidation())
	if err != nil || c.TokenType != typeAccess || c.SessionID == "" {
		return nil, ErrInvalidToken
	}
	sess, err := s.st.SessionByID(ctx, c.SessionID)
	if errors.Is(err, fault.NotFound) {
		return nil, ErrInvalidToken
	}
	if err != nil {
		return nil, err
	}
	if sess.RevokedAt != nil || sess.AccountID != c.Subject || !s.now().Before(sess.ExpiresAt) {
		return nil, ErrInvalidToken
	}
	a, err := s.st.AccountByID(ctx, c.Subject)
	if errors.Is(err, fault.NotFound) {
		return nil, ErrInvalidToken
	}
	if err != nil {
		return nil, err
	}
	if a.Disabled() || !a.IsAdmin {
		return nil, fault.New(fault.Forbidden, "not an instance admin")
	}
	return a, nil
}
