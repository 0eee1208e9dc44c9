package identity

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"runtime/debug"
	"strings"
	"time"

	"golang.org/x/crypto/argon2"

	"github.com/hearth-community/hearth/internal/fault"
)

// Argon2Params are the argon2id cost parameters. Hashes record their own
// parameters (PHC string form), so raising these later keeps old hashes valid.
type Argon2Params struct {
	Memory  uint32 // KiB
	Time    uint32
	Threads uint8
}

// DefaultArgon2 is one of OWASP's equivalent argon2id minimums: 9 MiB, 4
// passes, 1 lane (the list also gives 19 MiB with 2 passes; each costs the
// same CPU and resists attack equally). The smaller block halves what each
// sign-in holds: hashes are 9 MiB of garbage apiece, and a burst of
// sign-ins had been the largest thing in Hearth's memory.
var DefaultArgon2 = Argon2Params{Memory: 9 * 1024, Time: 4, Threads: 1}

const (
	saltLen = 16
	keyLen  = 32
)

// HashPassword returns a PHC string: $argon2id$v=19$m=…,t=…,p=…$salt$hash.
func HashPassword(password string, p Argon2Params) (string, error) {
	salt := make([]byte, saltLen)
	if _, err := rand.Read(salt); err != nil {
		return "", fmt.Errorf("hash password: %w", err)
	}
	key := argon2.IDKey([]byte(password), salt, p.Time, p.Memory, p.Threads, keyLen)
	enc := base64.RawStdEncoding
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2.Version, p.Memory, p.Time, p.Threads,
		enc.EncodeToString(salt), enc.EncodeToString(key)), nil
}

var errBadHash = errors.New("identity: malformed password hash")

// CheckPassword reports whether password matches the PHC hash, in constant
// time. A malformed hash never matches. It is the bare comparison, with no
// sign-in limit: a check of a client's password goes through the Service
// (CheckCredentials, VerifyPassword, CheckAdminBasic), which counts it.
func CheckPassword(password, phc string) bool {
	parts := strings.Split(phc, "$")
	if len(parts) != 6 || parts[1] != "argon2id" {
		return false
	}
	var v int
	if _, err := fmt.Sscanf(parts[2], "v=%d", &v); err != nil || v != argon2.Version {
		return false
	}
	var p Argon2Params
	if _, err := fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &p.Memory, &p.Time, &p.Threads); err != nil {
		return false
	}
	if p.Memory == 0 || p.Memory > 1<<22 || p.Time == 0 || p.Time > 16 || p.Threads == 0 {
		return false
	}
	enc := base64.RawStdEncoding
	salt, err1 := enc.DecodeString(parts[4])
	want, err2 := enc.DecodeString(parts[5])
	if err1 != nil || err2 != nil || len(want) == 0 || len(want) > 128 {
		return false
	}
	got := argon2.IDKey([]byte(password), salt, p.Time, p.Memory, p.Threads, uint32(len(want)))
	return subtle.ConstantTimeCompare(got, want) == 1
}

// hashSlot bounds concurrent argon2id work: each hash or check holds
// Argon2.Memory (9 MiB by default), so an unbounded burst of sign-ins from
// any surface would exhaust memory (500 at once ≈ 4.5 GiB). Callers beyond the
// bound wait for a slot or give up with their context (fault.Unavailable).
//
// A sign-in attempt takes its slot before it is charged to the sign-in
// limits (beginAttempt) and holds it through the check; the checks under it
// see slotHeld in their context and take no second slot.
func (s *Service) hashSlot(ctx context.Context) (release func(), err error) {
	if ctx.Value(slotHeld{}) != nil {
		return func() {}, nil
	}
	s.slotWaiters.Add(1)
	defer s.slotWaiters.Add(-1)
	select {
	case s.hashing <- struct{}{}:
		return s.releaseSlot, nil
	case <-ctx.Done():
		return nil, fault.Wrap(fault.Unavailable, "Server busy, try again", ctx.Err())
	}
}

// releaseAfter is how long the hashing slots must have stayed empty before
// argon2id's memory goes back to the OS.
const releaseAfter = 2 * time.Second

// releaseSlot frees a hashing slot. The last one out, with nobody waiting,
// schedules hashingDone.
func (s *Service) releaseSlot() {
	<-s.hashing
	if len(s.hashing) == 0 && s.slotWaiters.Load() == 0 && s.freeArmed.CompareAndSwap(false, true) {
		time.AfterFunc(releaseAfter, s.hashingDone)
	}
}

// hashingDone returns the heap that a burst of password hashing left free
// to the OS once no hash has run for releaseAfter. Each argon2id hash
// allocates Argon2.Memory (9 MiB) at once; after a sign-in storm the
// collector keeps those pages for its next cycles and the background
// scavenger gives them back over minutes, so a server that had 1,000
// sign-ups kept their memory in its RSS through the steady state. One
// forced collection per storm (at most one per releaseAfter) costs
// milliseconds.
func (s *Service) hashingDone() {
	s.freeArmed.Store(false)
	if len(s.hashing) == 0 && s.slotWaiters.Load() == 0 {
		debug.FreeOSMemory()
	}
}

func (s *Service) hashPassword(ctx context.Context, password string) (string, error) {
	release, err := s.hashSlot(ctx)
	if err != nil {
		return "", err
	}
	defer release()
	return HashPassword(password, s.cfg.Argon2)
}

func (s *Service) checkPassword(ctx context.Context, password, phc string) (bool, error) {
	release, err := s.hashSlot(ctx)
	if err != nil {
		return false, err
	}
	defer release()
	return CheckPassword(password, phc), nil
}

// ChangePassword is an account holder changing their own password: the
// current one is checked under the sign-in limits (a wrong one is
// fault.Forbidden, so a client does not take it for an expired token), the
// new one replaces it, every session of the account is signed out, and a
// fresh session is opened for the caller, who stays signed in.
func (s *Service) ChangePassword(ctx context.Context, accountID, current, next, addr, userAgent string) (*Tokens, error) {
	if n := len(next); n < 8 || n > 128 {
		return nil, fault.New(fault.Invalid, "password must be 8-128 characters")
	}
	if err := s.VerifyPassword(ctx, accountID, current, addr); err != nil {
		if fault.KindOf(err) == fault.Unauthorized {
			return nil, fault.New(fault.Forbidden, "Current password is incorrect")
		}
		return nil, err
	}
	if err := s.SetPassword(ctx, accountID, next); err != nil {
		return nil, err
	}
	a, err := s.st.AccountByID(ctx, accountID)
	if err != nil {
		return nil, err
	}
	return s.OpenSession(ctx, a, userAgent)
}

// slotHeld marks a context whose caller holds a hashing slot.
type slotHeld struct{}
