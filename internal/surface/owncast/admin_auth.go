package owncast

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"sync"
	"time"

	"github.com/hearth-community/hearth/internal/identity"
)

// adminVerified remembers Basic credentials that verified recently, for
// the requests the sign-in limits refuse while a stranger is guessing at
// the admin's name (every other request checks the password). An entry is keyed by an HMAC
// (random per-process key) of the credentials, lives five minutes, and only
// counts while the account is still an enabled admin with the same password
// hash, so a password change or disable takes effect at once.
type adminVerified struct {
	key []byte
	mu  sync.Mutex
	m   map[[32]byte]verifiedAdmin
}

type verifiedAdmin struct {
	accountID, hash string
	until           time.Time
}

const adminVerifiedTTL = 5 * time.Minute

func newAdminVerified() *adminVerified {
	k := make([]byte, 32)
	_, _ = rand.Read(k)
	return &adminVerified{key: k, m: map[[32]byte]verifiedAdmin{}}
}

func (v *adminVerified) id(user, pass string) [32]byte {
	m := hmac.New(sha256.New, v.key)
	m.Write([]byte(user))
	m.Write([]byte{0})
	m.Write([]byte(pass))
	var out [32]byte
	copy(out[:], m.Sum(nil))
	return out
}

func (v *adminVerified) lookup(ctx context.Context, idn *identity.Service, user, pass string) *identity.Account {
	k := v.id(user, pass)
	v.mu.Lock()
	e, ok := v.m[k]
	v.mu.Unlock()
	if !ok || time.Now().After(e.until) {
		return nil
	}
	a, err := idn.Account(ctx, e.accountID)
	if err != nil || !a.IsAdmin || a.Disabled() || a.PasswordHash != e.hash {
		v.mu.Lock()
		delete(v.m, k)
		v.mu.Unlock()
		return nil
	}
	return a
}

func (v *adminVerified) remember(user, pass string, a *identity.Account) {
	k := v.id(user, pass)
	v.mu.Lock()
	defer v.mu.Unlock()
	if len(v.m) >= 1000 {
		clear(v.m)
	}
	v.m[k] = verifiedAdmin{accountID: a.ID, hash: a.PasswordHash, until: time.Now().Add(adminVerifiedTTL)}
}
