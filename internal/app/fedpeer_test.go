package app_test

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"testing"

	"github.com/hearth-community/hearth/internal/app"
	"github.com/hearth-community/hearth/internal/config"
	"github.com/hearth-community/hearth/internal/federation/fedtest"
)

// fedConfig is a node whose federation may reach loopback peers (the
// test-only --federation-test-loopback).
func fedConfig(t *testing.T) config.Config {
	cfg := testConfig(t)
	cfg.FederationTestLoopback = true
	return cfg
}

// owncastAdmin sets an Owncast admin config value on a node.
func owncastAdmin(t *testing.T, base, method, path string, body any) (int, []byte) {
	t.Helper()
	var rd io.Reader = http.NoBody
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, base+path, rd)
	req.SetBasicAuth("admin", "adminpassword")
	req.Header.Set("Content-Type", "application/json")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, b
}

// federate turns federation on for a node, its server URL its own address.
func federate(t *testing.T, a *app.App) string {
	t.Helper()
	base := a.HTTP.URL()
	for _, c := range []struct {
		path  string
		value any
	}{
		{"/api/admin/config/serverurl", base},
		{"/api/admin/config/federation/username", "streamer"},
		{"/api/admin/config/federation/enable", true},
	} {
		if code, b := owncastAdmin(t, base, "POST", c.path, map[string]any{"value": c.value}); code != 200 {
			t.Fatalf("%s: %d %s", c.path, code, b)
		}
	}
	return base
}

// mastodon is the shared fediverse test peer (fedtest: a Mastodon-like
// account with real HTTP signatures), with this package's short forms.
type mastodon struct {
	*fedtest.Peer
	t *testing.T
}

func newMastodon(t *testing.T, name string) *mastodon {
	t.Helper()
	return &mastodon{fedtest.NewPeer(t, name), t}
}

func (m *mastodon) actor() string { return m.Actor() }

// next waits for the next delivery of a type.
func (m *mastodon) next(typ string) map[string]any {
	m.t.Helper()
	return m.NextOfType(m.t, typ)
}

// post signs an activity with the account's key and posts it to an inbox.
func (m *mastodon) post(inbox string, act map[string]any) int {
	m.t.Helper()
	r := m.Post(m.t, inbox, act, fedtest.SignOpts{})
	if r.Status >= 300 {
		m.t.Logf("%s %s: %d %s", act["type"], inbox, r.Status, r.Body)
	}
	return r.Status
}

func (m *mastodon) follow(actor string) int { return m.post(actor+"/inbox", m.Follow(actor)) }
