// Package webpush sends Web Push messages: payload encryption as RFC 8291
// (aes128gcm, RFC 8188) and VAPID authentication as RFC 8292, with the
// standard library and golang-jwt. It holds no product logic; callers pass
// the HTTP client (the SSRF-safe egress client) that reaches push services.
package webpush

import (
	"bytes"
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// Subscription is a browser's PushSubscription as JSON-serialised by
// PushSubscription.toJSON(): {"endpoint": …, "keys": {"p256dh": …, "auth": …}}.
type Subscription struct {
	Endpoint string `json:"endpoint"`
	Keys     struct {
		P256dh string `json:"p256dh"`
		Auth   string `json:"auth"`
	} `json:"keys"`
}

// ErrBadSubscription is returned for a subscription that cannot be used.
var ErrBadSubscription = errors.New("webpush: invalid subscription")

// ParseSubscription decodes and checks a subscription: an http(s) endpoint
// (browsers give https; the caller's client decides which addresses it may
// reach), a P-256 public key and a 16-byte auth secret.
func ParseSubscription(raw []byte) (*Subscription, error) {
	var s Subscription
	if err := json.Unmarshal(raw, &s); err != nil {
		return nil, ErrBadSubscription
	}
	u, err := url.Parse(s.Endpoint)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || len(s.Endpoint) > 2048 {
		return nil, ErrBadSubscription
	}
	if _, _, err := s.keys(); err != nil {
		return nil, err
	}
	return &s, nil
}

func (s *Subscription) keys() (*ecdh.PublicKey, []byte, error) {
	pub, err := decode(s.Keys.P256dh)
	if err != nil {
		return nil, nil, ErrBadSubscription
	}
	ua, err := ecdh.P256().NewPublicKey(pub)
	if err != nil {
		return nil, nil, ErrBadSubscription
	}
	auth, err := decode(s.Keys.Auth)
	if err != nil || len(auth) != 16 {
		return nil, nil, ErrBadSubscription
	}
	return ua, auth, nil
}

// decode accepts base64url with or without padding (browsers send it
// unpadded; some libraries pad).
func decode(s string) ([]byte, error) {
	return base64.RawURLEncoding.DecodeString(strings.TrimRight(s, "="))
}

// recordSize is the aes128gcm record size written in the header (one
// record carries the whole payload).
const recordSize = 4096

// MaxPayload is the largest plaintext one record carries: record size,
// minus the AEAD tag and the delimiter octet.
const MaxPayload = recordSize - 16 - 1

// Encrypt encrypts payload for the subscription (RFC 8291 §3.4), with a
// fresh ephemeral key and salt.
func Encrypt(sub *Subscription, payload []byte) ([]byte, error) {
	as, err := ecdh.P256().GenerateKey(rand.Reader)
	if err != nil {
		return nil, err
	}
	salt := make([]byte, 16)
	if _, err := rand.Read(salt); err != nil {
		return nil, err
	}
	return encrypt(sub, payload, as, salt)
}

func encrypt(sub *Subscription, payload []byte, as *ecdh.PrivateKey, salt []byte) ([]byte, error) {
	if len(payload) > MaxPayload {
		return nil, fmt.Errorf("webpush: payload of %d bytes exceeds %d", len(payload), MaxPayload)
	}
	ua, auth, err := sub.keys()
	if err != nil {
		return nil, err
	}
	secret, err := as.ECDH(ua)
	if err != nil {
		return nil, ErrBadSubscription
	}
	asPub := as.PublicKey().Bytes()
	// IKM = HKDF(auth_secret, ecdh_secret, "WebPush: info" || 0x00 || ua_public || as_public, 32)
	prkKey, err := hkdf.Extract(sha256.New, secret, auth)
	if err != nil {
		return nil, err
	}
	info := "WebPush: info\x00" + string(ua.Bytes()) + string(asPub)
	ikm, err := hkdf.Expand(sha256.New, prkKey, info, 32)
	if err != nil {
		return nil, err
	}
	prk, err := hkdf.Extract(sha256.New, ikm, salt)
	if err != nil {
		return nil, err
	}
	cek, err := hkdf.Expand(sha256.New, prk, "Content-Encoding: aes128gcm\x00", 16)
	if err != nil {
		return nil, err
	}
	nonce, err := hkdf.Expand(sha256.New, prk, "Content-Encoding: nonce\x00", 12)
	if err != nil {
		return nil, err
	}
	block, err := aes.NewCipher(cek)
	if err != nil {
		return nil, err
	}
	gcm, err := cipher.NewGCM(block)
	if err != nil {
		return nil, err
	}
	// Header: salt (16) || rs (uint32) || idlen (1) || keyid (as_public).
	out := make([]byte, 0, 16+4+1+len(asPub)+len(payload)+1+gcm.Overhead())
	out = append(out, salt...)
	out = binary.BigEndian.AppendUint32(out, recordSize)
	out = append(out, byte(len(asPub)))
	out = append(out, asPub...)
	plain := append(append(make([]byte, 0, len(payload)+1), payload...), 0x02) // last-record delimiter
	return gcm.Seal(out, nonce, plain, nil), nil
}

// VAPID is an application server's key pair (RFC 8292), as Owncast and
// webpush-go store it: base64url of the 32-byte private scalar and of the
// 65-byte uncompressed public point.
type VAPID struct {
	PublicKey  string
	PrivateKey string
}

// GenerateVAPID makes a new key pair.
func GenerateVAPID() (VAPID, error) {
	k, err := ecdh.P256().GenerateKey(rand.Reader)
	if err != nil {
		return VAPID{}, err
	}
	return VAPID{PublicKey: base64.RawURLEncoding.EncodeToString(k.PublicKey().Bytes()),
		PrivateKey: base64.RawURLEncoding.EncodeToString(k.Bytes())}, nil
}

func (v VAPID) signer() (*ecdsa.PrivateKey, error) {
	d, err := decode(v.PrivateKey)
	if err != nil || len(d) != 32 {
		return nil, errors.New("webpush: invalid VAPID private key")
	}
	pub, err := decode(v.PublicKey)
	if err != nil {
		return nil, errors.New("webpush: invalid VAPID public key")
	}
	k, err := ecdsa.ParseRawPrivateKey(elliptic.P256(), d)
	if err != nil {
		return nil, errors.New("webpush: invalid VAPID private key")
	}
	if got, err := k.PublicKey.Bytes(); err != nil || !bytes.Equal(got, pub) {
		return nil, errors.New("webpush: VAPID keys do not match")
	}
	return k, nil
}

// Authorization is the RFC 8292 header value for a request to endpoint:
// "vapid t=<ES256 JWT>, k=<public key>".
func (v VAPID) Authorization(endpoint, subscriber string, exp time.Time) (string, error) {
	key, err := v.signer()
	if err != nil {
		return "", err
	}
	u, err := url.Parse(endpoint)
	if err != nil {
		return "", ErrBadSubscription
	}
	claims := jwt.MapClaims{"aud": u.Scheme + "://" + u.Host, "exp": exp.Unix()}
	if subscriber != "" {
		claims["sub"] = subscriber
	}
	tok, err := jwt.NewWithClaims(jwt.SigningMethodES256, claims).SignedString(key)
	if err != nil {
		return "", fmt.Errorf("webpush: sign VAPID token: %w", err)
	}
	return "vapid t=" + tok + ", k=" + v.PublicKey, nil
}

// Doer sends requests: the egress client.
type Doer interface {
	Do(req *http.Request) (*http.Response, error)
}

// Options of one message.
type Options struct {
	VAPID      VAPID
	Subscriber string        // RFC 8292 "sub": a mailto: or https: contact
	TTL        time.Duration // how long the push service keeps it
	Topic      string        // replaces an undelivered message with the same topic
}

// ErrGone means the push service no longer knows the subscription (404 or
// 410): the caller should forget it.
var ErrGone = errors.New("webpush: subscription expired or unsubscribed")

// Seal encrypts payload for the subscription and returns the body and
// every header of its push request (a POST to sub.Endpoint), with a VAPID
// token signed at now: what Send posts. A caller that posts it itself (a
// durable queue, sealing each attempt afresh) sends the same request.
func Seal(sub *Subscription, payload []byte, o Options, now time.Time) ([]byte, http.Header, error) {
	body, err := Encrypt(sub, payload)
	if err != nil {
		return nil, nil, err
	}
	auth, err := o.VAPID.Authorization(sub.Endpoint, o.Subscriber, now.Add(12*time.Hour))
	if err != nil {
		return nil, nil, err
	}
	h := http.Header{}
	h.Set("Content-Type", "application/octet-stream")
	h.Set("Content-Encoding", "aes128gcm")
	h.Set("TTL", strconv.Itoa(int(o.TTL/time.Second)))
	if o.Topic != "" {
		h.Set("Topic", o.Topic)
	}
	h.Set("Authorization", auth)
	return body, h, nil
}

// Send encrypts payload and posts it to the subscription's push service.
func Send(ctx context.Context, client Doer, sub *Subscription, payload []byte, o Options) error {
	body, h, err := Seal(sub, payload, o, time.Now())
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, sub.Endpoint, bytes.NewReader(body))
	if err != nil {
		return ErrBadSubscription
	}
	req.Header = h
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 16<<10))
	return StatusErr(resp.StatusCode)
}

// StatusErr is what a push service's answer with status code means: nil
// for 2xx, ErrGone for 404 and 410 (forget the subscription), else an
// error naming the status.
func StatusErr(code int) error {
	switch {
	case code == http.StatusGone || code == http.StatusNotFound:
		return ErrGone
	case code < 200 || code > 299:
		return fmt.Errorf("webpush: push service answered %d", code)
	}
	return nil
}
