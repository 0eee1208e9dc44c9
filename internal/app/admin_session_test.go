package app_test

import (
	"encoding/json"
	"net/http"
	"testing"
)

// TestAdminAppSession: one sign-in for the admin, the app's. An instance
// admin's Bearer access token opens Owncast's admin routes that Together
// lacks (the web app's admin uses it); on a path both serve, Bearer stays
// Together's; a non-admin's token is refused without a Basic challenge; and
// the admin page opens with the session's cookie instead of Basic.
func TestAdminAppSession(t *testing.T) {
	t.Parallel()
	a, _ := start(t, testConfig(t), nil)
	base := a.HTTP.URL()
	var admin, ann struct {
		AccessToken string `json:"access_token"`
	}
	if code := call(t, "POST", base+"/auth/login", "", map[string]string{"username": "admin", "password": "adminpassword"}, &admin); code != 200 {
		t.Fatalf("admin login: %d", code)
	}
	if code := call(t, "POST", base+"/auth/register", "", map[string]string{"username": "ann", "password": "password1"}, &ann); code != 201 {
		t.Fatalf("register: %d", code)
	}
	var status struct {
		Online *bool `json:"online"`
	}
	if code := call(t, "GET", base+"/api/admin/status", admin.AccessToken, nil, &status); code != 200 || status.Online == nil {
		t.Fatalf("Owncast admin status with the admin's session: %d %+v", code, status)
	}
	if code := call(t, "POST", base+"/api/admin/config/name", admin.AccessToken, map[string]string{"value": "Hearth by session"}, nil); code != 200 {
		t.Fatalf("Owncast admin setter with the admin's session: %d", code)
	}
	var cfg struct{ Name string }
	if code := call(t, "GET", base+"/api/config", "", nil, &cfg); code != 200 || cfg.Name != "Hearth by session" {
		t.Fatalf("name after the setter: %d %q", code, cfg.Name)
	}
	// Together's users list (its shape has "users"), not Owncast 0.2's.
	var users struct {
		Users []any `json:"users"`
	}
	if code := call(t, "GET", base+"/api/admin/users", admin.AccessToken, nil, &users); code != 200 || len(users.Users) == 0 {
		t.Fatalf("Together's admin users with Bearer: %d %+v", code, users)
	}

	req, _ := http.NewRequest("GET", base+"/api/admin/status", nil)
	req.Header.Set("Authorization", "Bearer "+ann.AccessToken)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	_ = res.Body.Close()
	if res.StatusCode != 401 || res.Header.Get("WWW-Authenticate") != "" {
		t.Fatalf("a non-admin's session on Owncast's admin: %d, challenge %q (want 401 and none)", res.StatusCode, res.Header.Get("WWW-Authenticate"))
	}

	page := func(cookie string) (int, string) {
		req, _ := http.NewRequest("GET", base+"/admin/users", nil)
		if cookie != "" {
			req.AddCookie(&http.Cookie{Name: "hearth_admin", Value: cookie})
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		_ = res.Body.Close()
		return res.StatusCode, res.Header.Get("WWW-Authenticate")
	}
	if code, _ := page(admin.AccessToken); code != 200 {
		t.Fatalf("admin page with the admin's session cookie: %d", code)
	}
	for name, c := range map[string]string{"none": "", "a non-admin's session": ann.AccessToken, "garbage": "x.y.z"} {
		if code, ch := page(c); code != 401 || ch != `Basic realm="Hearth admin"` {
			t.Errorf("admin page with %s: %d %q, want 401 with Hearth's challenge", name, code, ch)
		}
	}
	// The browser's Basic sign-in becomes an app session (Users then
	// works with no second sign-in).
	req, _ = http.NewRequest("POST", base+"/api/admin/session", nil)
	req.SetBasicAuth("admin", "adminpassword")
	res, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var pair struct {
		AccessToken  string `json:"access_token"`
		RefreshToken string `json:"refresh_token"`
	}
	_ = json.NewDecoder(res.Body).Decode(&pair)
	_ = res.Body.Close()
	if res.StatusCode != 200 || pair.RefreshToken == "" {
		t.Fatalf("admin session from Basic: %d %+v", res.StatusCode, pair)
	}
	if code := call(t, "GET", base+"/api/admin/users", pair.AccessToken, nil, &users); code != 200 {
		t.Fatalf("Together's admin users with the exchanged session: %d", code)
	}
	req, _ = http.NewRequest("POST", base+"/api/admin/session", nil)
	req.SetBasicAuth("admin", "wrong-password")
	if res, err = http.DefaultClient.Do(req); err != nil {
		t.Fatal(err)
	}
	_ = res.Body.Close()
	if res.StatusCode != 401 {
		t.Fatalf("admin session with a wrong password: %d", res.StatusCode)
	}

	// Signing out ends it.
	if code := call(t, "POST", base+"/auth/logout", admin.AccessToken, nil, nil); code/100 != 2 {
		t.Fatalf("logout: %d", code)
	}
	if code, _ := page(admin.AccessToken); code != 401 {
		t.Fatalf("admin page with a signed-out session's cookie: %d, want 401", code)
	}
}
