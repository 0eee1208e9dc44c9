package ott

import (
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/hearth-community/hearth/internal/fault"
	"github.com/hearth-community/hearth/internal/identity"
)

func TestRevokedMemoDecodesEachPayload(t *testing.T) {
	t.Parallel()
	var m revokedMemo
	enc := func(rv identity.Revoked) []byte {
		b, err := json.Marshal(rv)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	a := enc(identity.Revoked{AccountID: "acct-a"})
	b := enc(identity.Revoked{AccountID: "acct-b"})
	for _, tc := range []struct {
		data             []byte
		account, session string
		ok               bool
	}{
		{a, "acct-a", "", true},
		{a, "acct-a", "", true}, // the same payload, as every socket's transform sees it
		{b, "acct-b", "", true},
		{enc(identity.Revoked{SessionID: "s1"}), "", "s1", true},
		{[]byte("{not json"), "", "", false},
		{nil, "", "", false},
		{a, "acct-a", "", true},
	} {
		got, sess, ok := m.of(tc.data)
		if got != tc.account || sess != tc.session || ok != tc.ok {
			t.Errorf("of(%s) = %q, %q, %v; want %q, %q, %v", tc.data, got, sess, ok, tc.account, tc.session, tc.ok)
		}
	}
}

// TestUnavailableIsRetryable: a change the room's node could not take (the
// room moved and was not reached again, its node did not answer) is a 503
// in OTT's error shape with Retry-After, which a client retries, not a 500
// "unknown error".
func TestUnavailableIsRetryable(t *testing.T) {
	t.Parallel()
	s := &Surface{log: slog.New(slog.DiscardHandler)}
	w := httptest.NewRecorder()
	s.writeError(w, fault.New(fault.Unavailable, "The room moved to another node; try again."))
	var body struct {
		Success bool `json:"success"`
		Error   struct {
			Name    string `json:"name"`
			Message string `json:"message"`
		} `json:"error"`
	}
	if err := json.Unmarshal(w.Body.Bytes(), &body); err != nil {
		t.Fatal(err)
	}
	if w.Code != http.StatusServiceUnavailable || w.Header().Get("Retry-After") == "" || body.Success ||
		body.Error.Name != "ServiceUnavailable" || body.Error.Message != "The room moved to another node; try again." {
		t.Fatalf("%d Retry-After %q %s", w.Code, w.Header().Get("Retry-After"), w.Body.Bytes())
	}
}
