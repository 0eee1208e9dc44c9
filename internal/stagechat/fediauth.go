package stagechat

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/hearth-community/hearth/internal/fault"
	"github.com/hearth-community/hearth/internal/identity"
)

// ProviderFediverse marks an identity linked by fediverse sign-in.
const ProviderFediverse = "FEDIVERSE"

// fediCodeTTL is how long a one-time code stays valid.
const fediCodeTTL = 10 * time.Minute

// DirectSender sends a direct message to a fediverse account (user@host):
// the federation service.
type DirectSender interface {
	SendDirect(ctx context.Context, account, text string) error
}

// FediverseAuth is Owncast's fediverse chat sign-in: a one-time code is
// sent to the account as a direct message, and the chat user who enters it
// is authenticated as that account.
type FediverseAuth struct {
	chat *Service
	st   AuthStore
	send DirectSender
}

// NewFediverseAuth builds the sign-in.
func NewFediverseAuth(chat *Service, st AuthStore, send DirectSender) (*FediverseAuth, error) {
	if chat == nil || st == nil || send == nil {
		return nil, errors.New("stagechat: fediverse sign-in needs the chat, a store and a sender")
	}
	return &FediverseAuth{chat: chat, st: st, send: send}, nil
}

// codeAlphabet leaves out look-alike characters.
const codeAlphabet = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"

func oneTimeCode() string {
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	for i := range b {
		b[i] = codeAlphabet[int(b[i])%len(codeAlphabet)]
	}
	return string(b)
}

// Start sends a one-time code to account for u (who holds chatToken).
func (a *FediverseAuth) Start(ctx context.Context, u *User, chatToken, account string) error {
	account = strings.TrimPrefix(strings.TrimSpace(account), "@")
	if _, _, ok := strings.Cut(account, "@"); !ok || len(account) > 320 {
		return fault.New(fault.Invalid, "account must be user@host")
	}
	n, err := a.st.PendingAuthRequests(ctx, a.chat.now().Add(-fediCodeTTL))
	if err != nil {
		return err
	}
	if n >= maxPendingIndieAuth {
		return fault.New(fault.RateLimited, "Please try again later. Too many pending requests.")
	}
	code := oneTimeCode()
	r := &AuthRequest{State: "fediverse:" + code, AccountID: u.ID, TokenHash: identity.HashToken(chatToken),
		DisplayName: u.DisplayName, Me: strings.ToLower(account), CreatedAt: a.chat.now().UTC()}
	if err := a.st.CreateAuthRequest(ctx, r); err != nil {
		return err
	}
	name := a.chat.Settings().Name
	return a.send.SendDirect(ctx, account, fmt.Sprintf("Your one-time code to sign in to the chat on %s is: %s", name, code))
}

// Verify completes a sign-in with the code from the direct message.
func (a *FediverseAuth) Verify(ctx context.Context, code string) error {
	code = strings.ToUpper(strings.TrimSpace(code))
	if code == "" {
		return fault.New(fault.Invalid, "code is required")
	}
	r, err := a.st.TakeAuthRequest(ctx, "fediverse:"+code)
	if errors.Is(err, fault.NotFound) || (err == nil && a.chat.now().Sub(r.CreatedAt) > fediCodeTTL) {
		return fault.New(fault.Invalid, "invalid or expired code")
	}
	if err != nil {
		return err
	}
	now := a.chat.now().UTC()
	owner, err := a.st.AuthAccount(ctx, ProviderFediverse, r.Me)
	switch {
	case err == nil && owner != r.AccountID:
		// The account signed in before as another chat user: this
		// browser's token now belongs to that user.
		return a.st.SetChatTokenAccount(ctx, r.TokenHash, owner)
	case err == nil:
	case !errors.Is(err, fault.NotFound):
		return err
	default:
		if err := a.st.LinkAuth(ctx, ProviderFediverse, r.Me, r.AccountID, now); err != nil {
			return err
		}
	}
	u, err := a.chat.st.User(ctx, r.AccountID)
	if err != nil {
		return err
	}
	u.AuthenticatedAt = &now
	if err := a.chat.st.SaveUser(ctx, u); err != nil {
		return err
	}
	a.chat.publish(ctx, Event{Type: EventUserUpdated, User: u})
	return nil
}
