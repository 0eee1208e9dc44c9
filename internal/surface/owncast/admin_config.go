package owncast

import (
	"encoding/json"
	"net/http"

	"golang.org/x/crypto/bcrypt"

	"github.com/hearth-community/hearth/internal/fault"
	"github.com/hearth-community/hearth/internal/httpserver"
	"github.com/hearth-community/hearth/internal/identity"
	"github.com/hearth-community/hearth/internal/stagechat"
)

// errQuotesUnsupported refuses federation/enablequotes true: Hearth's
// federation does not implement FEP-044f quote consent, so the setting could
// not do what it says.
var errQuotesUnsupported = fault.New(fault.Invalid, "quote posts are not supported by this server")

// setter builds a POST /api/admin/config/<name> handler: it reads
// {"value": T} and applies it to the settings.
func setter[T any](s *Surface, apply func(st *stagechat.Settings, v T) error) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		var req struct {
			Value *T `json:"value"`
		}
		if !readJSON(w, r, &req) {
			return
		}
		if req.Value == nil {
			writeResult(w, http.StatusBadRequest, false, "unable to parse new value")
			return
		}
		before := s.profileKey()
		if err := s.d.Chat.UpdateSettings(r.Context(), func(st *stagechat.Settings) error { return apply(st, *req.Value) }); err != nil {
			writeError(w, err)
			return
		}
		s.profileChanged(r.Context(), before)
		writeResult(w, http.StatusOK, true, "changed")
	}
}

// text sets a free-text setting (stagechat's bounds).
func text(which stagechat.TextSetting) func(*stagechat.Settings, string) error {
	return func(st *stagechat.Settings, v string) error { return st.SetText(which, v) }
}

// list sets a list setting (stagechat's bounds).
func list(which stagechat.ListSetting) func(*stagechat.Settings, []string) error {
	return func(st *stagechat.Settings, v []string) error { return st.SetList(which, v) }
}

func boolean(f func(*stagechat.Settings, bool)) func(*stagechat.Settings, bool) error {
	return func(st *stagechat.Settings, v bool) error {
		f(st, v)
		return nil
	}
}

func (s *Surface) registerAdminConfig(h *httpserver.Server) {
	cfg := func(name string, f http.HandlerFunc) { s.admin(h, "POST /api/admin/config/"+name, f) }
	cfg("name", setter(s, text(stagechat.TextName)))
	cfg("serversummary", setter(s, text(stagechat.TextSummary)))
	cfg("welcomemessage", setter(s, text(stagechat.TextWelcome)))
	cfg("offlinemessage", setter(s, text(stagechat.TextOffline)))
	cfg("pagecontent", setter(s, text(stagechat.TextPageContent)))
	cfg("streamtitle", s.setStreamTitle)
	cfg("tags", setter(s, list(stagechat.ListTags)))
	cfg("nsfw", setter(s, boolean(func(st *stagechat.Settings, v bool) { st.NSFW = v })))
	cfg("customstyles", setter(s, text(stagechat.TextCustomStyles)))
	cfg("customjavascript", setter(s, text(stagechat.TextCustomJavascript)))
	cfg("hideviewercount", setter(s, boolean(func(st *stagechat.Settings, v bool) { st.HideViewerCount = v })))
	cfg("autoplay", setter(s, func(st *stagechat.Settings, v string) error { return st.SetAutoplay(v) }))
	cfg("disablesearchindexing", setter(s, boolean(func(st *stagechat.Settings, v bool) { st.DisableSearchIndexing = v })))
	cfg("directoryenabled", setter(s, func(st *stagechat.Settings, v bool) error {
		if v && s.d.Directory == nil {
			return fault.New(fault.Invalid, "no directory is configured (--directory-url)")
		}
		st.Directory.Enabled = v
		return nil
	}))
	cfg("sockethostoverride", setter(s, func(st *stagechat.Settings, v string) error { return st.SetSocketHostOverride(v) }))
	cfg("webserverport", s.handleSetWebPort)
	cfg("serverurl", setter(s, func(st *stagechat.Settings, v string) error { return st.SetServerURL(v) }))
	cfg("appearance", setter(s, func(st *stagechat.Settings, v map[string]string) error { return st.SetAppearance(v) }))
	cfg("socialhandles", setter(s, func(st *stagechat.Settings, v []stagechat.SocialHandle) error { return st.SetSocialHandles(v) }))
	cfg("externalactions", setter(s, func(st *stagechat.Settings, v []stagechat.ExternalAction) error { return st.SetExternalActions(v) }))
	cfg("logo", s.setLogo)
	cfg("favicon", s.setFavicon)
	cfg("adminpass", func(w http.ResponseWriter, r *http.Request) {
		var req struct {
			Value string `json:"value"`
		}
		if !readJSON(w, r, &req) {
			return
		}
		a := adminAccount(r)
		if a == nil {
			http.Error(w, "Unauthorized", http.StatusUnauthorized)
			return
		}
		if err := s.d.Identity.SetOperatorPassword(r.Context(), a.ID, req.Value); err != nil {
			writeError(w, err)
			return
		}
		writeResult(w, http.StatusOK, true, "changed")
	})

	// Chat.
	cfg("chat/disable", setter(s, boolean(func(st *stagechat.Settings, v bool) { st.ChatDisabled = v })))
	cfg("chat/joinmessagesenabled", setter(s, boolean(func(st *stagechat.Settings, v bool) { st.ChatJoinMessagesEnabled = v })))
	cfg("chat/establishedusermode", setter(s, boolean(func(st *stagechat.Settings, v bool) { st.ChatEstablishedUserMode = v })))
	cfg("chat/spamprotectionenabled", setter(s, boolean(func(st *stagechat.Settings, v bool) { st.ChatSpamProtection = v })))
	cfg("chat/requireauthentication", setter(s, boolean(func(st *stagechat.Settings, v bool) { st.ChatRequireAuthentication = v })))
	cfg("chat/slurfilterenabled", setter(s, boolean(func(st *stagechat.Settings, v bool) { st.ChatWordFilter = v })))
	cfg("chat/filteredwords", setter(s, func(st *stagechat.Settings, v []string) error { return st.SetFilteredWords(v) }))
	cfg("chat/forbiddenusernames", setter(s, list(stagechat.ListForbiddenUsernames)))
	cfg("chat/suggestedusernames", setter(s, list(stagechat.ListSuggestedUsernames)))

	// Federation (internal/federation reads these on every request) and
	// notifications.
	cfg("federation/enable", setter(s, boolean(func(st *stagechat.Settings, v bool) { st.Federation.Enabled = v })))
	cfg("federation/private", setter(s, boolean(func(st *stagechat.Settings, v bool) { st.Federation.IsPrivate = v })))
	cfg("federation/showengagement", setter(s, boolean(func(st *stagechat.Settings, v bool) { st.Federation.ShowEngagement = v })))
	cfg("federation/hidefollowers", setter(s, boolean(func(st *stagechat.Settings, v bool) { st.Federation.HideFollowersTab = v })))
	cfg("federation/enablequotes", setter(s, func(st *stagechat.Settings, v bool) error {
		if v {
			return errQuotesUnsupported
		}
		st.Federation.EnableQuotes = false
		return nil
	}))
	cfg("federation/username", setter(s, func(st *stagechat.Settings, v string) error { return st.SetFederationUsername(v) }))
	cfg("federation/livemessage", setter(s, text(stagechat.TextGoLiveMessage)))
	cfg("federation/blockdomains", setter(s, list(stagechat.ListBlockedDomains)))
	cfg("notifications/discord", setter(s, func(st *stagechat.Settings, v json.RawMessage) error { return st.SetDiscordNotifications(v) }))
	cfg("notifications/browser", setter(s, func(st *stagechat.Settings, v json.RawMessage) error {
		if err := json.Unmarshal(v, &st.Notifications.Browser); err != nil {
			return fault.Wrap(fault.Invalid, "unable to parse new value", err)
		}
		return nil
	}))

	s.admin(h, "GET /api/admin/serverconfig", s.handleServerConfig)
}

func adminAccount(r *http.Request) *identity.Account {
	a, _ := r.Context().Value(adminKey).(*identity.Account)
	return a
}

// adminPasswordEcho is serverconfig's adminPassword: Owncast 0.2 answers
// the bcrypt hash it stores, and its API suite checks it with
// bcrypt.compare. Hearth stores an argon2id hash only, so it answers a
// bcrypt hash of the password this very request was verified with (Basic
// auth), which tells the caller nothing it did not send; a request signed
// in by session token, or a password past bcrypt's 72 bytes, gets "".
// The hash protects nothing (the caller sent the password), so it is made
// at bcrypt's least cost: at the default cost it took ~60 ms of CPU per
// serverconfig read, seconds on a loaded node.
func adminPasswordEcho(r *http.Request) string {
	pass, _ := r.Context().Value(adminPassKey).(string)
	if pass == "" {
		return ""
	}
	h, err := bcrypt.GenerateFromPassword([]byte(pass), bcrypt.MinCost)
	if err != nil {
		return ""
	}
	return string(h)
}

// handleServerConfig is GET /api/admin/serverconfig.
func (s *Surface) handleServerConfig(w http.ResponseWriter, r *http.Request) {
	st := s.d.Chat.Settings()
	handles := make([]map[string]any, 0, len(st.SocialHandles))
	for _, h := range st.SocialHandles {
		handles = append(handles, map[string]any{"platform": h.Platform, "url": h.URL})
	}
	out := map[string]any{
		"instanceDetails": map[string]any{
			"name": st.Name, "summary": st.Summary, "welcomeMessage": st.WelcomeMessage, "offlineMessage": st.OfflineMessage,
			"logo": logoName(st), "extraPageContent": st.ExtraPageContent, "streamTitle": st.StreamTitle, "tags": st.Tags,
			"socialHandles": handles, "nsfw": st.NSFW, "customStyles": st.CustomStyles, "customJavascript": st.CustomJavascript,
			"appearanceVariables": st.AppearanceVariables, "autoplay": st.AutoplayMode(),
		},
		"schedule":                  s.scheduleConfig(r.Context(), true),
		"adminPassword":             adminPasswordEcho(r),
		"socketHostOverride":        st.SocketHostOverride,
		"yp":                        st.Directory,
		"federation":                st.Federation,
		"notifications":             st.Notifications,
		"forbiddenUsernames":        st.ForbiddenUsernames,
		"suggestedUsernames":        st.SuggestedUsernames,
		"chatDisabled":              st.ChatDisabled,
		"chatJoinMessagesEnabled":   st.ChatJoinMessagesEnabled,
		"chatEstablishedUserMode":   st.ChatEstablishedUserMode,
		"chatSpamProtectionEnabled": st.ChatSpamProtection,
		"chatRequireAuthentication": st.ChatRequireAuthentication,
		"chatSlurFilterEnabled":     st.ChatWordFilter,
		"filteredWords":             filteredWords(st.FilteredWords),
		"hideViewerCount":           st.HideViewerCount,
		"disableSearchIndexing":     st.DisableSearchIndexing,
		"externalActions":           st.ExternalActions,
		"serverURL":                 st.ServerURL,
		// Stream settings: the live part fills these in (LiveConfig).
		"streamKeys":          []any{},
		"videoSettings":       map[string]any{"latencyLevel": 2, "videoQualityVariants": []any{}},
		"s3":                  map[string]any{"enabled": false, "forcePathStyle": false},
		"streamKeyOverridden": false,
	}
	if s.d.WebServerPort > 0 {
		// Owncast's admin shows it on its server settings page.
		out["webServerPort"] = s.d.WebServerPort
	}
	if s.d.Chats.LiveConfig != nil {
		for k, v := range s.d.Chats.LiveConfig(r.Context()) {
			out[k] = v
		}
	}
	httpserver.WriteJSON(w, http.StatusOK, out)
}

func filteredWords(w []string) []string {
	if w == nil {
		return []string{}
	}
	return w
}

// handleSetWebPort is config/webserverport: the HTTP listener is --addr
// (setBoundPort).
func (s *Surface) handleSetWebPort(w http.ResponseWriter, r *http.Request) {
	s.setBoundPort(w, r, s.d.WebServerPort, "web server port", "--addr", "")
}
