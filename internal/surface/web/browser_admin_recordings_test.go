package web_test

import (
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/hearth-community/hearth/internal/config"
)

// TestBrowserAdminRecordingsDisk: the admin's Recordings & disk tab shows
// the recordings' disk use and the default stage's retention, saves a new
// limit, and every admin tab carries the notice that the recordings' disk
// is full (here: a minimum free space no disk has).
func TestBrowserAdminRecordingsDisk(t *testing.T) {
	t.Parallel()
	needBrowser(t)
	_, base := startApp(t, func(c *config.Config) { c.Recording = true; c.RecordingMinFree = 1 << 60 })
	browser := newBrowser(t)
	var r struct {
		Access  string `json:"access_token"`
		Refresh string `json:"refresh_token"`
	}
	together(t, base, "POST", "/auth/login", "", map[string]string{"username": "admin", "password": adminPassword}, &r)
	admin := account{Name: "admin", Access: r.Access, Refresh: r.Refresh}
	// Signed in to the app as the admin: the admin opens on that session
	// (one sign-in), reached in-app as a click does.
	p := newTab(t, browser, "admin")
	signIn(p, base, admin, "/")
	eval[bool](p, "open the recordings tab in-app", `(history.pushState(null, "", "/admin/recordings"), dispatchEvent(new PopStateEvent("popstate")), true)`)
	p.waitFor("the disk use", `document.querySelector('[data-testid="usage-count"]')?.textContent === "0" &&
		document.querySelector('[data-testid="usage-state"]')?.textContent.includes("disk full")`, 15*time.Second)
	p.waitFor("the admin's notice", `document.querySelector('[data-testid="disk-notice"]')?.textContent.includes("disk is full")`, 10*time.Second)
	p.do("set a count limit", chromedp.SendKeys(chromedp.ID("rec-count"), "5"),
		chromedp.Click(chromedp.CSS(`[data-testid="retention-form"] button[type="submit"]`)))
	p.waitFor("saved", `document.querySelector('[role="status"].ok')?.textContent === "Recording settings saved."`, 10*time.Second)
	var set struct{ MaxCount int }
	together(t, base, "GET", "/api/recording-settings/default", admin.Access, nil, &set)
	if set.MaxCount != 5 {
		t.Fatalf("saved settings: %+v", set)
	}
	p.screenshot("admin-recordings")
	// The notice is on the other tabs too.
	p.do("open the overview", chromedp.Click(chromedp.CSS(`nav.side a[href="/admin/"]`)))
	p.waitFor("the notice on the overview", `location.pathname === "/admin/" && !!document.querySelector('[data-testid="disk-notice"]')`, 10*time.Second)
}
