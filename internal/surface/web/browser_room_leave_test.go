package web_test

import (
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// TestBrowserRoomLeaveBackForwardCache: someone who leaves a watch room by
// going to another page drops out of the others' People list at once, and
// counts once when they come back. Chromium keeps the page it leaves in
// its back-forward cache with its sockets open, so the room kept listing
// them (for as long as the page stayed cached) and listed them twice on
// their return.
func TestBrowserRoomLeaveBackForwardCache(t *testing.T) {
	t.Parallel()
	needBrowser(t)
	_, base := startApp(t, nil)
	browser := newBrowser(t)
	host := newTab(t, browser, "host")
	guest := newTab(t, browser, "guest")
	signUp(host, base, "host_r", "")
	host.do("create a room",
		chromedp.Navigate(base+"/rooms"),
		chromedp.WaitVisible(chromedp.ID("room-name")),
		chromedp.SendKeys(chromedp.ID("room-name"), "leave_test\r"),
	)
	host.waitFor("the room, alone", `location.pathname === "/room/leave_test" && document.body.innerText.includes("1 watching")`, 15*time.Second)

	guest.do("join", chromedp.Navigate(base+"/room/leave_test"))
	guest.waitFor("in the room", `!!document.querySelector("#room-chat") && document.body.innerText.includes("2 watching")`, 15*time.Second)
	host.waitFor("the guest listed", `document.body.innerText.includes("2 watching")`, 10*time.Second)

	guest.do("go to the rooms list", chromedp.Navigate(base+"/rooms"))
	guest.waitFor("the rooms list", `location.pathname === "/rooms"`, 10*time.Second)
	host.waitFor("the guest gone", `document.body.innerText.includes("1 watching")`, 10*time.Second)

	guest.do("come back", chromedp.Navigate(base+"/room/leave_test"))
	guest.waitFor("in the room again", `!!document.querySelector("#room-chat") && document.body.innerText.includes("2 watching")`, 15*time.Second)
	host.waitFor("the guest listed once", `document.body.innerText.includes("2 watching")`, 10*time.Second)
}
