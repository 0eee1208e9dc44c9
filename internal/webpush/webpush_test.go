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
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// RFC 8291 Appendix A: published test data.
const (
	rfcPlain     = "When I grow up, I want to be a watermelon"
	rfcASPrivate = "yfWPiYE-n46HLnH0KqZOF1fJJU3MYrct3AELtAQ-oRw"
	rfcUAPrivate = "q1dXpw3UpT5VOmu_cf_v6ih07Aems3njxI-JWgLcM94"
	rfcUAPublic  = "BCVxsr7N_eNgVRqvHtD0zTZsEc6-VV-JvLexhqUzORcxaOzi6-AYWXvTBHm4bjyPjs7Vd8pZGH6SRpkNtoIAiw4"
	rfcSalt      = "DGv6ra1nlYgDCS1FRnbzlw"
	rfcAuth      = "BTBZMqHH6r4Tts7J_aSIgg"
	rfcBody      = "DGv6ra1nlYgDCS1FRnbzlwAAEABBBP4z9KsN6nGRTbVYI_c7VJSPQTBtkgcy27mlmlMoZIIgDll6e3vCYLocInmYWAmS6TlzAC8wEqKK6PBru3jl7A_yl95bQpu6cVPTpK4Mqgkf1CXztLVBSt2Ks3oZwbuwXPXLWyouBWLVWGNWQexSgSxsj_Qulcy4a-fN"
)

func b64(t *testing.T, s string) []byte {
	t.Helper()
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func rfcSubscription() *Subscription {
	s := &Subscription{Endpoint: "https://push.example.net/push/JzLQ3raZJfFBR0aqvOMsLrt54w4rJUsV"}
	s.Keys.P256dh, s.Keys.Auth = rfcUAPublic, rfcAuth
	return s
}

func TestEncryptMatchesRFC8291Vector(t *testing.T) {
	t.Parallel()
	as, err := ecdh.P256().NewPrivateKey(b64(t, rfcASPrivate))
	if err != nil {
		t.Fatal(err)
	}
	got, err := encrypt(rfcSubscription(), []byte(rfcPlain), as, b64(t, rfcSalt))
	if err != nil {
		t.Fatal(err)
	}
	if want := b64(t, rfcBody); !bytes.Equal(got, want) {
		t.Fatalf("ciphertext\n got %s\nwant %s", base64.RawURLEncoding.EncodeToString(got), rfcBody)
	}
}

// decrypt is the user agent's side (RFC 8291 §3.4, RFC 8188), written
// apart from encrypt.
func decrypt(t *testing.T, body []byte, ua *ecdh.PrivateKey, auth []byte) []byte {
	t.Helper()
	salt, rs, idlen := body[:16], binary.BigEndian.Uint32(body[16:20]), int(body[20])
	keyID, ct := body[21:21+idlen], body[21+idlen:]
	if rs != 4096 || len(ct) > int(rs) {
		t.Fatalf("record size %d, ciphertext %d", rs, len(ct))
	}
	as, err := ecdh.P256().NewPublicKey(keyID)
	if err != nil {
		t.Fatal(err)
	}
	secret, err := ua.ECDH(as)
	if err != nil {
		t.Fatal(err)
	}
	prk0, _ := hkdf.Extract(sha256.New, secret, auth)
	ikm, _ := hkdf.Expand(sha256.New, prk0, "WebPush: info\x00"+string(ua.PublicKey().Bytes())+string(keyID), 32)
	prk, _ := hkdf.Extract(sha256.New, ikm, salt)
	cek, _ := hkdf.Expand(sha256.New, prk, "Content-Encoding: aes128gcm\x00", 16)
	nonce, _ := hkdf.Expand(sha256.New, prk, "Content-Encoding: nonce\x00", 12)
	block, _ := aes.NewCipher(cek)
	gcm, _ := cipher.NewGCM(block)
	plain, err := gcm.Open(nil, nonce, ct, nil)
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	plain = bytes.TrimRight(plain, "\x00")
	if len(plain) == 0 || plain[len(plain)-1] != 0x02 {
		t.Fatal("missing last-record delimiter")
	}
	return plain[:len(plain)-1]
}

func TestDecryptOpensRFC8291Vector(t *testing.T) {
	t.Parallel()
	ua, err := ecdh.P256().NewPrivateKey(b64(t, rfcUAPrivate))
	if err != nil {
		t.Fatal(err)
	}
	if got := decrypt(t, b64(t, rfcBody), ua, b64(t, rfcAuth)); string(got) != rfcPlain {
		t.Fatalf("decrypt %q", got)
	}
}

func TestParseSubscription(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		raw  string
		ok   bool
	}{
		{"browser subscription", `{"endpoint":"https://fcm.googleapis.com/fcm/send/abc","expirationTime":null,"keys":{"p256dh":"` + rfcUAPublic + `","auth":"` + rfcAuth + `"}}`, true},
		{"padded keys", `{"endpoint":"https://push.example/x","keys":{"p256dh":"` + rfcUAPublic + `=","auth":"` + rfcAuth + `=="}}`, true},
		{"ftp endpoint", `{"endpoint":"ftp://push.example/x","keys":{"p256dh":"` + rfcUAPublic + `","auth":"` + rfcAuth + `"}}`, false},
		{"relative endpoint", `{"endpoint":"/push/x","keys":{"p256dh":"` + rfcUAPublic + `","auth":"` + rfcAuth + `"}}`, false},
		{"no endpoint", `{"keys":{"p256dh":"` + rfcUAPublic + `","auth":"` + rfcAuth + `"}}`, false},
		{"point not on curve", `{"endpoint":"https://push.example/x","keys":{"p256dh":"BAAA","auth":"` + rfcAuth + `"}}`, false},
		{"short auth", `{"endpoint":"https://push.example/x","keys":{"p256dh":"` + rfcUAPublic + `","auth":"AAAA"}}`, false},
		{"not JSON", `push me`, false},
		{"a string", `"https://push.example/x"`, false},
	}
	for _, tc := range cases {
		if _, err := ParseSubscription([]byte(tc.raw)); (err == nil) != tc.ok {
			t.Errorf("%s: err %v", tc.name, err)
		}
	}
}

// TestSend posts to a local push service that checks what a real one does:
// the VAPID JWT (ES256 under the advertised key, aud = the endpoint's
// origin), TTL, topic, encoding, and that the subscriber can decrypt.
func TestSend(t *testing.T) {
	t.Parallel()
	ua, _ := ecdh.P256().GenerateKey(rand.Reader)
	auth := make([]byte, 16)
	rand.Read(auth)
	vapid, err := GenerateVAPID()
	if err != nil {
		t.Fatal(err)
	}
	type got struct {
		hdr  http.Header
		body []byte
	}
	ch := make(chan got, 4)
	status := http.StatusCreated
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		ch <- got{r.Header.Clone(), b}
		w.WriteHeader(status)
	}))
	t.Cleanup(srv.Close)
	sub := &Subscription{Endpoint: srv.URL + "/push/abc"}
	sub.Keys.P256dh = base64.RawURLEncoding.EncodeToString(ua.PublicKey().Bytes())
	sub.Keys.Auth = base64.RawURLEncoding.EncodeToString(auth)
	o := Options{VAPID: vapid, Subscriber: "mailto:ops@example.org", TTL: 2 * time.Minute, Topic: "owncast-go-live"}
	payload := []byte(`{"title":"Stage","body":"I've gone live!","icon":"/logo/external"}`)
	if err := Send(context.Background(), srv.Client(), sub, payload, o); err != nil {
		t.Fatal(err)
	}
	g := <-ch
	if g.hdr.Get("Content-Encoding") != "aes128gcm" || g.hdr.Get("TTL") != "120" || g.hdr.Get("Topic") != "owncast-go-live" {
		t.Fatalf("headers %v", g.hdr)
	}
	if plain := decrypt(t, g.body, ua, auth); !bytes.Equal(plain, payload) {
		t.Fatalf("decrypted %q", plain)
	}
	a := g.hdr.Get("Authorization")
	tok, k, ok := strings.Cut(strings.TrimPrefix(a, "vapid t="), ", k=")
	if !strings.HasPrefix(a, "vapid t=") || !ok || k != vapid.PublicKey {
		t.Fatalf("Authorization %q", a)
	}
	pubBytes := b64(t, k)
	pub, err := ecdsa.ParseUncompressedPublicKey(elliptic.P256(), pubBytes)
	if err != nil {
		t.Fatal(err)
	}
	var claims jwt.MapClaims
	if _, err := jwt.ParseWithClaims(tok, &claims, func(*jwt.Token) (any, error) { return pub, nil },
		jwt.WithValidMethods([]string{"ES256"}), jwt.WithExpirationRequired(), jwt.WithAudience(srv.URL)); err != nil {
		t.Fatalf("VAPID JWT: %v", err)
	}
	if claims["sub"] != "mailto:ops@example.org" {
		t.Fatalf("claims %v", claims)
	}

	for _, tc := range []struct {
		status int
		want   error
	}{{http.StatusGone, ErrGone}, {http.StatusNotFound, ErrGone}, {http.StatusTooManyRequests, nil}} {
		status = tc.status
		err := Send(context.Background(), srv.Client(), sub, payload, o)
		<-ch
		if tc.want != nil && !errors.Is(err, tc.want) || tc.want == nil && (err == nil || errors.Is(err, ErrGone)) {
			t.Fatalf("status %d: %v", tc.status, err)
		}
	}
	if err := Send(context.Background(), srv.Client(), sub, make([]byte, MaxPayload+1), o); err == nil {
		t.Fatal("oversized payload sent")
	}
	bad := o
	bad.VAPID.PublicKey = rfcUAPublic // not this private key's
	if err := Send(context.Background(), srv.Client(), sub, payload, bad); err == nil {
		t.Fatal("mismatched VAPID keys accepted")
	}
}
