package ott

import (
	"encoding/json"
	"testing"

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
