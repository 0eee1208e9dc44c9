package federation

import "testing"

// TestDomainOf: an actor counts against its host's registrable domain, so
// an attacker's subdomains are one domain; an address or a bare name is
// its own.
func TestDomainOf(t *testing.T) {
	t.Parallel()
	for iri, want := range map[string]string{
		"https://mastodon.social/users/a":           "mastodon.social",
		"https://a1.evil.example/users/x":           "evil.example",
		"https://A2.Evil.Example./users/x":          "evil.example",
		"https://x.y.evil.co.uk:8443/u":             "evil.co.uk",
		"http://127.0.0.1:3000/users/p0":            "127.0.0.1",
		"https://[2001:db8::1]/u":                   "2001:db8::1",
		"https://localhost/u":                       "localhost",
		"https://someone.github.io/actor":           "someone.github.io", // a suffix anyone registers under
		"not a url":                                 "",
		"https://stage.example/federation/user/abc": "stage.example",
	} {
		if got := domainOf(iri); got != want {
			t.Errorf("domainOf(%q) = %q, want %q", iri, got, want)
		}
	}
}
