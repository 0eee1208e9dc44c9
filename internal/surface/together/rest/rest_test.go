package rest

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// FuzzDecode: any request body gets a decision, never a panic.
func FuzzDecode(f *testing.F) {
	for _, s := range []string{`{"content":"x"}`, `{"content":5}`, `[`, `{"a":1}{"b":2}`, ``, `null`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		r := httptest.NewRequestWithContext(context.Background(), "POST", "/", bytes.NewReader(body))
		var in struct {
			Content *string `json:"content"`
		}
		_ = Decode(r, &in, true)
	})
}

// TestDecodeRefusesTrailing: anything after the body's value is a 400
// "Malformed JSON body", as serde_json's trailing characters are on
// Together; a stray } or ] after the object passed (the decoder's More
// reports neither) and the object was applied. Trailing whitespace is
// fine.
func TestDecodeRefusesTrailing(t *testing.T) {
	t.Parallel()
	for body, ok := range map[string]bool{
		`{"content":"x"}`: true, " {\"content\":\"x\"} \n": true,
		`{"content":"x"}}`: false, `{"content":"x"}]`: false, `{"content":"x"}x`: false, `{"content":"x"}{}`: false,
		`{"content":"x"} 1`: false,
	} {
		r := httptest.NewRequestWithContext(context.Background(), "POST", "/", strings.NewReader(body))
		var in struct {
			Content *string `json:"content"`
		}
		err := Decode(r, &in, true)
		var se *StatusError
		switch {
		case ok && err != nil:
			t.Errorf("%q: %v, want it read", body, err)
		case !ok && (!errors.As(err, &se) || se.Status != http.StatusBadRequest || se.Msg != "Malformed JSON body"):
			t.Errorf("%q: %v, want 400 Malformed JSON body", body, err)
		}
	}
}

// TestDecodeRefusesNull: a body of null is no request of any route's type:
// 422, as Axum's Json answers serde's "invalid type: null, expected
// struct". The decoder left the request empty, so PATCH routes (a server,
// a channel, a role, a bot, the profile, automod, a webhook, admin
// settings) and invite creation answered 2xx to it.
func TestDecodeRefusesNull(t *testing.T) {
	t.Parallel()
	for _, body := range []string{"null", " null\n", "\tnull "} {
		r := httptest.NewRequestWithContext(context.Background(), "PATCH", "/", strings.NewReader(body))
		var in struct {
			Name *string `json:"name"`
		}
		var se *StatusError
		if err := Decode(r, &in, true); !errors.As(err, &se) || se.Status != http.StatusUnprocessableEntity {
			t.Errorf("%q: %v, want 422", body, err)
		}
	}
	r := httptest.NewRequestWithContext(context.Background(), "PATCH", "/", strings.NewReader(`{"name":null}`))
	var in struct {
		Name *string `json:"name"`
	}
	if err := Decode(r, &in, true); err != nil || in.Name != nil {
		t.Errorf(`{"name":null}: %v, want it read`, err)
	}
}
