package stagechat

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sync"

	"github.com/hearth-community/hearth/internal/fault"
)

// SettingsKey is the instance_kv key of the settings document.
const SettingsKey = "stage.settings"

// SocialHandle is a link shown on the page.
type SocialHandle struct {
	Platform string `json:"platform,omitempty"`
	URL      string `json:"url,omitempty"`
}

// ExternalAction is a button on the public page.
type ExternalAction struct {
	URL            string `json:"url,omitempty"`
	HTML           string `json:"html,omitempty"`
	Title          string `json:"title"`
	Description    string `json:"description,omitempty"`
	Icon           string `json:"icon,omitempty"`
	Color          string `json:"color,omitempty"`
	OpenExternally bool   `json:"openExternally,omitempty"`
}

// Federation is the stage's ActivityPub settings (Owncast's federation config).
type Federation struct {
	Enabled        bool     `json:"enabled"`
	IsPrivate      bool     `json:"isPrivate"`
	ShowEngagement bool     `json:"showEngagement"`
	Username       string   `json:"username"`
	GoLiveMessage  string   `json:"goLiveMessage"`
	BlockedDomains []string `json:"blockedDomains"`
	// HideFollowersTab (Owncast 0.2's federation/hidefollowers) asks web
	// clients to hide the public followers tab; the followers stay public
	// through /api/followers, as in Owncast.
	HideFollowersTab bool `json:"hideFollowersTab"`
	// EnableQuotes (Owncast 0.2's federation/enablequotes) would let other
	// servers quote our posts. Only false is accepted until the federation
	// domain answers quote requests (see docs/compatibility.md).
	EnableQuotes bool `json:"enableQuotes"`
}

// Notifications settings (stored).
type Notifications struct {
	Discord struct {
		Enabled       bool   `json:"enabled"`
		Webhook       string `json:"webhook"`
		GoLiveMessage string `json:"goLiveMessage"`
	} `json:"discord"`
	Browser struct {
		Enabled       bool   `json:"enabled"`
		GoLiveMessage string `json:"goLiveMessage"`
	} `json:"browser"`
}

// Directory is the YP directory setting.
type Directory struct {
	Enabled     bool   `json:"enabled"`
	InstanceURL string `json:"instanceUrl"`
}

// Settings are the instance's page and chat settings.
type Settings struct {
	Name                    string            `json:"name"`
	Summary                 string            `json:"summary"`
	WelcomeMessage          string            `json:"welcomeMessage"`
	OfflineMessage          string            `json:"offlineMessage"`
	ExtraPageContent        string            `json:"extraPageContent"`
	StreamTitle             string            `json:"streamTitle"`
	Logo                    string            `json:"logo"`                 // file name under the data dir, "" for the default
	Favicon                 string            `json:"favicon,omitempty"`    // file name beside the logo, "" for none
	LogoSum                 string            `json:"logoSum,omitempty"`    // BrandSum of the logo ("": kept on disk only)
	FaviconSum              string            `json:"faviconSum,omitempty"` // BrandSum of the favicon ("": kept on disk only)
	Tags                    []string          `json:"tags"`
	SocialHandles           []SocialHandle    `json:"socialHandles"`
	NSFW                    bool              `json:"nsfw"`
	CustomStyles            string            `json:"customStyles"`
	CustomJavascript        string            `json:"customJavascript"`
	AppearanceVariables     map[string]string `json:"appearanceVariables"`
	ExternalActions         []ExternalAction  `json:"externalActions"`
	HideViewerCount         bool              `json:"hideViewerCount"`
	Autoplay                string            `json:"autoplay,omitempty"` // see AutoplayMode; "" = AutoplaySoundOnly
	DisableSearchIndexing   bool              `json:"disableSearchIndexing"`
	ServerURL               string            `json:"serverUrl"`
	SocketHostOverride      string            `json:"socketHostOverride"`
	ChatDisabled            bool              `json:"chatDisabled"`
	ChatJoinMessagesEnabled bool              `json:"chatJoinMessagesEnabled"`
	ChatEstablishedUserMode bool              `json:"chatEstablishedUserMode"`
	ChatSpamProtection      bool              `json:"chatSpamProtectionEnabled"`
	// ChatRequireAuthentication: only signed-in users (and moderators,
	// bots) may send chat messages; guests read.
	ChatRequireAuthentication bool `json:"chatRequireAuthentication"`
	// ChatWordFilter censors the words of FilteredWords in chat messages
	// (Owncast's chat/slurfilterenabled; Hearth ships no list, the admin
	// sets it with SetFilteredWords).
	ChatWordFilter     bool          `json:"chatSlurFilterEnabled"`
	FilteredWords      []string      `json:"filteredWords,omitempty"`
	ForbiddenUsernames []string      `json:"forbiddenUsernames"`
	SuggestedUsernames []string      `json:"suggestedUsernames"`
	Directory          Directory     `json:"yp"`
	Federation         Federation    `json:"federation"`
	Notifications      Notifications `json:"notifications"`
}

// DefaultSettings are Owncast's defaults for everything but the instance
// texts, which the caller sets from configuration.
func DefaultSettings() Settings {
	d := Settings{
		Tags:                    []string{},
		SocialHandles:           []SocialHandle{},
		AppearanceVariables:     map[string]string{},
		ExternalActions:         []ExternalAction{},
		ChatJoinMessagesEnabled: true,
		ChatSpamProtection:      true,
		ForbiddenUsernames:      []string{"owncast", "operator", "admin", "system"},
		SuggestedUsernames:      []string{},
		Federation: Federation{ShowEngagement: true, Username: "streamer", GoLiveMessage: "I've gone live!",
			BlockedDomains: []string{}},
	}
	// Owncast turns browser push on at first start, with the federation
	// go-live message.
	d.Notifications.Browser.Enabled = true
	d.Notifications.Browser.GoLiveMessage = "I've gone live!"
	return d
}

type settingsCache struct {
	st  Store
	mu  sync.Mutex
	cur Settings
}

func newSettingsCache(ctx context.Context, st Store, defaults Settings) (*settingsCache, error) {
	c := &settingsCache{st: st, cur: defaults}
	raw, err := st.InstanceValue(ctx, SettingsKey)
	if errors.Is(err, fault.NotFound) {
		return c, nil
	}
	if err != nil {
		return nil, fmt.Errorf("stagechat: load settings: %w", err)
	}
	if err := json.Unmarshal([]byte(raw), &c.cur); err != nil {
		return nil, fmt.Errorf("stagechat: decode settings: %w", err)
	}
	return c, nil
}

func (c *settingsCache) reload(ctx context.Context) error {
	// The read is under the lock UpdateSettings writes under: a reload
	// read before a local update and applied after it put the older
	// settings back (the admin's directoryenabled lost to the reload of
	// the setter before it).
	c.mu.Lock()
	defer c.mu.Unlock()
	raw, err := c.st.InstanceValue(ctx, SettingsKey)
	if err != nil {
		return err
	}
	var s Settings
	if err := json.Unmarshal([]byte(raw), &s); err != nil {
		return err
	}
	c.cur = s
	return nil
}

// Settings returns a copy of the current settings.
func (s *Service) Settings() Settings {
	s.settings.mu.Lock()
	defer s.settings.mu.Unlock()
	return s.settings.cur.clone()
}

// clone copies the settings deeply: the caller may change the copy's
// slices and maps without touching the cached settings. It is read on
// every chat connect and message, so it copies by hand rather than
// through a JSON round trip (which cost 18 % of the server's CPU while
// chat sockets connected; TestSettingsCloneSharesNothing checks that
// every reference field is copied).
func (s Settings) clone() Settings {
	out := s
	out.Tags = slices.Clone(s.Tags)
	out.SocialHandles = slices.Clone(s.SocialHandles)
	out.AppearanceVariables = maps.Clone(s.AppearanceVariables)
	out.ExternalActions = slices.Clone(s.ExternalActions)
	out.FilteredWords = slices.Clone(s.FilteredWords)
	out.ForbiddenUsernames = slices.Clone(s.ForbiddenUsernames)
	out.SuggestedUsernames = slices.Clone(s.SuggestedUsernames)
	out.Federation.BlockedDomains = slices.Clone(s.Federation.BlockedDomains)
	return out
}

// UpdateSettings applies f to the settings and stores them durably. f may
// return a fault.Invalid error to refuse the change.
func (s *Service) UpdateSettings(ctx context.Context, f func(*Settings) error) error {
	c := s.settings
	c.mu.Lock()
	defer c.mu.Unlock()
	next := c.cur.clone()
	if err := f(&next); err != nil {
		return err
	}
	nb, err := json.Marshal(next)
	if err != nil {
		return fmt.Errorf("stagechat: encode settings: %w", err)
	}
	// The document is stored as JSON, where a NUL is an escape the store's
	// own NUL check cannot see: a change may not add one (a NUL kept from
	// before does not block other changes).
	if cb, err := json.Marshal(c.cur); err == nil && encodedNULs(nb) > encodedNULs(cb) {
		return fault.ErrNUL
	}
	if err := c.st.SetInstanceValue(ctx, SettingsKey, string(nb)); err != nil {
		return err
	}
	c.cur = next
	s.publishSettings(ctx)
	return nil
}

// encodedNULs counts the NUL characters in JSON text as encoding/json
// writes it (each as the escape \u0000; a backslash itself is \\).
func encodedNULs(b []byte) int {
	n := 0
	for i := 0; i < len(b); i++ {
		if b[i] != '\\' || i+1 == len(b) {
			continue
		}
		if bytes.HasPrefix(b[i+1:], []byte("u0000")) {
			n++
		}
		i++ // the escaped character
	}
	return n
}

// ReloadSettings re-reads the settings (after another node changed them).
func (s *Service) ReloadSettings(ctx context.Context) error { return s.settings.reload(ctx) }

// SettingsTopic carries "settings changed" notices between nodes.
const SettingsTopic = "stagechat-settings.changed"

func (s *Service) publishSettings(ctx context.Context) {
	if s.pub == nil {
		return
	}
	if err := s.pub.Publish(context.WithoutCancel(ctx), SettingsTopic, []byte(`{}`)); err != nil {
		s.log.Warn("publish settings change", "err", err)
	}
}

// SetStreamTitle changes the stream title.
func (s *Service) SetStreamTitle(ctx context.Context, title string) error {
	return s.UpdateSettings(ctx, func(st *Settings) error {
		st.StreamTitle = title
		return nil
	})
}

// The web player's autoplay modes (Owncast 0.2's autoplay setting).
const (
	// AutoplayOff never starts the stream by itself: the viewer presses play.
	AutoplayOff = "off"
	// AutoplayAlways starts it, muted when the browser refuses sound
	// without a gesture.
	AutoplayAlways = "always"
	// AutoplaySoundOnly starts it only where the browser allows sound;
	// elsewhere the viewer presses play (Hearth's behaviour before the
	// setting, and its default).
	AutoplaySoundOnly = "sound-only"
)

// AutoplayMode is the autoplay mode in effect.
func (st Settings) AutoplayMode() string {
	if st.Autoplay == "" {
		return AutoplaySoundOnly
	}
	return st.Autoplay
}

// SetAutoplay sets the autoplay mode; anything but the three modes is
// invalid.
func (st *Settings) SetAutoplay(mode string) error {
	switch mode {
	case AutoplayOff, AutoplayAlways, AutoplaySoundOnly:
		st.Autoplay = mode
		return nil
	}
	return fault.Newf(fault.Invalid, "autoplay must be %q, %q or %q", AutoplayOff, AutoplayAlways, AutoplaySoundOnly)
}
