package app_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// TestWebhookSurvivesRestart: a webhook delivery queued on a node that is
// shut down before the delivery succeeds (the endpoint is still answering)
// is sent by the node started again on the same data dir, as its first
// attempt, with Together's signature headers.
func TestWebhookSurvivesRestart(t *testing.T) {
	t.Parallel()
	type hit struct {
		hook, attempt string
		body          []byte
	}
	first := make(chan struct{})
	hits := make(chan hit, 4)
	var n atomic.Int32
	target := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		if n.Add(1) == 1 { // held until the first node stops

			close(first)
			<-r.Context().Done()
			return
		}
		hits <- hit{r.Header.Get("X-Together-Hook-ID"), r.Header.Get("X-Together-Delivery-Attempt"), body}
	}))
	defer target.Close()
	cfg := testConfig(t)
	cfg.WebhookAllowAddrs = []string{strings.TrimPrefix(target.URL, "http://")}
	a, stop := start(t, cfg, nil)
	url := a.HTTP.URL()
	var admin struct {
		AccessToken string `json:"access_token"`
	}
	if code := call(t, "POST", url+"/auth/login", "", map[string]string{"username": "admin", "password": "adminpassword"}, &admin); code != 200 {
		t.Fatalf("admin login: %d", code)
	}
	var srv, ch struct{ ID string }
	if code := call(t, "POST", url+"/servers", admin.AccessToken, map[string]any{"name": "W"}, &srv); code != 201 {
		t.Fatalf("server: %d", code)
	}
	if code := call(t, "POST", url+"/servers/"+srv.ID+"/channels", admin.AccessToken, map[string]any{"name": "g", "type": "text"}, &ch); code != 201 {
		t.Fatalf("channel: %d", code)
	}
	var hook struct{ Webhook struct{ ID string } }
	if code := call(t, "POST", url+"/servers/"+srv.ID+"/webhooks", admin.AccessToken, map[string]any{"name": "ci", "url": target.URL,
		"event_types": []string{"message.created"}}, &hook); code != 201 {
		t.Fatalf("webhook: %d", code)
	}
	if code := call(t, "POST", url+"/channels/"+ch.ID+"/messages", admin.AccessToken, map[string]any{"content": "survive"}, nil); code != 201 {
		t.Fatalf("message: %d", code)
	}
	select {
	case <-first:
	case <-time.After(hangGuard):
		t.Fatal("no delivery attempt")
	}
	if err := stop(); err != nil {
		t.Fatalf("stop: %v", err)
	}

	start(t, cfg, nil) // same data dir and database
	select {
	case h := <-hits:
		var env struct {
			Event string
			Data  struct{ Content string }
		}
		if err := json.Unmarshal(h.body, &env); err != nil || env.Event != "message.created" || env.Data.Content != "survive" {
			t.Fatalf("delivery %s %v", h.body, err)
		}
		if h.hook != hook.Webhook.ID || h.attempt != "1" {
			t.Fatalf("hook %q attempt %q", h.hook, h.attempt)
		}
	case <-time.After(hangGuard):
		t.Fatal("the queued delivery was not sent after the restart")
	}
}
