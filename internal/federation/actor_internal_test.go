package federation

import "testing"

// TestParseActorKeepsOnlyWebImages: a remote actor's icon reaches clients'
// markup (an <img src> in Owncast's follower list and chat), so only an
// http(s) URL is kept.
func TestParseActorKeepsOnlyWebImages(t *testing.T) {
	t.Parallel()
	for icon, want := range map[string]string{
		"https://a.example/i.png":  "https://a.example/i.png",
		"http://a.example/i.png":   "http://a.example/i.png",
		"javascript:alert(1)":      "",
		"data:image/svg+xml,<svg>": "",
		"//a.example/i.png":        "",
		"/i.png":                   "",
	} {
		a := parseActor(map[string]any{"id": "https://a.example/u", "icon": map[string]any{"url": icon}})
		if a.Image != want {
			t.Errorf("icon %q: image %q, want %q", icon, a.Image, want)
		}
	}
}

func TestSameOrigin(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		a, b string
		want bool
	}{
		{"https://a.example/users/x", "https://a.example/users/x/main-key", true},
		{"https://A.example/users/x", "https://a.example/key", true},
		{"https://b.example/users/x", "https://a.example/users/x", false},
		{"https://a.example:8443/users/x", "https://a.example/users/x", false},
		{"http://a.example/users/x", "https://a.example/users/x", false},
		{"javascript:alert(1)//a.example", "https://a.example/", false},
		{"https://u@a.example/x", "https://a.example/", false},
		{"", "https://a.example/", false},
	} {
		if got := sameOrigin(c.a, c.b); got != c.want {
			t.Errorf("sameOrigin(%q, %q) = %v", c.a, c.b, got)
		}
	}
}

func TestOurHost(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		host, server string
		want         bool
	}{
		{"hearth.example", "https://hearth.example", true},
		{"Hearth.Example:443", "https://hearth.example", true},
		{"hearth.example", "https://hearth.example:443", true},
		{"127.0.0.1:8080", "http://127.0.0.1:8080", true},
		{"hearth.example:80", "http://hearth.example", true},
		{"other.example", "https://hearth.example", false},
		{"hearth.example:8443", "https://hearth.example", false},
		{"hearth.example:80", "https://hearth.example", false},
		{"", "https://hearth.example", false},
		{"hearth.example", "", false},
	} {
		if got := ourHost(c.host, c.server); got != c.want {
			t.Errorf("ourHost(%q, %q) = %v", c.host, c.server, got)
		}
	}
}
