package owncast_test

import (
	"crypto/ecdh"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strconv"
	"testing"

	"github.com/hearth-community/hearth/internal/surface/owncast"
)

// TestNotificationRegister: Owncast's browser push registration route
// (user token) and the VAPID public key /api/config hands to browsers.
func TestNotificationRegister(t *testing.T) {
	t.Parallel()
	n := newNode(t, nodeOpts{})
	var cfg map[string]any
	// On by default (Owncast turns browser push on at first start); off
	// hides the key.
	n.do(t, "GET", "/api/config", "", nil).json(t, &cfg)
	if b := cfg["notifications"].(map[string]any)["browser"].(map[string]any); b["enabled"] != true || b["publicKey"] == "" || b["publicKey"] == nil {
		t.Fatalf("fresh instance: %v", b)
	}
	if r := n.do(t, "POST", "/api/admin/config/notifications/browser", "admin", map[string]any{"value": map[string]any{"enabled": false}}); r.status != 200 {
		t.Fatalf("disable browser push: %d %s", r.status, r.body)
	}
	n.do(t, "GET", "/api/config", "", nil).json(t, &cfg)
	if b := cfg["notifications"].(map[string]any)["browser"].(map[string]any); b["enabled"] != false || b["publicKey"] != nil {
		t.Fatalf("browser push off: %v", b)
	}
	if r := n.do(t, "POST", "/api/admin/config/notifications/browser", "admin", map[string]any{"value": map[string]any{"enabled": true, "goLiveMessage": "Live!"}}); r.status != 200 {
		t.Fatalf("enable browser push: %d %s", r.status, r.body)
	}
	n.do(t, "GET", "/api/config", "", nil).json(t, &cfg)
	b := cfg["notifications"].(map[string]any)["browser"].(map[string]any)
	key, _ := base64.RawURLEncoding.DecodeString(b["publicKey"].(string))
	if b["enabled"] != true {
		t.Fatalf("browser push on: %v", b)
	}
	if _, err := ecdh.P256().NewPublicKey(key); err != nil {
		t.Fatalf("publicKey is not a P-256 point: %v", err)
	}

	ua, _ := ecdh.P256().GenerateKey(rand.Reader)
	sub, _ := json.Marshal(map[string]any{"endpoint": "https://updates.push.services.mozilla.com/wpush/v2/abc", "keys": map[string]string{
		"p256dh": base64.RawURLEncoding.EncodeToString(ua.PublicKey().Bytes()), "auth": base64.RawURLEncoding.EncodeToString(make([]byte, 16))}})
	user := n.register(t, "subscriber")
	cases := []struct {
		name, token string
		body        any
		status      int
	}{
		{"browser push subscription", user.AccessToken, map[string]any{"channel": "BROWSER_PUSH_NOTIFICATION", "destination": string(sub)}, 200},
		{"again (idempotent)", user.AccessToken, map[string]any{"channel": "BROWSER_PUSH_NOTIFICATION", "destination": string(sub)}, 200},
		{"unknown channel", user.AccessToken, map[string]any{"channel": "SMS", "destination": "+15555550100"}, 400},
		{"not a subscription", user.AccessToken, map[string]any{"channel": "BROWSER_PUSH_NOTIFICATION", "destination": "<script>"}, 400},
		{"bad JSON", user.AccessToken, "{", 400},
		{"no token", "", map[string]any{"channel": "BROWSER_PUSH_NOTIFICATION", "destination": string(sub)}, 401},
		{"bad token", "nope", map[string]any{"channel": "BROWSER_PUSH_NOTIFICATION", "destination": string(sub)}, 401},
	}
	for _, tc := range cases {
		r := n.do(t, "POST", "/api/notifications/register?accessToken="+tc.token, "", tc.body)
		if r.status != tc.status {
			t.Fatalf("%s: %d, want %d (%s)", tc.name, r.status, tc.status, r.body)
		}
		if tc.status == 400 {
			var res map[string]any
			r.json(t, &res)
			if res["success"] != false || res["message"] == "" {
				t.Fatalf("%s: error shape %s", tc.name, r.body)
			}
		}
	}
	dests, err := n.db.StageChat().NotificationDestinations(t.Context(), "BROWSER_PUSH_NOTIFICATION")
	if err != nil || len(dests) != 1 || dests[0] != string(sub) {
		t.Fatalf("stored %v %v", dests, err)
	}
}

// TestNotificationRegisterBoundedPerAddress: every stored subscription is
// a push in each go-live round, to a host the registrant chose, and a chat
// user costs nothing, so one address may register ten an hour; the
// eleventh is refused with 400 (the only refusal Owncast's spec gives the
// operation besides 401) and Retry-After, and is not stored.
func TestNotificationRegisterBoundedPerAddress(t *testing.T) {
	t.Parallel()
	n := newNode(t, nodeOpts{})
	user := n.register(t, "subscriber")
	sub := func(i int) string {
		ua, _ := ecdh.P256().GenerateKey(rand.Reader)
		b, _ := json.Marshal(map[string]any{"endpoint": "https://push.example/" + strconv.Itoa(i), "keys": map[string]string{
			"p256dh": base64.RawURLEncoding.EncodeToString(ua.PublicKey().Bytes()), "auth": base64.RawURLEncoding.EncodeToString(make([]byte, 16))}})
		return string(b)
	}
	for i := range 10 {
		if r := n.do(t, "POST", "/api/notifications/register?accessToken="+user.AccessToken, "",
			map[string]any{"channel": "BROWSER_PUSH_NOTIFICATION", "destination": sub(i)}); r.status != 200 {
			t.Fatalf("registration %d: %d %s", i+1, r.status, r.body)
		}
	}
	r := n.do(t, "POST", "/api/notifications/register?accessToken="+user.AccessToken, "",
		map[string]any{"channel": "BROWSER_PUSH_NOTIFICATION", "destination": sub(10)})
	var res map[string]any
	r.json(t, &res)
	if r.status != 400 || r.header.Get("Retry-After") == "" || res["success"] != false || res["message"] == "" {
		t.Fatalf("11th registration: %d Retry-After=%q %s", r.status, r.header.Get("Retry-After"), r.body)
	}
	dests, err := n.db.StageChat().NotificationDestinations(t.Context(), "BROWSER_PUSH_NOTIFICATION")
	if err != nil || len(dests) != 10 {
		t.Fatalf("stored %d subscriptions (%v), want 10", len(dests), err)
	}
}

// TestNotificationRegisterCountsIPv6Prefix: the registration bound counts
// an IPv6 client by its /64, as the node's other per-address bounds do: a
// host holding a /64 (the usual assignment) used to get ten from each of
// its addresses.
func TestNotificationRegisterCountsIPv6Prefix(t *testing.T) {
	t.Parallel()
	n := newNode(t, nodeOpts{chat: func(o *owncast.ChatOptions) { o.TrustProxy = true }})
	user := n.register(t, "subscriber")
	reg := func(i int, from string) reply {
		ua, _ := ecdh.P256().GenerateKey(rand.Reader)
		b, _ := json.Marshal(map[string]any{"endpoint": "https://push.example/" + strconv.Itoa(i), "keys": map[string]string{
			"p256dh": base64.RawURLEncoding.EncodeToString(ua.PublicKey().Bytes()), "auth": base64.RawURLEncoding.EncodeToString(make([]byte, 16))}})
		return n.do(t, "POST", "/api/notifications/register?accessToken="+user.AccessToken, "",
			map[string]any{"channel": "BROWSER_PUSH_NOTIFICATION", "destination": string(b)}, "X-Forwarded-For", from)
	}
	for i := range 10 {
		if r := reg(i, fmt.Sprintf("2001:db8:1:2::%x", i+1)); r.status != 200 {
			t.Fatalf("registration %d: %d %s", i+1, r.status, r.body)
		}
	}
	if r := reg(10, "2001:db8:1:2:ffff::1"); r.status != 400 {
		t.Fatalf("11th registration from the same /64: %d %s", r.status, r.body)
	}
	if r := reg(11, "2001:db8:1:3::1"); r.status != 200 {
		t.Fatalf("from another /64: %d %s", r.status, r.body)
	}
}
