package together

import (
	"net/http"
	"time"

	"github.com/hearth-community/hearth/internal/identity"
)

// routes is Together's route table (server/src/main.rs), without prefix.
func (s *Surface) routes() []route {
	pub := func(method, path string, h func(http.ResponseWriter, *http.Request, *identity.Principal)) route {
		return route{method: method, path: path, h: h, public: true}
	}
	auth := func(method, path string, h func(http.ResponseWriter, *http.Request, *identity.Principal)) route {
		return route{method: method, path: path, h: h}
	}
	// message is an auth route that creates a message (Deps.MessageRate).
	message := func(method, path string, h func(http.ResponseWriter, *http.Request, *identity.Principal)) route {
		return route{method: method, path: path, h: h, message: true}
	}
	// voice is an auth route that puts its caller in a call or changes
	// how it is there (VoiceStatesPerSec).
	voice := func(method, path string, h func(http.ResponseWriter, *http.Request, *identity.Principal)) route {
		return route{method: method, path: path, h: h, voice: true}
	}
	// join is an auth route that adds its caller to a server (JoinsPerSec).
	join := func(method, path string, h func(http.ResponseWriter, *http.Request, *identity.Principal)) route {
		return route{method: method, path: path, h: h, join: true}
	}
	return []route{
		pub("GET", "/health", s.health),
		pub("GET", "/health/ready", s.healthReady),
		pub("GET", "/health/live", s.healthLive),
		pub("POST", "/auth/register", s.register),
		pub("POST", "/auth/login", s.login),
		pub("POST", "/auth/refresh", s.refresh),
		auth("POST", "/auth/logout", s.logout),
		auth("POST", "/auth/forgot-password", s.admin.ForgotPassword),
		pub("POST", "/auth/reset-password", s.admin.ResetPassword),
		auth("POST", "/auth/change-password", s.changePassword),
		pub("GET", "/instance/registration-mode", s.admin.GetRegistrationMode),

		auth("GET", "/users/@me", s.me),
		auth("PATCH", "/users/@me", s.updateMe),
		auth("GET", "/users/{user_id}", s.getUser),

		auth("POST", "/servers", s.createServer),
		auth("GET", "/servers", s.listServers),
		auth("GET", "/servers/browse", s.browseServers),
		auth("GET", "/servers/{id}", s.inServer(s.getServer)),
		auth("PATCH", "/servers/{id}", s.inServer(s.updateServer)),
		auth("DELETE", "/servers/{id}", s.inServer(s.deleteServer)),
		join("POST", "/servers/{id}/join", s.inServer(s.joinServer)),
		auth("DELETE", "/servers/{id}/leave", s.inServer(s.leaveServer)),
		auth("GET", "/servers/{id}/members", s.inServer(s.listMembers)),
		auth("GET", "/server-templates", s.listTemplates),
		auth("GET", "/servers/{id}/search", s.inServer(s.search)),

		auth("POST", "/servers/{id}/channels", s.inServer(s.createChannel)),
		auth("GET", "/servers/{id}/channels", s.inServer(s.listChannels)),
		auth("GET", "/servers/{id}/channels/{channel_id}", s.inServer(s.getChannel)),
		auth("PATCH", "/servers/{id}/channels/{channel_id}", s.inServer(s.updateChannel)),
		auth("DELETE", "/servers/{id}/channels/{channel_id}", s.inServer(s.deleteChannel)),

		auth("GET", "/servers/{id}/roles", s.inServer(s.listRoles)),
		auth("POST", "/servers/{id}/roles", s.inServer(s.createRole)),
		auth("PATCH", "/servers/{id}/roles/{role_id}", s.inServer(s.updateRole)),
		auth("DELETE", "/servers/{id}/roles/{role_id}", s.inServer(s.deleteRole)),
		auth("PUT", "/servers/{id}/members/{user_id}/roles/{role_id}", s.inServer(s.memberRole(true))),
		auth("DELETE", "/servers/{id}/members/{user_id}/roles/{role_id}", s.inServer(s.memberRole(false))),
		auth("GET", "/channels/{channel_id}/overrides", s.listOverrides),
		auth("PUT", "/channels/{channel_id}/overrides", s.putOverride),
		auth("DELETE", "/channels/{channel_id}/overrides/{override_id}", s.deleteOverride),

		auth("POST", "/servers/{id}/members/{user_id}/kick", s.inServer(s.kick)),
		auth("POST", "/servers/{id}/members/{user_id}/ban", s.inServer(s.ban)),
		auth("POST", "/servers/{id}/members/{user_id}/timeout", s.inServer(s.timeout(true))),
		auth("DELETE", "/servers/{id}/members/{user_id}/timeout", s.inServer(s.timeout(false))),
		auth("GET", "/servers/{id}/bans", s.inServer(s.listBans)),
		auth("DELETE", "/servers/{id}/bans/{user_id}", s.inServer(s.unban)),

		auth("GET", "/servers/{id}/automod", s.moderation.Automod),
		auth("PATCH", "/servers/{id}/automod", s.moderation.UpdateAutomod),
		auth("GET", "/servers/{id}/automod/words", s.moderation.Words),
		auth("POST", "/servers/{id}/automod/words", s.moderation.AddWord),
		auth("DELETE", "/servers/{id}/automod/words/{word}", s.moderation.RemoveWord),
		auth("GET", "/servers/{id}/automod/logs", s.moderation.AutomodLogs),
		auth("GET", "/servers/{id}/audit-logs", s.moderation.AuditLogs),
		auth("GET", "/servers/{id}/export", s.export.Server),

		auth("GET", "/servers/{id}/webhooks", s.hooks.List),
		auth("POST", "/servers/{id}/webhooks", s.hooks.Create),
		auth("GET", "/servers/{id}/webhooks/{webhook_id}", s.hooks.Get),
		auth("PATCH", "/servers/{id}/webhooks/{webhook_id}", s.hooks.Update),
		auth("DELETE", "/servers/{id}/webhooks/{webhook_id}", s.hooks.Delete),
		auth("POST", "/servers/{id}/webhooks/{webhook_id}/test", s.hooks.Test),

		auth("GET", "/servers/{id}/invites", s.inServer(s.listInvites)),
		auth("POST", "/servers/{id}/invites", s.inServer(s.createInvite)),
		auth("DELETE", "/servers/{id}/invites/{invite_id}", s.inServer(s.deleteInvite)),
		auth("GET", "/invites/{code}", s.previewInvite),
		join("POST", "/invites/{code}/accept", s.acceptInvite),

		message("POST", "/channels/{channel_id}/messages", s.postMessage),
		auth("GET", "/channels/{channel_id}/messages", s.listMessages),
		auth("GET", "/channels/{channel_id}/messages/{message_id}", s.getMessage),
		message("PATCH", "/messages/{message_id}", s.editMessage),
		auth("DELETE", "/messages/{message_id}", s.deleteMessage),
		auth("GET", "/channels/{channel_id}/messages/{message_id}/thread", s.listThread),
		message("POST", "/channels/{channel_id}/messages/{message_id}/thread", s.postThread),
		auth("GET", "/channels/{channel_id}/messages/{message_id}/reactions", s.listReactions),
		message("PUT", "/channels/{channel_id}/messages/{message_id}/reactions/{emoji}", s.react(true)),
		message("DELETE", "/channels/{channel_id}/messages/{message_id}/reactions/{emoji}", s.react(false)),
		auth("GET", "/channels/{channel_id}/pinned-messages", s.listPins),
		auth("POST", "/channels/{channel_id}/messages/{message_id}/pin", s.pin(true)),
		auth("DELETE", "/channels/{channel_id}/messages/{message_id}/pin", s.pin(false)),
		auth("POST", "/channels/{channel_id}/ack", s.ackChannel),

		auth("POST", "/dm-channels", s.openDM),
		auth("GET", "/dm-channels", s.listDMs),
		message("POST", "/dm-channels/{id}/messages", s.postDM),
		auth("GET", "/dm-channels/{id}/messages", s.listDM),
		auth("POST", "/dm-channels/{id}/ack", s.ackDM),

		voice("POST", "/channels/{channel_id}/voice", s.joinVoice),
		auth("DELETE", "/channels/{channel_id}/voice", s.leaveVoiceHTTP),
		voice("PATCH", "/channels/{channel_id}/voice", s.updateVoice),
		auth("GET", "/channels/{channel_id}/voice", s.listVoice),
		voice("POST", "/channels/{channel_id}/go-live", s.startGoLive),
		auth("DELETE", "/channels/{channel_id}/go-live", s.stopGoLive),
		auth("GET", "/channels/{channel_id}/go-live", s.getGoLive),
		auth("GET", "/ice-servers", s.iceServers),
		auth("GET", "/link-preview", s.embeds.LinkPreview),
		auth("GET", "/giphy/search", s.embeds.GiphySearch),

		auth("POST", "/messages/{message_id}/attachments", s.files.UploadAttachments),
		auth("GET", "/messages/{message_id}/attachments", s.files.ListAttachments),
		pub("GET", "/files/{message_id}/{filepath}", s.files.ServeFile),
		auth("GET", "/servers/{id}/emojis", s.files.ListEmojis),
		auth("POST", "/servers/{id}/emojis", s.files.CreateEmoji),
		auth("DELETE", "/servers/{id}/emojis/{emoji_id}", s.files.DeleteEmoji),
		pub("GET", "/emojis/{emoji_id}", s.files.ServeEmoji),
		// Another node of a cluster fetching a file this node holds
		// (signed with the cluster's key; files/peer.go).
		pub("GET", "/files/{message_id}/{filepath}/peer", s.files.PeerFile),
		pub("GET", "/emojis/{emoji_id}/peer", s.files.PeerEmoji),
		message("POST", "/channels/{channel_id}/polls", s.polls.CreatePoll),
		auth("GET", "/polls/{poll_id}", s.polls.Poll),
		message("POST", "/polls/{poll_id}/vote", s.polls.Vote),
		message("POST", "/channels/{channel_id}/events", s.polls.CreateEvent),
		auth("GET", "/servers/{id}/events", s.polls.Events),

		auth("POST", "/bots/connect", s.bots.Connect),
		auth("POST", "/bots", s.bots.Create),
		auth("GET", "/bots", s.bots.List),
		auth("GET", "/bots/{bot_id}", s.bots.Get),
		auth("DELETE", "/bots/{bot_id}", s.bots.Revoke),
		auth("PATCH", "/bots/{bot_id}", s.bots.Update),
		auth("GET", "/bots/{bot_id}/logs", s.bots.Logs),
		auth("POST", "/bots/{bot_id}/token/regenerate", s.bots.Regenerate),

		auth("GET", "/admin/stats", s.admin.Stats),
		auth("GET", "/admin/settings", s.admin.Settings),
		auth("PATCH", "/admin/settings", s.admin.UpdateSettings),
		auth("GET", "/admin/users", s.admin.Users),
		auth("PATCH", "/admin/users/{user_id}", s.admin.UpdateUser),
		auth("DELETE", "/admin/users/{user_id}", s.admin.DeleteUser),
		auth("PUT", "/admin/users/{user_id}/password", s.adminSetPassword),
		auth("GET", "/admin/servers", s.admin.Servers),
		auth("DELETE", "/admin/servers/{server_id}", s.admin.DeleteServer),
	}
}

func (s *Surface) health(w http.ResponseWriter, r *http.Request, _ *identity.Principal) {
	status, code := "ok", http.StatusOK
	db := map[string]any{"status": "ok", "latency_ms": 0}
	if s.d.DBPing != nil {
		start := time.Now()
		err := s.d.DBPing(r.Context())
		db["latency_ms"] = time.Since(start).Milliseconds()
		if err != nil {
			status, code = "degraded", http.StatusServiceUnavailable
			db["status"] = "error"
		}
	}
	writeJSON(w, code, map[string]any{"status": status, "service": "together-server", "version": s.d.Version,
		"uptime_secs": int64(time.Since(s.started).Seconds()), "database": db,
		"connections": map[string]int{"websocket": s.Connections()}})
}

func (s *Surface) healthReady(w http.ResponseWriter, r *http.Request, _ *identity.Principal) {
	check := map[string]any{"ok": true}
	code := http.StatusOK
	if s.d.DBPing != nil {
		if err := s.d.DBPing(r.Context()); err != nil {
			check = map[string]any{"ok": false, "error": "database unavailable"}
			code = http.StatusServiceUnavailable
		}
	}
	writeJSON(w, code, map[string]any{"ready": code == http.StatusOK, "checks": map[string]any{"database": check}})
}

func (s *Surface) healthLive(w http.ResponseWriter, _ *http.Request, _ *identity.Principal) {
	writeJSON(w, http.StatusOK, map[string]bool{"alive": true})
}

type templateChannel struct {
	Name     string `json:"name"`
	Type     string `json:"type"`
	Category string `json:"category"`
	Position int    `json:"position"`
}

type serverTemplate struct {
	ID          string            `json:"id"`
	Name        string            `json:"name"`
	Description string            `json:"description"`
	Category    string            `json:"category"`
	Channels    []templateChannel `json:"channels"`
	IsBuiltin   bool              `json:"is_builtin"`
	CreatedAt   time.Time         `json:"created_at"`
}

var builtinEpoch = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// builtinTemplates are Together's three built-in server templates (the
// same channels, categories and positions), with fixed ids, in Together's
// order (by name).
var builtinTemplates = []serverTemplate{
	{ID: "00000000-0000-4000-8000-000000000003", Name: "Community", Description: "Announcements, chat and events for a community",
		Category: "community", IsBuiltin: true, CreatedAt: builtinEpoch, Channels: []templateChannel{
			{"announcements", "text", "Information", 0}, {"rules", "text", "Information", 1},
			{"general", "text", "Text Channels", 2}, {"off-topic", "text", "Text Channels", 3}, {"General", "voice", "Voice Channels", 4}}},
	{ID: "00000000-0000-4000-8000-000000000001", Name: "Gaming", Description: "Text and voice channels for a gaming group",
		Category: "gaming", IsBuiltin: true, CreatedAt: builtinEpoch, Channels: []templateChannel{
			{"announcements", "text", "Information", 0}, {"general", "text", "Text Channels", 1},
			{"gaming-chat", "text", "Text Channels", 2}, {"General", "voice", "Voice Channels", 3}, {"Gaming", "voice", "Voice Channels", 4}}},
	{ID: "00000000-0000-4000-8000-000000000002", Name: "Study Group", Description: "Channels for studying together",
		Category: "study", IsBuiltin: true, CreatedAt: builtinEpoch, Channels: []templateChannel{
			{"announcements", "text", "Information", 0}, {"resources", "text", "Text Channels", 1},
			{"homework-help", "text", "Text Channels", 2}, {"Study Room", "voice", "Voice Channels", 3}}},
}

func templateByID(id string) *serverTemplate {
	for i := range builtinTemplates {
		if builtinTemplates[i].ID == id {
			return &builtinTemplates[i]
		}
	}
	return nil
}

func (s *Surface) listTemplates(w http.ResponseWriter, _ *http.Request, _ *identity.Principal) {
	writeJSON(w, http.StatusOK, builtinTemplates)
}

// Patterns lists every REST route as "METHOD /path" (without the /api
// prefix), for tests and documentation.
func (s *Surface) Patterns() []string {
	rs := s.routes()
	out := make([]string, len(rs))
	for i, r := range rs {
		out[i] = r.method + " " + r.path
	}
	return out
}
