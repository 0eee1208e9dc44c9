package identity

import (
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
)

// integrationTokenLabel separates the integration-token key from every
// other use of the signing secret.
const integrationTokenLabel = "hearth integration token v1"

// integrationKey is K = HMAC-SHA256(signing secret, label).
func (s *Service) integrationKey() []byte { return s.subkey(integrationTokenLabel) }

// subkey derives the key of one use of the signing secret:
// HMAC-SHA256(secret, label), a label per use.
func (s *Service) subkey(label string) []byte {
	m := hmac.New(sha256.New, s.secret)
	m.Write([]byte(label))
	return m.Sum(nil)
}

// integrationTokenFor derives an integration token from its id:
// base64url(HMAC-SHA256(K, id)). Only its SHA-256 hash is stored, yet the
// admin listing can show it again (Owncast's clients expect that), and only
// a holder of the signing secret can compute it.
func (s *Service) integrationTokenFor(tokenID string) string {
	m := hmac.New(sha256.New, s.integrationKey())
	m.Write([]byte(tokenID))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// IntegrationTokenValue recomputes an integration token from its id. It
// reports false when the recomputed value does not hash to the stored hash:
// a token issued before tokens were derived, or under another signing
// secret, is never shown with a wrong value.
func (s *Service) IntegrationTokenValue(t *Token) (string, bool) {
	if t == nil || t.Kind != IntegrationToken {
		return "", false
	}
	raw := s.integrationTokenFor(t.ID)
	if subtle.ConstantTimeCompare([]byte(HashToken(raw)), []byte(t.Hash)) != 1 {
		return "", false
	}
	return raw, true
}
