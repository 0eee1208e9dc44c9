package stagechat_test

import (
	"context"
	"errors"
	"testing"

	"github.com/hearth-community/hearth/internal/fault"
	"github.com/hearth-community/hearth/internal/stagechat"
)

// TestWordFilter: with the filter on, listed words are starred out of
// chat messages (whole words, any case); off, or unlisted, they pass; the
// list takes only single words.
func TestWordFilter(t *testing.T) {
	t.Parallel()
	s, _, _ := newService(t, stagechat.PresenceConfig{})
	ctx := context.Background()
	u, _, err := s.Register(ctx, "Writer", "", nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.UpdateSettings(ctx, func(st *stagechat.Settings) error {
		st.ChatWordFilter = true
		return st.SetFilteredWords([]string{"Darn", "heck", "darn"})
	}); err != nil {
		t.Fatal(err)
	}
	if got := s.Settings().FilteredWords; len(got) != 2 || got[0] != "darn" {
		t.Fatalf("stored list %v", got)
	}
	for _, c := range []struct{ in, want string }{
		{"darn it", "**** it"},
		{"DARN, what the Heck!", "****, what the ****!"},
		{"darned heckle", "darned heckle"},
		{"**bold darn**", "**bold ******"},
		{"clean message", "clean message"},
	} {
		m, err := s.Send(ctx, u, c.in)
		if err != nil || m.Body != c.want {
			t.Errorf("%q: %v %v, want %q", c.in, m, err, c.want)
		}
	}
	if err := s.UpdateSettings(ctx, func(st *stagechat.Settings) error { st.ChatWordFilter = false; return nil }); err != nil {
		t.Fatal(err)
	}
	if m, err := s.Send(ctx, u, "darn"); err != nil || m.Body != "darn" {
		t.Fatalf("filter off: %v %v", m, err)
	}
	for _, bad := range [][]string{{"two words"}, {""}, {"a-b"}} {
		var st stagechat.Settings
		if err := st.SetFilteredWords(bad); !errors.Is(err, fault.Invalid) {
			t.Errorf("%q: %v", bad, err)
		}
	}
}
