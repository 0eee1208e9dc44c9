package owncast

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"log/slog"
	"mime"
	"net/http"
	"os"
	"path"
	"path/filepath"
	"strings"
	"time"

	"github.com/hearth-community/hearth/internal/fault"
	"github.com/hearth-community/hearth/internal/federation"
	"github.com/hearth-community/hearth/internal/httpserver"
	"github.com/hearth-community/hearth/internal/stagechat"
)

// socialPlatforms is Owncast's list of known social platforms.
var socialPlatforms = map[string][2]string{
	"fediverse": {"Fediverse", "fediverse"}, "matrix": {"Matrix", "matrix"}, "xmpp": {"XMPP", "xmpp"},
	"bandcamp": {"Bandcamp", "bandcamp"}, "discord": {"Discord", "discord"}, "facebook": {"Facebook", "facebook"},
	"github": {"GitHub", "github"}, "gitlab": {"GitLab", "gitlab"}, "instagram": {"Instagram", "instagram"},
	"keyoxide": {"Keyoxide", "keyoxide"}, "kofi": {"Ko-Fi", "ko-fi"}, "linkedin": {"LinkedIn", "linkedin"},
	"mastodon": {"Mastodon", "mastodon"}, "patreon": {"Patreon", "patreon"}, "paypal": {"Paypal", "paypal"},
	"snapchat": {"Snapchat", "snapchat"}, "soundcloud": {"Soundcloud", "soundcloud"}, "spotify": {"Spotify", "spotify"},
	"tiktok": {"TikTok", "tiktok"}, "twitch": {"Twitch", "twitch"}, "twitter": {"Twitter", "twitter"},
	"youtube": {"YouTube", "youtube"}, "donate": {"Donations", "donate"}, "follow": {"Follow", "follow"},
	"rss": {"RSS", "rss"}, "email": {"Email", "email"}, "website": {"Website", "website"},
}

func platformIcon(key string) (string, bool) {
	p, ok := socialPlatforms[key]
	if !ok {
		return "", false
	}
	return "/img/platformlogos/" + p[1] + ".svg", true
}

func noCache(w http.ResponseWriter) {
	w.Header().Set("Cache-Control", "no-cache, no-store, must-revalidate")
}

func (s *Surface) registerPublic(h *httpserver.Server) {
	h.Handle("GET /api/config", s.wrap(s.handleWebConfig))
	h.Handle("GET /api/emoji", s.wrap(s.handleEmojiList))
	h.Handle("GET /img/emoji/{name}", s.wrap(s.handleEmojiFile))
	h.Handle("GET /api/socialplatforms", s.wrap(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Access-Control-Allow-Origin", "*")
		out := map[string]any{}
		for k, p := range socialPlatforms {
			icon, _ := platformIcon(k)
			out[k] = map[string]string{"platform": p[0], "icon": icon}
		}
		httpserver.WriteJSON(w, http.StatusOK, out)
	}))
	h.Handle("GET /api/yp", s.wrap(s.handleYP))
	h.Handle("GET /robots.txt", s.wrap(func(w http.ResponseWriter, r *http.Request) {
		lines := []string{"User-agent: *", "Disallow: /admin", "Disallow: /api"}
		if s.d.Chat.Settings().DisableSearchIndexing {
			lines = append(lines, "Disallow: /")
		}
		w.Header().Set("Content-Type", "text/plain")
		_, _ = w.Write([]byte(strings.Join(lines, "\n")))
	}))
	h.Handle("GET /customjavascript", s.wrap(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/javascript; charset=utf-8")
		w.Header().Set("X-Content-Type-Options", "nosniff")
		_, _ = w.Write([]byte(s.d.Chat.Settings().CustomJavascript))
	}))
	h.Handle("GET /logo", s.wrap(s.handleLogo))
	s.registerFavicon(h)
	h.Handle("GET /logo/external", s.wrap(s.handleLogo))
	h.Handle("GET /public/{path...}", s.wrap(s.handlePublic))

	s.admin(h, "POST /api/admin/emoji/upload", s.handleEmojiUpload)
	s.admin(h, "POST /api/admin/emoji/delete", s.handleEmojiDelete)
	s.admin(h, "GET /api/admin/logs", s.logsHandler(slog.LevelInfo))
	s.admin(h, "GET /api/admin/logs/warnings", s.logsHandler(slog.LevelWarn))
}

// handleWebConfig is GET /api/config.
func (s *Surface) handleWebConfig(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Access-Control-Allow-Origin", "*")
	noCache(w)
	st := s.d.Chat.Settings()
	handles := make([]map[string]string, 0, len(st.SocialHandles))
	for _, h := range st.SocialHandles {
		m := map[string]string{"platform": h.Platform, "url": h.URL}
		if icon, ok := platformIcon(h.Platform); ok {
			m["icon"] = icon
		}
		handles = append(handles, m)
	}
	fed := map[string]any{"enabled": st.Federation.Enabled, "hideFollowersTab": st.Federation.HideFollowersTab}
	if st.Federation.Enabled {
		if u, err := urlHost(st.ServerURL); err == nil && u != "" {
			fed["account"] = st.Federation.Username + "@" + u
		}
		// Owncast's web app shows the count on its follow button.
		if s.d.Federation != nil {
			if _, total, err := s.d.Federation.Followers(r.Context(), "", federation.Approved, 0, 1); err == nil {
				fed["followerCount"] = total
			} else {
				s.log.Warn("follower count for /api/config", "err", err)
			}
		}
	}
	out := map[string]any{
		"name": st.Name, "summary": st.Summary, "offlineMessage": s.chat.render.Simple(st.OfflineMessage), "logo": "/logo",
		"version": s.d.Chats.Version, "extraPageContent": s.chat.render.Page(st.ExtraPageContent), "tags": st.Tags,
		"socialHandles": handles, "externalActions": st.ExternalActions, "customStyles": st.CustomStyles,
		"appearanceVariables": st.AppearanceVariables, "maxSocketPayloadSize": MaxSocketPayload,
		"hideViewerCount": st.HideViewerCount, "chatDisabled": st.ChatDisabled, "nsfw": st.NSFW,
		"autoplay":                  st.AutoplayMode(),
		"chatRequireAuthentication": st.ChatRequireAuthentication,
		"notifications":             map[string]any{"browser": s.browserNotificationConfig(r.Context(), st)},
		"federation":                fed,
		"authentication":            map[string]any{"indieAuthEnabled": st.ServerURL != ""},
		"schedule":                  s.scheduleConfig(r.Context(), false),
	}
	if st.StreamTitle != "" {
		out["streamTitle"] = st.StreamTitle
	}
	if st.SocketHostOverride != "" {
		out["socketHostOverride"] = st.SocketHostOverride
	}
	httpserver.WriteJSON(w, http.StatusOK, out)
}

func urlHost(raw string) (string, error) {
	if raw == "" {
		return "", nil
	}
	u, err := parseURL(raw)
	if err != nil {
		return "", err
	}
	return u, nil
}

// handleYP is GET /api/yp: the directory listing, 404 when disabled.
func (s *Surface) handleYP(w http.ResponseWriter, r *http.Request) {
	st := s.d.Chat.Settings()
	if !st.Directory.Enabled {
		http.NotFound(w, r)
		return
	}
	status := s.statusForWebhook()
	out := map[string]any{"name": st.Name, "description": st.Summary, "logo": "/logo", "nsfw": st.NSFW, "tags": st.Tags,
		"social": st.SocialHandles, "streamTitle": st.StreamTitle}
	for _, k := range []string{"online", "viewerCount", "overallMaxViewerCount", "sessionMaxViewerCount", "lastConnectTime"} {
		out[k] = status[k]
	}
	httpserver.WriteJSON(w, http.StatusOK, out)
}

func (s *Surface) handleEmojiList(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Access-Control-Allow-Origin", "*")
	out := []map[string]string{}
	if s.d.Emoji != nil {
		list, err := s.d.Emoji.List(r.Context())
		if err != nil {
			writeError(w, err)
			return
		}
		for _, e := range list {
			out = append(out, map[string]string{"name": e.Name, "url": e.URL})
		}
	}
	httpserver.WriteJSON(w, http.StatusOK, out)
}

func (s *Surface) handleEmojiFile(w http.ResponseWriter, r *http.Request) {
	if s.d.Emoji == nil {
		http.NotFound(w, r)
		return
	}
	name := r.PathValue("name")
	f, mod, err := s.d.Emoji.Open(r.Context(), name)
	if err != nil {
		if !errors.Is(err, fault.NotFound) {
			s.log.Warn("open emoji", "name", name, "err", err)
		}
		http.NotFound(w, r)
		return
	}
	defer f.Close()
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.Header().Set("Content-Type", imageType(name))
	w.Header().Set("Cache-Control", "public, max-age=3600")
	http.ServeContent(w, r, "", mod, f)
}

func imageType(name string) string {
	switch strings.ToLower(path.Ext(name)) {
	case ".png":
		return "image/png"
	case ".gif":
		return "image/gif"
	case ".jpg", ".jpeg":
		return "image/jpeg"
	case ".webp":
		return "image/webp"
	}
	return "application/octet-stream"
}

type emojiRequest struct {
	Name string `json:"name"`
	Data string `json:"data"`
}

// cutDataURI cuts "data:<media type>;base64,<text>" into its media type
// and base64 text; ok is false when v is not such a URL.
func cutDataURI(v string) (mediaType, b64 string, ok bool) {
	rest, isURL := strings.CutPrefix(v, "data:")
	mediaType, b64, found := strings.Cut(rest, ";base64,")
	return mediaType, b64, isURL && found
}

// decodeDataURI accepts "data:<type>;base64,<data>" or bare base64.
func decodeDataURI(v string) ([]byte, error) {
	if strings.HasPrefix(v, "data:") {
		_, b64, ok := cutDataURI(v)
		if !ok {
			return nil, fault.New(fault.Invalid, "data must be base64")
		}
		v = b64
	}
	b, err := base64.StdEncoding.DecodeString(strings.TrimSpace(v))
	if err != nil {
		return nil, fault.New(fault.Invalid, "data must be base64")
	}
	return b, nil
}

// dataURIBody is the body cap of a JSON request carrying an image of at
// most n bytes as a base64 data URL, with room for the rest of it.
func dataURIBody(n int64) int64 { return (n+2)/3*4 + 16<<10 }

func (s *Surface) handleEmojiUpload(w http.ResponseWriter, r *http.Request) {
	var req emojiRequest
	if !readJSONUpTo(w, r, &req, dataURIBody(stagechat.MaxEmojiBytes), fmt.Sprintf("emoji image must be at most %d KiB", stagechat.MaxEmojiBytes>>10)) {
		return
	}
	data, err := decodeDataURI(req.Data)
	if err != nil {
		writeError(w, err)
		return
	}
	e, err := s.d.Emoji.Upload(r.Context(), req.Name, data)
	if err != nil {
		writeError(w, err)
		return
	}
	writeResult(w, http.StatusOK, true, "Emoji has been uploaded successfully to "+e.URL)
}

func (s *Surface) handleEmojiDelete(w http.ResponseWriter, r *http.Request) {
	var req emojiRequest
	if !readJSON(w, r, &req) {
		return
	}
	if err := s.d.Emoji.Delete(r.Context(), req.Name); err != nil {
		if errors.Is(err, fault.NotFound) {
			// Owncast's words and status for a name it has no file of.
			writeResult(w, http.StatusBadRequest, false, fmt.Sprintf("Emoji %q doesn't exist", req.Name))
			return
		}
		writeError(w, err)
		return
	}
	writeResult(w, http.StatusOK, true, "Emoji "+req.Name+" has been deleted successfully")
}

// handlePublic serves <data-dir>/public/*, confined with os.Root.
func (s *Surface) handlePublic(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("path")
	if name == "" || !filepath.IsLocal(name) || strings.ContainsRune(name, 0) {
		http.NotFound(w, r)
		return
	}
	root, err := os.OpenRoot(filepath.Join(s.d.Chats.DataDir, "public"))
	if err != nil {
		http.NotFound(w, r)
		return
	}
	defer func() { _ = root.Close() }()
	f, err := root.Open(name)
	if err != nil {
		http.NotFound(w, r)
		return
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil || !st.Mode().IsRegular() {
		http.NotFound(w, r)
		return
	}
	ct := mime.TypeByExtension(path.Ext(name))
	if ct == "" || strings.Contains(ct, "svg") {
		ct = "application/octet-stream"
	}
	w.Header().Set("Content-Type", ct)
	w.Header().Set("X-Content-Type-Options", "nosniff")
	http.ServeContent(w, r, "", st.ModTime(), f)
}

const logoDir = "logo"

func logoName(st stagechat.Settings) string {
	if st.Logo == "" {
		return "/logo"
	}
	return st.Logo
}

// setLogo is POST /api/admin/config/logo with a data-URI image.
func (s *Surface) setLogo(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Value string `json:"value"`
	}
	if !readJSONUpTo(w, r, &req, dataURIBody(stagechat.MaxLogoBytes), "logo must be at most 2 MiB") {
		return
	}
	data, err := decodeDataURI(req.Value)
	var ext string
	if err == nil {
		ext, err = stagechat.CheckLogo(data)
	}
	if err != nil {
		writeError(w, err)
		return
	}
	name := "logo" + ext
	sum, err := s.storeBrand(r.Context(), name, data)
	if err != nil {
		writeError(w, err)
		return
	}
	var old string
	before := s.profileKey()
	if err := s.d.Chat.UpdateSettings(r.Context(), func(st *stagechat.Settings) error {
		old, st.Logo, st.LogoSum = st.LogoSum, name, sum
		return nil
	}); err != nil {
		writeError(w, err)
		return
	}
	s.dropBrand(r.Context(), old, s.d.Chat.Settings())
	// The actors' avatar URL names the logo: followers' servers are told
	// (an Update), as Owncast tells them of a new logo.
	s.profileChanged(r.Context(), before)
	writeResult(w, http.StatusOK, true, "changed")
}

// writeLogoFile stores the logo or the favicon under the logo directory,
// never in place: a crash mid-write would leave a cut image served as the
// logo. Temporary files an earlier crash left (older than an hour, so no
// write under way) are removed first.
func (s *Surface) writeLogoFile(name string, data []byte) error {
	dir := filepath.Join(s.d.Chats.DataDir, logoDir)
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return err
	}
	root, err := os.OpenRoot(dir)
	if err != nil {
		return err
	}
	defer func() { _ = root.Close() }()
	stagechat.RemoveTemps(root, time.Now().Add(-time.Hour))
	return stagechat.WriteFileAtomic(root, name, data)
}

// handleLogo is GET /logo: the uploaded logo or a generated default.
func (s *Surface) handleLogo(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("X-Content-Type-Options", "nosniff")
	if st := s.d.Chat.Settings(); st.Logo != "" {
		if content, mod, done, ok := s.brandContent(r.Context(), st.Logo, st.LogoSum); ok {
			defer done()
			w.Header().Set("Content-Type", imageType(st.Logo))
			http.ServeContent(w, r, "", mod, content)
			return
		}
	}
	w.Header().Set("Content-Type", "image/png")
	http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(defaultLogo))
}

// defaultLogo is a plain 64×64 ember-coloured square.
var defaultLogo = func() []byte {
	img := image.NewRGBA(image.Rect(0, 0, 64, 64))
	for y := range 64 {
		for x := range 64 {
			img.Set(x, y, color.RGBA{R: 0xe2, G: 0x5b, B: 0x22, A: 0xff})
		}
	}
	var b bytes.Buffer
	_ = png.Encode(&b, img)
	return b.Bytes()
}()
