package ott_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/hearth-community/hearth/internal/identity"
)

// TestRoomPayloadsCarryNoSecrets pins advisory 9 (OTT abe4f46a: the room
// API once returned full client objects). Every room payload a client can
// read — the REST room and list answers and the socket's user and sync
// messages — is walked field by field; no string in it may contain a
// member's token, token hash, email, password, password hash or address.
func TestRoomPayloadsCarryNoSecrets(t *testing.T) {
	t.Parallel()
	h := newHarness(t, opts{})
	tok := h.grant()
	const email, password = "secret.owner@example.org", "Passw0rdLongSecret"
	if r := h.do("POST", "/api/user/register", tok, map[string]any{"username": "owner", "email": email, "password": password}); r.status != 201 {
		t.Fatalf("register: %d %s", r.status, r.raw)
	}
	if _, err := h.id.CheckCredentials(context.Background(), "owner", password, ""); err != nil {
		t.Fatal(err)
	}
	guest := h.grant()
	h.createRoom(tok, "secretroom", nil)

	secrets := map[string]string{
		"owner token":      tok,
		"owner token hash": identity.HashToken(tok),
		"guest token":      guest,
		"guest token hash": identity.HashToken(guest),
		"email":            email,
		"email (lower)":    strings.ToLower(email),
		"password":         password,
		"password hash":    "$argon2",
		"address":          "127.0.0.1",
	}

	var payloads [][]byte
	// Each joiner's whole join sequence (sync, event, user init and
	// update, you), and the owner's view of the guest arriving.
	joinAll := func(token string) *wsClient {
		w := h.dial("secretroom")
		w.send(map[string]any{"action": "auth", "token": token})
		for {
			m := w.next()
			payloads = append(payloads, mustJSON(t, m))
			if m["action"] == "you" {
				return w
			}
		}
	}
	ow := joinAll(tok)
	joinAll(guest)
	payloads = append(payloads, mustJSON(t, ow.until("user")))
	for _, path := range []string{"/api/room/secretroom", "/api/room/list"} {
		for _, who := range []string{tok, guest} {
			r := h.do("GET", path, who, nil)
			if r.status != 200 {
				t.Fatalf("%s: %d %s", path, r.status, r.raw)
			}
			payloads = append(payloads, r.raw)
		}
	}
	for _, raw := range payloads {
		var v any
		if err := json.Unmarshal(raw, &v); err != nil {
			t.Fatalf("payload %s: %v", raw, err)
		}
		walkStrings(v, "$", func(path, s string) {
			for name, sec := range secrets {
				if sec != "" && strings.Contains(s, sec) {
					t.Errorf("%s at %s in %s", name, path, raw)
				}
			}
		})
		// Keys that name secrets are refused whatever their value.
		walkKeys(v, "$", func(path, k string) {
			switch strings.ToLower(k) {
			case "token", "email", "password", "passwordhash", "ip", "ipaddress", "address", "sessionid", "tokenhash", "hash":
				t.Errorf("secret-named field %s in %s", path, raw)
			}
		})
	}
}

func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func walkStrings(v any, path string, f func(path, s string)) {
	switch x := v.(type) {
	case string:
		f(path, x)
	case map[string]any:
		for k, e := range x {
			f(path+"."+k+"(key)", k)
			walkStrings(e, path+"."+k, f)
		}
	case []any:
		for i, e := range x {
			walkStrings(e, path+"["+itoa(i)+"]", f)
		}
	}
}

func walkKeys(v any, path string, f func(path, k string)) {
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			f(path+"."+k, k)
			walkKeys(e, path+"."+k, f)
		}
	case []any:
		for i, e := range x {
			walkKeys(e, path+"["+itoa(i)+"]", f)
		}
	}
}

func itoa(i int) string {
	b, _ := json.Marshal(i)
	return string(b)
}
