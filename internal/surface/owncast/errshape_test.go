package owncast_test

import (
	"encoding/json"
	"strings"
	"testing"
)

// errorShape checks a refusal: its status, and that its body is exactly one
// of Owncast's two error shapes with the reason under the key Owncast uses,
// {"error": reason} (BadRequestHandler) or {"success": false, "message":
// reason} (WriteSimpleResponse). want "" takes any non-empty reason.
func errorShape(t *testing.T, name string, r reply, status int, key, want string) {
	t.Helper()
	var body map[string]any
	if err := json.Unmarshal(r.body, &body); err != nil {
		t.Errorf("%s: %d %q is not JSON", name, r.status, r.body)
		return
	}
	got, _ := body[key].(string)
	wantKeys := 1
	if key == "message" {
		wantKeys = 2
		if body["success"] != false {
			t.Errorf("%s: %s has no success:false", name, r.body)
		}
	}
	if r.status != status || len(body) != wantKeys || got == "" || (want != "" && got != want) {
		t.Errorf("%s: %d %s, want %d with %q under %q only", name, r.status, r.body, status, want, key)
	}
}

// TestIntegrationChatErrorShape: the integrations' chat routes refuse as
// Owncast's do (its admin/chat.go): BadRequestHandler's {"error"} for an
// empty message, the retired chat/user route, bad JSON (Owncast's
// InternalErrorHandler, there with a 200) and the chat's own refusals;
// WriteSimpleResponse's {success, message} for a system message to one
// client without a body. Integrations read the reason under that key.
func TestIntegrationChatErrorShape(t *testing.T) {
	t.Parallel()
	n := newNode(t, nodeOpts{})
	var tok map[string]any
	n.do(t, "POST", "/api/admin/accesstokens/create", "admin", map[string]any{"name": "bot",
		"scopes": []string{"CAN_SEND_SYSTEM_MESSAGES", "CAN_SEND_MESSAGES"}}).json(t, &tok)
	bot := "bearer:" + tok["accessToken"].(string)

	for _, c := range []struct {
		name, path string
		body       any
		status     int
		key, want  string
	}{
		{"send, empty message", "/api/integrations/chat/send", map[string]string{"body": ""}, 400, "error", "invalid message"},
		{"send, no body field", "/api/integrations/chat/send", map[string]string{}, 400, "error", "invalid message"},
		{"send, bad JSON", "/api/integrations/chat/send", "{", 400, "error", ""},
		{"send, wrong type", "/api/integrations/chat/send", map[string]any{"body": 5}, 400, "error", ""},
		{"send, too long", "/api/integrations/chat/send", map[string]string{"body": strings.Repeat("x", 2049)}, 400, "error", "message is too long"},
		{"retired chat/user", "/api/integrations/chat/user", map[string]string{"body": "x"}, 400, "error", "no longer supported. see /api/integrations/chat/send"},
		{"system, bad JSON", "/api/integrations/chat/system", "{", 400, "error", ""},
		{"system, empty", "/api/integrations/chat/system", map[string]string{"body": ""}, 400, "error", ""},
		{"action, bad JSON", "/api/integrations/chat/action", "{", 400, "error", ""},
		{"action, empty", "/api/integrations/chat/action", map[string]string{"body": ""}, 400, "error", ""},
		{"system to a client, bad JSON", "/api/integrations/chat/system/client/1", "{", 400, "error", ""},
		{"system to a client, no body", "/api/integrations/chat/system/client/1", map[string]string{}, 400, "message", "no message body provided"},
	} {
		errorShape(t, c.name, n.do(t, "POST", c.path, bot, c.body), c.status, c.key, c.want)
	}
}

// TestWebhookAndTokenErrorShape: the admin's webhook and access-token
// writes refuse in Owncast's {"error"} shape (its admin/webhooks.go and
// externalAPIUsers.go answer every refusal with BadRequestHandler or
// InternalErrorHandler), with Owncast's words for a missing field.
func TestWebhookAndTokenErrorShape(t *testing.T) {
	t.Parallel()
	n := newNode(t, nodeOpts{})
	for _, c := range []struct {
		name, path string
		body       any
		status     int
		want       string
	}{
		{"webhook, bad JSON", "/api/admin/webhooks/create", "{", 400, ""},
		{"webhook, unknown event", "/api/admin/webhooks/create", map[string]any{"url": "https://example.com/h", "events": []string{"NOPE"}}, 400, ""},
		{"webhook, private URL", "/api/admin/webhooks/create", map[string]any{"url": "http://127.0.0.1/h", "events": []string{"CHAT"}}, 400, ""},
		{"webhook delete, bad JSON", "/api/admin/webhooks/delete", "{", 400, ""},
		{"webhook delete, no id", "/api/admin/webhooks/delete", map[string]any{}, 400, "id field is required"},
		{"webhook delete, unknown id", "/api/admin/webhooks/delete", map[string]any{"id": 12345}, 404, "12345 not found"},
		{"token, bad JSON", "/api/admin/accesstokens/create", "{", 400, ""},
		{"token, no scopes", "/api/admin/accesstokens/create", map[string]any{"name": "x"}, 400, "scopes field is required"},
		{"token, no name", "/api/admin/accesstokens/create", map[string]any{"scopes": []string{"CAN_SEND_MESSAGES"}}, 400, "name field is required"},
		{"token, unknown scope", "/api/admin/accesstokens/create", map[string]any{"name": "x", "scopes": []string{"ROOT"}}, 400, ""},
		{"token delete, bad JSON", "/api/admin/accesstokens/delete", "{", 400, ""},
		{"token delete, no token", "/api/admin/accesstokens/delete", map[string]any{}, 400, "token field is required"},
		{"token delete, empty", "/api/admin/accesstokens/delete", map[string]any{"token": ""}, 400, "must provide a token"},
		{"token delete, unknown", "/api/admin/accesstokens/delete", map[string]any{"token": "nope"}, 400, "unable to find token"},
	} {
		errorShape(t, c.name, n.do(t, "POST", c.path, "admin", c.body), c.status, "error", c.want)
	}
}
