package rest

import (
	"bytes"
	"context"
	"net/http/httptest"
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
