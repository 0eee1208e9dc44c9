package stagechat_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/hearth-community/hearth/internal/fault"
	"github.com/hearth-community/hearth/internal/stagechat"
)

// TestSettingsBounds: the instance settings' bounds are the domain's, with
// the words Owncast's admin API answers (400 {success:false,message}); a
// refused value leaves the setting as it was, and an accepted one is
// stored trimmed.
func TestSettingsBounds(t *testing.T) {
	t.Parallel()
	x := func(n int) string { return strings.Repeat("x", n) }
	xs := func(n, each int) []string {
		out := make([]string, n)
		for i := range out {
			out[i] = x(each)
		}
		return out
	}
	handles := func(n int) []stagechat.SocialHandle {
		out := make([]stagechat.SocialHandle, n)
		for i := range out {
			out[i] = stagechat.SocialHandle{Platform: "mastodon", URL: "https://example.com/@a"}
		}
		return out
	}
	actions := func(n int) []stagechat.ExternalAction {
		out := make([]stagechat.ExternalAction, n)
		for i := range out {
			out[i] = stagechat.ExternalAction{Title: "t", URL: "https://example.com"}
		}
		return out
	}
	for _, c := range []struct {
		name string
		set  func(*stagechat.Settings) error
		want string // "" accepted
	}{
		{"name at 1 KiB", func(st *stagechat.Settings) error { return st.SetText(stagechat.TextName, " "+x(1024)+" ") }, ""},
		{"name past 1 KiB", func(st *stagechat.Settings) error { return st.SetText(stagechat.TextName, x(1025)) }, "value must be at most 1024 bytes"},
		{"go-live message past 1 KiB", func(st *stagechat.Settings) error { return st.SetText(stagechat.TextGoLiveMessage, x(1025)) }, "value must be at most 1024 bytes"},
		{"summary at 64 KiB", func(st *stagechat.Settings) error { return st.SetText(stagechat.TextSummary, x(64<<10)) }, ""},
		{"custom CSS past 64 KiB", func(st *stagechat.Settings) error { return st.SetText(stagechat.TextCustomStyles, x(64<<10+1)) }, "value must be at most 65536 bytes"},
		{"custom JavaScript past 64 KiB", func(st *stagechat.Settings) error { return st.SetText(stagechat.TextCustomJavascript, x(64<<10+1)) }, "value must be at most 65536 bytes"},
		{"50 tags", func(st *stagechat.Settings) error { return st.SetList(stagechat.ListTags, xs(50, 100)) }, ""},
		{"51 tags", func(st *stagechat.Settings) error { return st.SetList(stagechat.ListTags, xs(51, 1)) }, "at most 50 entries"},
		{"a long tag", func(st *stagechat.Settings) error { return st.SetList(stagechat.ListTags, xs(1, 101)) }, "entries must be at most 100 bytes"},
		{"1001 forbidden names", func(st *stagechat.Settings) error { return st.SetList(stagechat.ListForbiddenUsernames, xs(1001, 1)) }, "at most 1000 entries"},
		{"a long blocked domain", func(st *stagechat.Settings) error { return st.SetList(stagechat.ListBlockedDomains, xs(1, 254)) }, "entries must be at most 253 bytes"},
		{"101 appearance variables", func(st *stagechat.Settings) error {
			v := map[string]string{}
			for i := range 101 {
				v[x(i+1)] = "1"
			}
			return st.SetAppearance(v)
		}, "too many appearance variables"},
		{"50 social handles", func(st *stagechat.Settings) error { return st.SetSocialHandles(handles(50)) }, ""},
		{"51 social handles", func(st *stagechat.Settings) error { return st.SetSocialHandles(handles(51)) }, "too many social handles"},
		{"a handle without a platform", func(st *stagechat.Settings) error {
			return st.SetSocialHandles([]stagechat.SocialHandle{{URL: "https://example.com"}})
		}, "each social handle needs a platform and a url"},
		{"a handle to javascript:", func(st *stagechat.Settings) error {
			return st.SetSocialHandles([]stagechat.SocialHandle{{Platform: "x", URL: "javascript:alert(1)"}})
		}, "social handle urls must be http(s) URLs"},
		{"51 external actions", func(st *stagechat.Settings) error { return st.SetExternalActions(actions(51)) }, "too many external actions"},
		{"a blank action", func(st *stagechat.Settings) error {
			return st.SetExternalActions([]stagechat.ExternalAction{{Title: "t"}})
		}, "each external action needs a title and a url or html"},
		{"socket host override ftp", func(st *stagechat.Settings) error { return st.SetSocketHostOverride("ftp://example.com") },
			"socket host override must be a ws(s) or http(s) URL"},
		{"server url not a URL", func(st *stagechat.Settings) error { return st.SetServerURL("example") }, "server url must be a valid http or https URL"},
		{"federation username", func(st *stagechat.Settings) error { return st.SetFederationUsername("no spaces") },
			"username must be 1 to 30 letters, digits, _ . or -"},
		{"discord webhook", func(st *stagechat.Settings) error {
			return st.SetDiscordNotifications([]byte(`{"enabled":true,"webhook":"file:///etc/passwd"}`))
		}, "discord webhook must be an http(s) URL"},
	} {
		st := stagechat.DefaultSettings()
		before := st.Name
		err := c.set(&st)
		switch {
		case c.want == "" && err != nil:
			t.Errorf("%s: %v", c.name, err)
		case c.want != "" && (fault.KindOf(err) != fault.Invalid || fault.Message(err) != c.want):
			t.Errorf("%s: %v, want Invalid %q", c.name, err, c.want)
		case c.want != "" && st.Name != before:
			t.Errorf("%s: refused, yet the settings changed", c.name)
		}
	}
	st := stagechat.DefaultSettings()
	if err := st.SetText(stagechat.TextName, "  My stream  "); err != nil || st.Name != "My stream" {
		t.Fatalf("trimmed name: %q %v", st.Name, err)
	}
	if err := st.SetServerURL("https://example.com//"); err != nil || st.ServerURL != "https://example.com" || st.Directory.InstanceURL != st.ServerURL {
		t.Fatalf("server url: %q %q %v", st.ServerURL, st.Directory.InstanceURL, err)
	}
}

// TestSettingsRefuseNUL: a settings change that adds a NUL anywhere (a
// name, a list entry, the stream title, a notification's message) is
// refused with fault.ErrNUL and changes nothing. The settings are kept
// as one JSON document, where a NUL is an escape the store's own check
// cannot see, so Owncast's admin stored these (200) where every other
// text holding one is a 400. A backslash followed by u0000 is text.
func TestSettingsRefuseNUL(t *testing.T) {
	t.Parallel()
	s, _, _ := newService(t, stagechat.PresenceConfig{})
	ctx := t.Context()
	for name, f := range map[string]func(*stagechat.Settings) error{
		"name":  func(st *stagechat.Settings) error { return st.SetText(stagechat.TextName, "a\x00b") },
		"tags":  func(st *stagechat.Settings) error { return st.SetList(stagechat.ListTags, []string{"ok", "a\x00"}) },
		"title": func(st *stagechat.Settings) error { st.StreamTitle = "\x00"; return nil },
		"browser message": func(st *stagechat.Settings) error {
			st.Notifications.Browser.GoLiveMessage = "live\x00"
			return nil
		},
	} {
		if err := s.UpdateSettings(ctx, f); !errors.Is(err, fault.ErrNUL) {
			t.Errorf("%s holding a NUL: %v, want %v", name, err, fault.ErrNUL)
		}
	}
	if err := s.SetStreamTitle(ctx, "on\x00air"); !errors.Is(err, fault.ErrNUL) {
		t.Errorf("SetStreamTitle holding a NUL: %v, want %v", err, fault.ErrNUL)
	}
	got := s.Settings()
	if strings.ContainsRune(got.Name+got.StreamTitle+got.Notifications.Browser.GoLiveMessage+strings.Join(got.Tags, ""), 0) {
		t.Fatalf("a refused change was kept: %+v", got)
	}
	if err := s.UpdateSettings(ctx, func(st *stagechat.Settings) error { return st.SetText(stagechat.TextName, `a\u0000b`) }); err != nil {
		t.Fatalf("a backslash and u0000 as text: %v", err)
	}
	if got := s.Settings().Name; got != `a\u0000b` {
		t.Fatalf("name %q", got)
	}
}
