package identity_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/hearth-community/hearth/internal/fault"
	"github.com/hearth-community/hearth/internal/identity"
	"github.com/hearth-community/hearth/internal/store/storetest"
)

func TestCleanName(t *testing.T) {
	t.Parallel()
	cases := []struct{ in, want string }{
		{"alice", "alice"},
		{"  Alice   Smith \n", "Alice Smith"},
		{"<script>alert(1)</script>bob", "bob"},
		{"<b>bold</b> name", "bold name"},
		{`<img src=x onerror=alert(1)>carol`, "carol"},
		{"&lt;script&gt;alert(1)&lt;/script&gt;dave", "dave"},
		{"&amp;lt;b&amp;gt;eve", "eve"},
		{"a < b > c", "a b c"},
		{"Tom &amp; Jerry", "Tom & Jerry"},
		{"zero\u200bwidth\u202eltr", "zerowidthltr"},
		{"tab\tnew\x00line\x07", "tab newline"},
		{"<script></script>", ""},
		{"   ", ""},
		{"émilie 🎉", "émilie 🎉"},
		{strings.Repeat("ü", 40), strings.Repeat("ü", 30)},
		{"\xff\xfebad", "bad"},
	}
	for _, c := range cases {
		t.Run(c.in, func(t *testing.T) {
			t.Parallel()
			if got := identity.CleanName(c.in, 30); got != c.want {
				t.Fatalf("CleanName(%q) = %q, want %q", c.in, got, c.want)
			}
		})
	}
}

func FuzzCleanName(f *testing.F) {
	for _, s := range []string{"alice", "<script>x</script>", "&lt;b&gt;", "a<b", "\u202e", "<<b>b>", "&#60;i&#62;"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		out := identity.CleanName(in, 30)
		if strings.ContainsAny(out, "<>") || !utf8.ValidString(out) || utf8.RuneCountInString(out) > 30 ||
			strings.TrimSpace(out) != out {
			t.Fatalf("CleanName(%q) = %q", in, out)
		}
		if again := identity.CleanName(out, 30); again != out {
			t.Fatalf("CleanName is not stable: %q -> %q -> %q", in, out, again)
		}
	})
}

func TestValidHTTPURL(t *testing.T) {
	t.Parallel()
	cases := []struct {
		in string
		ok bool
	}{
		{"https://example.org/a.png", true},
		{"http://example.org", true},
		{"javascript:alert(1)", false},
		{"JavaScript:alert(1)", false},
		{" javascript:alert(1)", false},
		{"data:image/png;base64,AAAA", false},
		{"file:///etc/passwd", false},
		{"//example.org/a.png", false},
		{"/relative.png", false},
		{"https://", false},
		{"https://user:pw@example.org/", false},
		{"https://exa mple.org/", false},
		{"https://example.org/\n", false},
		{"https://example.org/" + strings.Repeat("a", 2048), false},
	}
	for _, c := range cases {
		t.Run(c.in, func(t *testing.T) {
			t.Parallel()
			if got := identity.ValidHTTPURL(c.in); got != c.ok {
				t.Fatalf("ValidHTTPURL(%q) = %v, want %v", c.in, got, c.ok)
			}
		})
	}
}

// TestNamesAndURLsCleanedOnEveryPath shows each identity path that sets a
// display name stores it cleaned, and an avatar URL that is not http(s) is
// refused.
func TestNamesAndURLsCleanedOnEveryPath(t *testing.T) {
	forEngine(t, func(t *testing.T, eng storetest.Engine) {
		ctx := context.Background()
		s, _, _ := newService(t, eng)
		const evil = "<script>alert(1)</script>Mallory"
		a, err := s.Register(ctx, identity.RegisterInput{Username: "mallory", Password: "password1", DisplayName: evil})
		if err != nil {
			t.Fatal(err)
		}
		g, err := s.CreateGuest(ctx, evil)
		if err != nil {
			t.Fatal(err)
		}
		b, _, _, err := s.CreateBot(ctx, a.ID, "botty", evil)
		if err != nil {
			t.Fatal(err)
		}
		in, _, _, err := s.CreateIntegrationToken(ctx, evil, []string{"CAN_SEND_MESSAGES"})
		if err != nil {
			t.Fatal(err)
		}
		if _, _, _, err := s.CreateIntegrationToken(ctx, "<b></b>", []string{"CAN_SEND_MESSAGES"}); !errors.Is(err, fault.Invalid) {
			t.Fatalf("markup-only token name: %v, want invalid", err)
		}
		for _, id := range []string{a.ID, g.ID, b.ID, in.ID} {
			got, err := s.Account(ctx, id)
			if err != nil {
				t.Fatal(err)
			}
			if got.DisplayName != "Mallory" {
				t.Fatalf("stored display name %q, want Mallory", got.DisplayName)
			}
		}
		got, _ := s.Account(ctx, a.ID)
		got.DisplayName = "<i>x</i>"
		if err := s.UpdateProfile(ctx, got, identity.ProfileDisplayName); err != nil {
			t.Fatal(err)
		}
		if got, _ = s.Account(ctx, a.ID); got.DisplayName != "x" {
			t.Fatalf("updated display name %q, want x", got.DisplayName)
		}
		for _, u := range []string{"javascript:alert(1)", "data:text/html,x", "ftp://example.org/a"} {
			got.AvatarURL = u
			if err := s.UpdateProfile(ctx, got, identity.ProfileAvatar); !errors.Is(err, fault.Invalid) {
				t.Fatalf("avatar %q: %v, want invalid", u, err)
			}
		}
		got.AvatarURL = "https://example.org/a.png"
		if err := s.UpdateProfile(ctx, got, identity.ProfileAvatar); err != nil {
			t.Fatal(err)
		}
	})
}
