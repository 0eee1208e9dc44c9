package app_test

import (
	"io"
	"net/http"
	"testing"

	"github.com/hearth-community/hearth/internal/config"
)

// TestSignedClipURLOfDemotedAdmin: a clip's signed file URL is checked on
// every request against who it was made for, so a member who loses the
// stage loses the URL too; but one made for an instance admin carried
// "admin" and was served for its whole life (five minutes) without asking
// whether the account still is one, so an admin demoted (or disabled)
// after taking it kept a private stage channel's clip. The recordings gate
// now asks identity whether the account is an instance admin who may act:
// the demoted non-member's URL answers as an unknown clip, and the URL of
// the stage's owner, a member, still plays. Both engines.
func TestSignedClipURLOfDemotedAdmin(t *testing.T) {
	t.Parallel()
	engines(t, func(t *testing.T, cfg config.Config) {
		a, _ := start(t, cfg, nil)
		base := a.HTTP.URL()
		admin, ann, dave := adminLogin(t, base), register(t, base, "ann"), register(t, base, "dave")
		var srv struct{ ID string }
		if code := call(t, "POST", base+"/servers", ann.AccessToken, map[string]any{"name": "Private"}, &srv); code != 201 {
			t.Fatalf("create server: %d", code)
		}
		var stage struct{ ID string }
		if code := call(t, "POST", base+"/servers/"+srv.ID+"/channels", ann.AccessToken, map[string]string{"name": "Stage", "type": "stage"}, &stage); code != 201 {
			t.Fatalf("stage channel: %d", code)
		}
		clip := seedClip(t, a, cfg, stage.ID, ann.User.ID)
		setAdmin := func(id string, on bool) {
			t.Helper()
			if code := call(t, "PATCH", base+"/admin/users/"+id, admin.AccessToken, map[string]any{"is_admin": on}, nil); code != 200 {
				t.Fatalf("PATCH is_admin %v: %d", on, code)
			}
		}
		setAdmin(dave.User.ID, true)
		fileURL := func(token string) string {
			t.Helper()
			var u struct{ URL string }
			if code := call(t, "GET", base+"/api/clips/"+clip.ID+"/file-url", token, nil, &u); code != 200 || u.URL == "" {
				t.Fatalf("file-url: %d %q", code, u.URL)
			}
			return u.URL
		}
		get := func(u string) int {
			t.Helper()
			res, err := http.Get(base + u)
			if err != nil {
				t.Fatal(err)
			}
			defer res.Body.Close()
			_, _ = io.Copy(io.Discard, res.Body)
			return res.StatusCode
		}
		daves, anns := fileURL(dave.AccessToken), fileURL(ann.AccessToken)
		if code := get(daves); code != 200 {
			t.Fatalf("the admin's signed clip URL: %d, want 200", code)
		}
		setAdmin(dave.User.ID, false)
		if code := get(daves); code != 404 {
			t.Errorf("the demoted admin's signed clip URL: %d, want 404 (as an unknown clip)", code)
		}
		if code := get(anns); code != 200 {
			t.Errorf("the owner's signed clip URL: %d, want 200", code)
		}
	})
}
