package app_test

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
)

// TestUnauthenticatedReadsRefused pins advisory 22 (Rocket.Chat: reads
// answered without authentication, checks left to the client): on one
// node with every surface mounted, each surface's private read routes
// refuse a caller without credentials, in that surface's own error shape,
// and leak nothing of what they guard.
func TestUnauthenticatedReadsRefused(t *testing.T) {
	t.Parallel()
	a, _ := start(t, testConfig(t), nil)
	base := a.HTTP.URL()
	// A bystander's data exists, so a leak would have something to show.
	ann := register(t, base, "annsecret")
	sid := newServer(t, base, ann.AccessToken)
	var stage struct{ ID string }
	if code := call(t, "POST", base+"/servers/"+sid+"/channels", ann.AccessToken, map[string]string{"name": "Stage", "type": "stage"}, &stage); code != 201 {
		t.Fatalf("create stage channel: %d", code)
	}

	isTogether := func(b map[string]any) bool { _, ok := b["error"].(string); return ok }
	isOTT := func(b map[string]any) bool {
		e, ok := b["error"].(map[string]any)
		return ok && b["success"] == false && e["name"] != nil
	}
	isHearth := func(b map[string]any) bool { m, ok := b["message"].(string); return ok && m != "" }
	cases := []struct {
		surface, path, auth string
		codes               []int
		shape               func(map[string]any) bool
	}{
		{"together", "/servers", "", []int{401}, isTogether},
		{"together", "/servers/" + sid, "", []int{401}, isTogether},
		{"together", "/servers/" + sid + "/channels", "", []int{401}, isTogether},
		{"together", "/servers/" + sid + "/members", "", []int{401}, isTogether},
		{"together", "/users/@me", "", []int{401}, isTogether},
		{"together", "/dm-channels", "", []int{401}, isTogether},
		// OTT answers a missing token 400 MissingToken (upstream's shape)
		// and an unknown one 401.
		{"ott", "/api/user/account", "", []int{400}, isOTT},
		{"ott", "/api/user/account", "Bearer forged", []int{401}, isOTT},
		{"ott", "/api/room/list", "", []int{400}, isOTT},
		// Owncast's admin and integration routes answer plain text.
		{"owncast", "/api/admin/status", "", []int{401}, nil},
		{"owncast", "/api/admin/serverconfig", "", []int{401}, nil},
		{"owncast", "/api/admin/chat/messages", "", []int{401}, nil},
		{"owncast", "/api/integrations/chat", "", []int{401}, nil},
		{"owncast", "/api/integrations/clients", "", []int{401}, nil},
		{"hearth", "/api/recording-settings/default", "", []int{401}, isHearth},
		// The default stage's recordings are public by design
		// (docs/recordings.md); a server's stage is private.
		{"hearth", "/api/recordings?stage=" + stage.ID, "", []int{404}, isHearth}, // as an unknown stage
		{"hearth", "/api/recording-settings/" + stage.ID, "", []int{401}, isHearth},
		{"owncast", "/api/stages/" + stage.ID + "/key", "", []int{401}, nil},
	}
	for _, tc := range cases {
		t.Run(tc.surface+tc.path+tc.auth, func(t *testing.T) {
			t.Parallel()
			req, _ := http.NewRequest("GET", base+tc.path, nil)
			if tc.auth != "" {
				req.Header.Set("Authorization", tc.auth)
			}
			res, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			raw, _ := io.ReadAll(res.Body)
			res.Body.Close()
			ok := false
			for _, c := range tc.codes {
				ok = ok || res.StatusCode == c
			}
			if !ok {
				t.Fatalf("status %d, want %v: %s", res.StatusCode, tc.codes, raw)
			}
			if len(raw) == 0 {
				t.Errorf("empty refusal")
			}
			if tc.shape != nil {
				var b map[string]any
				if err := json.Unmarshal(raw, &b); err != nil || !tc.shape(b) {
					t.Errorf("not in %s's error shape: %s", tc.surface, raw)
				}
			}
			if strings.Contains(string(raw), "annsecret") || strings.Contains(string(raw), sid) {
				t.Errorf("refusal leaks guarded data: %s", raw)
			}
		})
	}
}
