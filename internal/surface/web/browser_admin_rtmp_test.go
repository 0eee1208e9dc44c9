package web_test

import (
	"strconv"
	"testing"
	"time"

	"github.com/hearth-community/hearth/internal/config"
)

// TestBrowserAdminRTMPURL: the admin's Stream keys tab shows the RTMP URL
// with the port the RTMP listener is bound to, and says RTMP ingest is off
// on a server without one (serverconfig's rtmpServerPort is 0 then), where
// it used to show rtmp://host:0/live.
func TestBrowserAdminRTMPURL(t *testing.T) {
	t.Parallel()
	needBrowser(t)
	browser := newBrowser(t)
	for _, tc := range []struct {
		name string
		addr string
	}{{"off", ""}, {"on", "127.0.0.1:0"}} {
		a, base := startApp(t, func(c *config.Config) { c.RTMPAddr = tc.addr })
		var r struct {
			Access  string `json:"access_token"`
			Refresh string `json:"refresh_token"`
		}
		together(t, base, "POST", "/auth/login", "", map[string]string{"username": "admin", "password": adminPassword}, &r)
		p := newTab(t, browser, "admin-rtmp-"+tc.name)
		signIn(p, base, account{Name: "admin", Access: r.Access, Refresh: r.Refresh}, "/")
		eval[bool](p, "open the stream keys tab in-app", `(history.pushState(null, "", "/admin/video"), dispatchEvent(new PopStateEvent("popstate")), true)`)
		if tc.addr == "" {
			p.waitFor("RTMP ingest off", `document.querySelector('[data-testid="rtmp-off"]')?.textContent.includes("RTMP ingest is off") && !document.querySelector('[data-testid="rtmp-url"]')`, 15*time.Second)
			continue
		}
		want := "rtmp://127.0.0.1:" + strconv.Itoa(rtmpPort(a)) + "/live"
		p.waitFor("the RTMP URL", `document.querySelector('[data-testid="rtmp-url"] code')?.textContent === `+jsString(want)+` && !document.querySelector('[data-testid="rtmp-off"]')`, 15*time.Second)
	}
}
