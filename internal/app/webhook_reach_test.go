package app_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestWebhookAllowAddrsForAdminsCommunitiesOnly: --webhook-allow-addrs
// opens the operator's internal address to the webhooks of a community an
// instance admin owns, not to those of a community any other account made:
// its deliveries to that address are refused at the connection and
// counted as failed, while the admin's community's arrive. Every
// community's webhooks reached it, so anyone who signed up and made a
// server could post to the operator's bot.
func TestWebhookAllowAddrsForAdminsCommunitiesOnly(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	hits := map[string]int{}
	admins := make(chan struct{}, 1)
	target := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		hits[r.Header.Get("X-Together-Hook-ID")]++
		mu.Unlock()
		select {
		case admins <- struct{}{}:
		default:
		}
	}))
	defer target.Close()
	cfg := testConfig(t)
	cfg.WebhookAllowAddrs = []string{strings.TrimPrefix(target.URL, "http://")}
	a, _ := start(t, cfg, nil)
	base := a.HTTP.URL()
	hookedServer := func(token string) (string, string) {
		t.Helper()
		var srv, ch struct{ ID string }
		if code := call(t, "POST", base+"/servers", token, map[string]any{"name": "W"}, &srv); code != 201 {
			t.Fatalf("server: %d", code)
		}
		if code := call(t, "POST", base+"/servers/"+srv.ID+"/channels", token, map[string]any{"name": "g", "type": "text"}, &ch); code != 201 {
			t.Fatalf("channel: %d", code)
		}
		var hook struct{ Webhook struct{ ID string } }
		if code := call(t, "POST", base+"/servers/"+srv.ID+"/webhooks", token, map[string]any{"name": "bot", "url": target.URL,
			"event_types": []string{"message.created"}}, &hook); code != 201 {
			t.Fatalf("webhook: %d", code)
		}
		if code := call(t, "POST", base+"/channels/"+ch.ID+"/messages", token, map[string]any{"content": "hi"}, nil); code != 201 {
			t.Fatalf("message: %d", code)
		}
		return srv.ID, hook.Webhook.ID
	}
	ann := register(t, base, "ann")
	annServer, annHook := hookedServer(ann.AccessToken)
	_, adminHook := hookedServer(adminLogin(t, base).AccessToken)
	select {
	case <-admins:
	case <-time.After(hangGuard):
		t.Fatal("the admin's community's webhook did not reach the allowed address")
	}
	// Ann's delivery is tried 3 times (5 s, then 15 s apart) and recorded
	// as failed.
	deadline := time.Now().Add(hangGuard)
	for {
		var hook struct {
			DeliveryFailures int `json:"delivery_failures"`
		}
		if code := call(t, "GET", base+"/servers/"+annServer+"/webhooks/"+annHook, ann.AccessToken, nil, &hook); code != 200 {
			t.Fatalf("ann's webhook: %d", code)
		}
		if hook.DeliveryFailures > 0 {
			break
		}
		mu.Lock()
		reached := hits[annHook]
		mu.Unlock()
		if reached > 0 {
			t.Fatal("ann's community's webhook reached the operator's allowed address")
		}
		if time.Now().After(deadline) {
			t.Fatal("ann's delivery was never recorded as failed")
		}
		time.Sleep(200 * time.Millisecond)
	}
	mu.Lock()
	defer mu.Unlock()
	if hits[annHook] != 0 || hits[adminHook] == 0 {
		t.Errorf("hits = %v: ann's hook %s must not reach the allowed address, the admin's %s must", hits, annHook, adminHook)
	}
}
