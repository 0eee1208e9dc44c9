package web_test

import (
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/hearth-community/hearth/internal/config"
)

// TestBrowserStagePageContent: the stage page shows what Owncast's page
// shows under the stream and Hearth's page used to leave out: the page
// content (--stage-page-content, then the admin's config/pagecontent,
// Markdown, its script dropped), the tags (--stage-tags, config/tags) and
// the social links (--stage-social-handles, config/socialhandles).
func TestBrowserStagePageContent(t *testing.T) {
	t.Parallel()
	needBrowser(t)
	_, base := startApp(t, func(c *config.Config) {
		c.StagePageContent = "Hello from **the flag**"
		c.StageTags = []string{"music", "live"}
		c.StageSocialHandles = []string{"github=https://github.com/owncast/owncast"}
	})
	browser := newBrowser(t)
	viewer := newTab(t, browser, "viewer")
	viewer.do("open the stage", chromedp.Navigate(base+"/live"))
	viewer.waitFor("the flag's page content", `document.querySelector('[data-testid="stage-page-content"] strong')?.textContent === "the flag"`, 15*time.Second)
	viewer.waitFor("the tags", `document.querySelector('[data-testid="stage-tags"]')?.textContent === "#music#live"`, 5*time.Second)
	viewer.waitFor("the social link", `(() => { const a = document.querySelector('[data-testid="social-handle"]'); return a?.textContent === "github" && a.href === "https://github.com/owncast/owncast"; })()`, 5*time.Second)

	adminPost(t, base, "/api/admin/config/pagecontent", map[string]any{"value": "## About\n\nWe stream [every night](https://example.org/schedule).<script>window.pwned = 1</script>"})
	adminPost(t, base, "/api/admin/config/tags", map[string]any{"value": []string{"art"}})
	adminPost(t, base, "/api/admin/config/socialhandles", map[string]any{"value": []map[string]any{{"platform": "mastodon", "url": "https://social.example/@me"}}})
	viewer.do("reload the stage", chromedp.Navigate(base+"/live"))
	viewer.waitFor("the admin's page content", `document.querySelector('[data-testid="stage-page-content"] a')?.href === "https://example.org/schedule"`, 15*time.Second)
	viewer.waitFor("the admin's tags and link", `document.querySelector('[data-testid="stage-tags"]')?.textContent === "#art" && document.querySelector('[data-testid="social-handle"]')?.href === "https://social.example/@me"`, 5*time.Second)
	viewer.screenshot("stage-page-content")
	if eval[bool](viewer, "look for the script", `!!document.querySelector('[data-testid="stage-page-content"] script') || window.pwned === 1`) {
		t.Fatal("the page content's script was kept")
	}
}
