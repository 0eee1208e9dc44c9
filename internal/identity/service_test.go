package identity_test

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hearth-community/hearth/internal/fault"
	"github.com/hearth-community/hearth/internal/identity"
	"github.com/hearth-community/hearth/internal/identity/identitytest"
	"github.com/hearth-community/hearth/internal/store/storetest"
)

// fastArgon keeps tests quick; production uses DefaultArgon2.
var fastArgon = identitytest.Argon2

type recorder struct {
	mu  sync.Mutex
	got []identity.Revoked
}

func (r *recorder) Publish(_ context.Context, topic string, data []byte) error {
	if topic != identity.RevokedTopic {
		return nil
	}
	var v identity.Revoked
	if err := json.Unmarshal(data, &v); err != nil {
		return err
	}
	r.mu.Lock()
	r.got = append(r.got, v)
	r.mu.Unlock()
	return nil
}

func (r *recorder) has(v identity.Revoked) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, g := range r.got {
		if g == v {
			return true
		}
	}
	return false
}

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func newService(t *testing.T, eng storetest.Engine) (*identity.Service, *recorder, *clock) {
	t.Helper()
	db := eng.Open(t)
	rec := &recorder{}
	clk := &clock{t: time.Now()}
	s, err := identity.New(context.Background(), identity.Config{Argon2: fastArgon, Now: clk.now}, db.Identity(), rec, nil)
	if err != nil {
		t.Fatal(err)
	}
	return s, rec, clk
}

func forEngine(t *testing.T, f func(t *testing.T, eng storetest.Engine)) {
	t.Parallel()
	for _, eng := range storetest.Engines() {
		t.Run(eng.Name, func(t *testing.T) {
			t.Parallel()
			f(t, eng)
		})
	}
}

func TestPasswordHashPHC(t *testing.T) {
	t.Parallel()
	h, err := identity.HashPassword("correct horse", identity.DefaultArgon2)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(h, "$argon2id$v=19$m=9216,t=4,p=1$") {
		t.Fatalf("not a PHC argon2id string: %s", h)
	}
	if !identity.CheckPassword("correct horse", h) || identity.CheckPassword("correct horsE", h) {
		t.Fatal("password check wrong")
	}
	// Hashes made with the earlier default (19 MiB, 2 passes) still check:
	// each hash carries its own parameters.
	old, err := identity.HashPassword("correct horse", identity.Argon2Params{Memory: 19 * 1024, Time: 2, Threads: 1})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(old, "$argon2id$v=19$m=19456,t=2,p=1$") || !identity.CheckPassword("correct horse", old) {
		t.Fatalf("a 19 MiB hash does not check: %s", old)
	}
	for _, bad := range []string{"", "$argon2id$", "$argon2i$v=19$m=1,t=1,p=1$AA$AA", "$argon2id$v=19$m=999999999,t=1,p=1$AA$AA", h[:len(h)-3] + "!!!"} {
		if identity.CheckPassword("x", bad) {
			t.Fatalf("malformed hash %q matched", bad)
		}
	}
}

func TestRegisterLoginRefreshRotation(t *testing.T) {
	forEngine(t, func(t *testing.T, eng storetest.Engine) {
		ctx := context.Background()
		s, rec, clk := newService(t, eng)
		a, err := s.Register(ctx, identity.RegisterInput{Username: "alice", Password: "password1", Email: "a@example.org"})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.Register(ctx, identity.RegisterInput{Username: "ALICE", Password: "password1"}); !errors.Is(err, fault.Conflict) {
			t.Fatalf("duplicate: %v", err)
		}
		for _, in := range []identity.RegisterInput{{Username: "", Password: "password1"}, {Username: "bob", Password: "short"},
			{Username: "b b", Password: "password1"}, {Username: strings.Repeat("x", 33), Password: "password1"}} {
			if _, err := s.Register(ctx, in); !errors.Is(err, fault.Invalid) {
				t.Fatalf("register %+v: %v, want invalid", in, err)
			}
		}
		if _, _, err := s.Login(ctx, "alice", "wrong-password", "", "192.0.2.1"); !errors.Is(err, fault.Unauthorized) {
			t.Fatalf("bad password: %v", err)
		}
		if _, _, err := s.Login(ctx, "nobody", "password1", "", "192.0.2.1"); !errors.Is(err, fault.Unauthorized) {
			t.Fatalf("unknown user: %v", err)
		}
		_, tok, err := s.Login(ctx, "a@example.org", "password1", "test", "192.0.2.1")
		if err != nil {
			t.Fatal(err)
		}
		p, err := s.Authenticate(ctx, tok.AccessToken)
		if err != nil || p.Account.ID != a.ID || p.SessionID != tok.SessionID {
			t.Fatalf("authenticate: %+v %v", p, err)
		}
		if _, err := s.Authenticate(ctx, tok.RefreshToken); !errors.Is(err, identity.ErrWrongTokenType) {
			t.Fatalf("refresh token used as access: %v", err)
		}
		if _, _, err := s.Refresh(ctx, tok.AccessToken); !errors.Is(err, identity.ErrWrongTokenType) {
			t.Fatalf("access token used as refresh: %v", err)
		}
		_, tok2, err := s.Refresh(ctx, tok.RefreshToken)
		if err != nil || tok2.RefreshToken == tok.RefreshToken {
			t.Fatalf("refresh: %v", err)
		}
		// Reusing the rotated token after the grace is theft: the session
		// dies, including the access token issued from it and the newest
		// refresh token.
		clk.add(11 * time.Second)
		if _, _, err := s.Refresh(ctx, tok.RefreshToken); !errors.Is(err, identity.ErrSessionRevoked) {
			t.Fatalf("reuse: %v", err)
		}
		if !rec.has(identity.Revoked{SessionID: tok.SessionID}) {
			t.Fatal("reuse did not announce the revocation")
		}
		if _, _, err := s.Refresh(ctx, tok2.RefreshToken); err == nil {
			t.Fatal("session should be revoked after reuse")
		}
		if _, err := s.Authenticate(ctx, tok2.AccessToken); err == nil {
			t.Fatal("access token of a revoked session still works")
		}
	})
}

func TestTokensExpire(t *testing.T) {
	forEngine(t, func(t *testing.T, eng storetest.Engine) {
		ctx := context.Background()
		s, _, clk := newService(t, eng)
		a, _ := s.Register(ctx, identity.RegisterInput{Username: "carol", Password: "password1"})
		tok, err := s.OpenSession(ctx, a, "")
		if err != nil {
			t.Fatal(err)
		}
		clk.add(16 * time.Minute)
		if _, err := s.Authenticate(ctx, tok.AccessToken); !errors.Is(err, identity.ErrInvalidToken) {
			t.Fatalf("expired access token: %v", err)
		}
		if _, _, err := s.Refresh(ctx, tok.RefreshToken); err != nil {
			t.Fatalf("refresh within 7 days: %v", err)
		}
		clk.add(8 * 24 * time.Hour)
		if _, _, err := s.Refresh(ctx, tok.RefreshToken); err == nil {
			t.Fatal("expired refresh token accepted")
		}
		if _, err := s.Authenticate(ctx, "garbage.token.here"); !errors.Is(err, identity.ErrInvalidToken) {
			t.Fatalf("garbage: %v", err)
		}
	})
}

func TestDisableTakesEffectAtOnce(t *testing.T) {
	forEngine(t, func(t *testing.T, eng storetest.Engine) {
		ctx := context.Background()
		s, rec, _ := newService(t, eng)
		a, _ := s.Register(ctx, identity.RegisterInput{Username: "dave", Password: "password1"})
		tok, _ := s.OpenSession(ctx, a, "")
		if _, err := s.SetDisabled(ctx, a.ID, true); err != nil {
			t.Fatal(err)
		}
		if !rec.has(identity.Revoked{AccountID: a.ID}) {
			t.Fatal("disable did not announce")
		}
		if _, err := s.Authenticate(ctx, tok.AccessToken); err == nil {
			t.Fatal("disabled account still authenticates")
		}
		if _, _, err := s.Login(ctx, "dave", "password1", "", "192.0.2.1"); !errors.Is(err, fault.Forbidden) {
			t.Fatalf("disabled login: %v", err)
		}
		if _, err := s.SetDisabled(ctx, a.ID, false); err != nil {
			t.Fatal(err)
		}
		if _, _, err := s.Login(ctx, "dave", "password1", "", "192.0.2.1"); err != nil {
			t.Fatalf("re-enabled login: %v", err)
		}
	})
}

func TestBotAndIntegrationTokens(t *testing.T) {
	forEngine(t, func(t *testing.T, eng storetest.Engine) {
		ctx := context.Background()
		s, rec, _ := newService(t, eng)
		owner, _ := s.Register(ctx, identity.RegisterInput{Username: "erin", Password: "password1"})
		bot, bt, raw, err := s.CreateBot(ctx, owner.ID, "helper-bot-0a1b2c3d", "Helper")
		if err != nil {
			t.Fatal(err)
		}
		if len(raw) != 64 || strings.ToLower(raw) != raw {
			t.Fatalf("bot token must be 64 lowercase hex: %q", raw)
		}
		if bt.Hash == raw || strings.Contains(bt.Hash, raw) {
			t.Fatal("raw token stored")
		}
		p, err := s.AuthenticateToken(ctx, identity.BotToken, raw)
		if err != nil || p.Account.ID != bot.ID {
			t.Fatalf("bot auth: %v", err)
		}
		if _, err := s.AuthenticateToken(ctx, identity.IntegrationToken, raw); err == nil {
			t.Fatal("bot token accepted as integration token")
		}
		access, _, err := s.ExchangeBotToken(ctx, p)
		if err != nil {
			t.Fatal(err)
		}
		if p2, err := s.Authenticate(ctx, access); err != nil || p2.Account.ID != bot.ID || p2.Token == nil {
			t.Fatalf("exchanged token: %v", err)
		}
		if err := s.RevokeToken(ctx, bt.ID); err != nil {
			t.Fatal(err)
		}
		if !rec.has(identity.Revoked{TokenID: bt.ID}) {
			t.Fatal("revoke did not announce")
		}
		if _, err := s.AuthenticateToken(ctx, identity.BotToken, raw); err == nil {
			t.Fatal("revoked bot token works")
		}
		if _, err := s.Authenticate(ctx, access); err == nil {
			t.Fatal("access token from a revoked bot token works")
		}

		if _, _, _, err := s.CreateIntegrationToken(ctx, "x", []string{"ROOT"}); !errors.Is(err, fault.Invalid) {
			t.Fatalf("unknown scope: %v", err)
		}
		_, it, iraw, err := s.CreateIntegrationToken(ctx, "chat bot", []string{"CAN_SEND_MESSAGES"})
		if err != nil {
			t.Fatal(err)
		}
		ip, err := s.AuthenticateToken(ctx, identity.IntegrationToken, iraw)
		if err != nil || !ip.Token.HasScope("CAN_SEND_MESSAGES") || ip.Token.HasScope("HAS_ADMIN_ACCESS") {
			t.Fatalf("integration auth: %+v %v", ip, err)
		}
		if list, _ := s.ListTokens(ctx, identity.IntegrationToken); len(list) != 1 || list[0].ID != it.ID {
			t.Fatalf("list: %v", list)
		}
	})
}

func TestEnsureAdmin(t *testing.T) {
	forEngine(t, func(t *testing.T, eng storetest.Engine) {
		ctx := context.Background()
		s, _, _ := newService(t, eng)
		created, pw, err := s.EnsureAdmin(ctx, "admin", "")
		if err != nil || !created || len(pw) < 16 {
			t.Fatalf("first start: %v %v %q", created, err, pw)
		}
		if _, _, err := s.Login(ctx, "admin", pw, "", "192.0.2.1"); err != nil {
			t.Fatalf("admin login with generated password: %v", err)
		}
		created, pw2, err := s.EnsureAdmin(ctx, "admin", "")
		if err != nil || created || pw2 != "" {
			t.Fatal("second start must not create or print a password")
		}
	})
}

func TestSecretSharedAcrossInstances(t *testing.T) {
	t.Parallel()
	db := storetest.OpenSQLite(t)
	ctx := context.Background()
	s1, _ := identity.New(ctx, identity.Config{Argon2: fastArgon}, db.Identity(), nil, nil)
	s2, _ := identity.New(ctx, identity.Config{Argon2: fastArgon}, db.Identity(), nil, nil)
	a, _ := s1.Register(ctx, identity.RegisterInput{Username: "frank", Password: "password1"})
	tok, _ := s1.OpenSession(ctx, a, "")
	if _, err := s2.Authenticate(ctx, tok.AccessToken); err != nil {
		t.Fatalf("a second node must accept the first node's tokens: %v", err)
	}
}

func TestCheckAdminBasic(t *testing.T) {
	forEngine(t, func(t *testing.T, eng storetest.Engine) {
		ctx := context.Background()
		s, _, _ := newService(t, eng)
		// Enough ordinary accounts that the admin is not among the first page.
		for i := range 3 {
			if _, err := s.Register(ctx, identity.RegisterInput{Username: "user" + string(rune('a'+i)), Password: "password1"}); err != nil {
				t.Fatal(err)
			}
		}
		root, err := s.Register(ctx, identity.RegisterInput{Username: "root", Password: "abc123", Admin: true, OperatorChosen: true})
		if err != nil {
			t.Fatal(err)
		}
		tests := []struct {
			user, pass string
			ok         bool
		}{
			{"root", "abc123", true},
			{"admin", "abc123", true}, // Owncast's clients always send "admin"
			{"ADMIN", "abc123", false},
			{"admin", "wrong", false},
			{"usera", "password1", false}, // not an admin
			{"admin", "password1", false}, // a non-admin's password under "admin"
			{"admin", "", false},
		}
		for _, tc := range tests {
			a, err := s.CheckAdminBasic(ctx, tc.user, tc.pass, "192.0.2.1")
			if tc.ok != (err == nil) || (tc.ok && a.ID != root.ID) {
				t.Errorf("%s/%s: %v, want ok=%v", tc.user, tc.pass, err, tc.ok)
			}
		}
		// The instance keeps an active admin: root is disabled once another exists.
		if _, err := s.SetDisabled(ctx, root.ID, true); !errors.Is(err, identity.ErrLastAdmin) {
			t.Fatalf("disable the last admin: %v, want ErrLastAdmin", err)
		}
		if _, err := s.Register(ctx, identity.RegisterInput{Username: "deputy", Password: "deputy123", Admin: true, OperatorChosen: true}); err != nil {
			t.Fatal(err)
		}
		if _, err := s.SetDisabled(ctx, root.ID, true); err != nil {
			t.Fatal(err)
		}
		if _, err := s.CheckAdminBasic(ctx, "admin", "abc123", "192.0.2.1"); err == nil {
			t.Fatal("a disabled admin's password still opens the admin")
		}
	})
}

// TestHashingIsBounded: argon2id work waits for a slot, and a caller whose
// context ends while waiting gets Unavailable instead of hashing anyway.
func TestHashingIsBounded(t *testing.T) {
	t.Parallel()
	db := storetest.OpenSQLite(t)
	ctx := context.Background()
	s, err := identity.New(ctx, identity.Config{Argon2: fastArgon}, db.Identity(), nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Register(ctx, identity.RegisterInput{Username: "gina", Password: "password1"}); err != nil {
		t.Fatal(err)
	}
	release := identity.HoldHashSlots(s)
	cctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	if _, _, err := s.Login(cctx, "gina", "password1", "", "192.0.2.1"); !errors.Is(err, fault.Unavailable) {
		t.Fatalf("login with every slot taken: %v, want unavailable", err)
	}
	release()
	if _, _, err := s.Login(ctx, "gina", "password1", "", "192.0.2.1"); err != nil {
		t.Fatalf("login after release: %v", err)
	}
}

// TestRefreshGrace: two tabs refresh with the same token at once; the one
// that loses the rotation gets the same new pair back instead of revoking
// the session, within the grace only. After the grace, the same reuse
// revokes the session.
func TestRefreshGrace(t *testing.T) {
	forEngine(t, func(t *testing.T, eng storetest.Engine) {
		ctx := context.Background()
		s, rec, clk := newService(t, eng)
		a, err := s.Register(ctx, identity.RegisterInput{Username: "tabs", Password: "password1"})
		if err != nil {
			t.Fatal(err)
		}
		tok, err := s.OpenSession(ctx, a, "")
		if err != nil {
			t.Fatal(err)
		}
		_, first, err := s.Refresh(ctx, tok.RefreshToken)
		if err != nil {
			t.Fatal(err)
		}
		clk.add(5 * time.Second)
		who, second, err := s.Refresh(ctx, tok.RefreshToken)
		if err != nil || who.ID != a.ID {
			t.Fatalf("second tab within the grace: %v", err)
		}
		if *second != *first {
			t.Fatalf("second tab got another pair: %+v, want %+v", second, first)
		}
		if rec.has(identity.Revoked{SessionID: tok.SessionID}) {
			t.Fatal("the session was revoked")
		}
		// The shared pair goes on working.
		if _, err := s.Authenticate(ctx, first.AccessToken); err != nil {
			t.Fatalf("shared access token: %v", err)
		}
		_, third, err := s.Refresh(ctx, first.RefreshToken)
		if err != nil {
			t.Fatalf("rotating the shared refresh token: %v", err)
		}
		// Past the grace, presenting a rotated token is reuse again.
		clk.add(refreshGraceForTest + time.Second)
		if _, _, err := s.Refresh(ctx, first.RefreshToken); !errors.Is(err, identity.ErrSessionRevoked) {
			t.Fatalf("reuse after the grace: %v", err)
		}
		if _, _, err := s.Refresh(ctx, third.RefreshToken); err == nil {
			t.Fatal("session should be revoked after reuse")
		}
		// A revoked session gets nothing from the grace either.
		if _, _, err := s.Refresh(ctx, tok.RefreshToken); err == nil {
			t.Fatal("a revoked session refreshed")
		}
	})
}

// TestRefreshGraceSameClient: the grace is for the client that rotated
// the token; another client presenting it within the grace is reuse, and
// the session is revoked.
func TestRefreshGraceSameClient(t *testing.T) {
	forEngine(t, func(t *testing.T, eng storetest.Engine) {
		ctx := context.Background()
		s, rec, clk := newService(t, eng)
		a, err := s.Register(ctx, identity.RegisterInput{Username: "tabs", Password: "password1"})
		if err != nil {
			t.Fatal(err)
		}
		tok, err := s.OpenSession(ctx, a, "")
		if err != nil {
			t.Fatal(err)
		}
		_, first, err := s.RefreshFrom(ctx, tok.RefreshToken, "firefox|10.0.0.1")
		if err != nil {
			t.Fatal(err)
		}
		clk.add(2 * time.Second)
		if _, again, err := s.RefreshFrom(ctx, tok.RefreshToken, "firefox|10.0.0.1"); err != nil || *again != *first {
			t.Fatalf("the same client within the grace: %v", err)
		}
		if _, _, err := s.RefreshFrom(ctx, tok.RefreshToken, "curl|203.0.113.9"); !errors.Is(err, identity.ErrSessionRevoked) {
			t.Fatalf("another client within the grace: %v, want reuse", err)
		}
		if !rec.has(identity.Revoked{SessionID: tok.SessionID}) {
			t.Fatal("the session was not revoked")
		}
		if _, _, err := s.RefreshFrom(ctx, first.RefreshToken, "firefox|10.0.0.1"); err == nil {
			t.Fatal("the revoked session refreshed")
		}
	})
}

const refreshGraceForTest = 10 * time.Second

// TestRefreshGraceOnAnotherNode: the grace holds across the nodes of a
// cluster. Together's web client refreshes once per request that got a
// 401, so several refreshes with one token go out at once, and behind a
// load balancer they reach different nodes: the one that loses the
// rotation must hand out the winner's pair, not revoke the session.
func TestRefreshGraceOnAnotherNode(t *testing.T) {
	forEngine(t, func(t *testing.T, eng storetest.Engine) {
		ctx := context.Background()
		db := eng.Open(t)
		rec := &recorder{}
		clk := &clock{t: time.Now()}
		node := func() *identity.Service {
			s, err := identity.New(ctx, identity.Config{Argon2: fastArgon, Now: clk.now}, db.Identity(), rec, nil)
			if err != nil {
				t.Fatal(err)
			}
			return s
		}
		a, b := node(), node()
		acct, err := a.Register(ctx, identity.RegisterInput{Username: "lb", Password: "password1"})
		if err != nil {
			t.Fatal(err)
		}
		tok, err := a.OpenSession(ctx, acct, "")
		if err != nil {
			t.Fatal(err)
		}
		const browser = "firefox|10.0.0.1"
		_, first, err := a.RefreshFrom(ctx, tok.RefreshToken, browser)
		if err != nil {
			t.Fatal(err)
		}
		clk.add(3 * time.Second)
		who, again, err := b.RefreshFrom(ctx, tok.RefreshToken, browser)
		if err != nil || who.ID != acct.ID || *again != *first {
			t.Fatalf("the same client on another node within the grace: %+v %v, want %+v", again, err, first)
		}
		if rec.has(identity.Revoked{SessionID: tok.SessionID}) {
			t.Fatal("the session was revoked")
		}
		if _, err := b.Authenticate(ctx, again.AccessToken); err != nil {
			t.Fatalf("the pair from the other node: %v", err)
		}
		// The winner's pair rotates on either node; once it has, the
		// first token's grace is over (the session moved on) and
		// presenting it is reuse.
		_, third, err := b.RefreshFrom(ctx, again.RefreshToken, browser)
		if err != nil {
			t.Fatalf("rotating the shared pair: %v", err)
		}
		if _, _, err := a.RefreshFrom(ctx, tok.RefreshToken, browser); !errors.Is(err, identity.ErrSessionRevoked) {
			t.Fatalf("a token two rotations old: %v, want reuse", err)
		}
		if _, _, err := a.RefreshFrom(ctx, third.RefreshToken, browser); err == nil {
			t.Fatal("the session should be revoked after reuse")
		}
	})
}

// TestRefreshGraceOtherClientOnAnotherNode: another client presenting a
// just-rotated token on another node is reuse, as on the same node.
func TestRefreshGraceOtherClientOnAnotherNode(t *testing.T) {
	forEngine(t, func(t *testing.T, eng storetest.Engine) {
		ctx := context.Background()
		db := eng.Open(t)
		rec := &recorder{}
		clk := &clock{t: time.Now()}
		a, err := identity.New(ctx, identity.Config{Argon2: fastArgon, Now: clk.now}, db.Identity(), rec, nil)
		if err != nil {
			t.Fatal(err)
		}
		b, err := identity.New(ctx, identity.Config{Argon2: fastArgon, Now: clk.now}, db.Identity(), rec, nil)
		if err != nil {
			t.Fatal(err)
		}
		acct, err := a.Register(ctx, identity.RegisterInput{Username: "thief", Password: "password1"})
		if err != nil {
			t.Fatal(err)
		}
		tok, err := a.OpenSession(ctx, acct, "")
		if err != nil {
			t.Fatal(err)
		}
		if _, _, err := a.RefreshFrom(ctx, tok.RefreshToken, "firefox|10.0.0.1"); err != nil {
			t.Fatal(err)
		}
		if _, _, err := b.RefreshFrom(ctx, tok.RefreshToken, "curl|203.0.113.9"); !errors.Is(err, identity.ErrSessionRevoked) {
			t.Fatalf("another client on another node: %v, want reuse", err)
		}
		if !rec.has(identity.Revoked{SessionID: tok.SessionID}) {
			t.Fatal("the session was not revoked")
		}
	})
}

// TestAdminSession: the admin page's session check takes an instance
// admin's access token while its session lives, even once the token has
// expired; not a non-admin's, not a refresh token, not after sign-out or a
// change of password.
func TestAdminSession(t *testing.T) {
	forEngine(t, func(t *testing.T, eng storetest.Engine) {
		ctx := context.Background()
		s, _, clk := newService(t, eng)
		if _, _, err := s.EnsureAdmin(ctx, "boss", "password1"); err != nil {
			t.Fatal(err)
		}
		boss, err := s.AccountByUsername(ctx, "boss")
		if err != nil {
			t.Fatal(err)
		}
		ann, err := s.Register(ctx, identity.RegisterInput{Username: "ann", Password: "password1"})
		if err != nil {
			t.Fatal(err)
		}
		tok, err := s.OpenSession(ctx, boss, "")
		if err != nil {
			t.Fatal(err)
		}
		annTok, err := s.OpenSession(ctx, ann, "")
		if err != nil {
			t.Fatal(err)
		}
		if a, err := s.AdminSession(ctx, tok.AccessToken); err != nil || a.ID != boss.ID {
			t.Fatalf("admin's live session: %v", err)
		}
		clk.add(time.Hour) // the access token has expired; the session lives
		if _, err := s.Authenticate(ctx, tok.AccessToken); err == nil {
			t.Fatal("the access token should have expired")
		}
		if _, err := s.AdminSession(ctx, tok.AccessToken); err != nil {
			t.Fatalf("admin's session with an expired access token: %v", err)
		}
		for name, raw := range map[string]string{"non-admin": annTok.AccessToken, "refresh token": tok.RefreshToken, "garbage": "a.b.c"} {
			if _, err := s.AdminSession(ctx, raw); err == nil {
				t.Errorf("%s passed", name)
			}
		}
		if err := s.Logout(ctx, tok.SessionID); err != nil {
			t.Fatal(err)
		}
		if _, err := s.AdminSession(ctx, tok.AccessToken); err == nil {
			t.Fatal("a signed-out session passed")
		}
		tok2, err := s.OpenSession(ctx, boss, "")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.ChangePassword(ctx, boss.ID, "password1", "password2", "", ""); err != nil {
			t.Fatal(err)
		}
		if _, err := s.AdminSession(ctx, tok2.AccessToken); err == nil {
			t.Fatal("a session from before the change of password passed")
		}
	})
}

// TestRefreshGraceConcurrent: a page whose requests all got a 401 at once
// refreshes once per request, at the same moment, on two nodes; one wins
// the rotation and every other gets the winner's pair.
func TestRefreshGraceConcurrent(t *testing.T) {
	forEngine(t, func(t *testing.T, eng storetest.Engine) {
		ctx := context.Background()
		db := eng.Open(t)
		rec := &recorder{}
		nodes := make([]*identity.Service, 2)
		for i := range nodes {
			s, err := identity.New(ctx, identity.Config{Argon2: fastArgon}, db.Identity(), rec, nil)
			if err != nil {
				t.Fatal(err)
			}
			nodes[i] = s
		}
		acct, err := nodes[0].Register(ctx, identity.RegisterInput{Username: "burst", Password: "password1"})
		if err != nil {
			t.Fatal(err)
		}
		tok, err := nodes[0].OpenSession(ctx, acct, "")
		if err != nil {
			t.Fatal(err)
		}
		got := make([]*identity.Tokens, 8)
		errs := make([]error, len(got))
		var wg sync.WaitGroup
		for i := range got {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, got[i], errs[i] = nodes[i%2].RefreshFrom(ctx, tok.RefreshToken, "firefox|10.0.0.1")
			}()
		}
		wg.Wait()
		for i := range got {
			if errs[i] != nil {
				t.Fatalf("refresh %d: %v", i, errs[i])
			}
			if *got[i] != *got[0] {
				t.Fatalf("refresh %d got another pair", i)
			}
		}
		if rec.has(identity.Revoked{SessionID: tok.SessionID}) {
			t.Fatal("the session was revoked")
		}
	})
}
