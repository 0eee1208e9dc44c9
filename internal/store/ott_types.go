package store

import "time"

// OTTSession is an OpenTogetherTube session token: an opaque token (only its
// hash is stored) that acts as an account. A new token acts as a fresh
// Hearth guest; logging in points it at the registered account, logging out
// points it back at the guest.
type OTTSession struct {
	TokenHash string
	AccountID string
	GuestID   string
	// SessionID is the Hearth session whose access token signed the token
	// in to AccountID ("" for a password sign-in or a guest): signing it
	// out signs the token out (Identity.RevokeSession).
	SessionID string
	CreatedAt time.Time
	ExpiresAt time.Time
}
