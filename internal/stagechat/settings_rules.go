package stagechat

import (
	"encoding/json"
	"net/url"
	"strings"

	"github.com/hearth-community/hearth/internal/fault"
	"github.com/hearth-community/hearth/internal/federation"
	"github.com/hearth-community/hearth/internal/identity"
)

// The bounds of the instance's settings (Owncast stores whatever the admin
// sends; these keep one request from storing megabytes that every page
// load then serves). Lengths are in bytes, after trimming.
const (
	MaxShortText   = 1 << 10  // name, go-live message
	MaxLongText    = 64 << 10 // summary, welcome, offline, page content, custom CSS and JavaScript
	MaxTags        = 50
	MaxTagBytes    = 100
	MaxNameList    = 1000 // forbidden and suggested usernames
	MaxNameBytes   = 100
	MaxDomainList  = 1000 // blocked federation domains
	MaxDomainBytes = 253
	MaxAppearance  = 100 // appearance variables
	MaxHandles     = 50  // social handles
	MaxActions     = 50  // external actions
)

// TextSetting names a free-text setting (SetText).
type TextSetting int

// The free-text settings.
const (
	TextName TextSetting = iota
	TextSummary
	TextWelcome
	TextOffline
	TextPageContent
	TextCustomStyles
	TextCustomJavascript
	TextGoLiveMessage
)

// SetText sets a free-text setting, trimmed: at most MaxShortText bytes
// for the name and the go-live message, MaxLongText for the others.
func (st *Settings) SetText(which TextSetting, v string) error {
	v = strings.TrimSpace(v)
	max := MaxLongText
	if which == TextName || which == TextGoLiveMessage {
		max = MaxShortText
	}
	if len(v) > max {
		return fault.Newf(fault.Invalid, "value must be at most %d bytes", max)
	}
	switch which {
	case TextName:
		st.Name = v
	case TextSummary:
		st.Summary = v
	case TextWelcome:
		st.WelcomeMessage = v
	case TextOffline:
		st.OfflineMessage = v
	case TextPageContent:
		st.ExtraPageContent = v
	case TextCustomStyles:
		st.CustomStyles = v
	case TextCustomJavascript:
		st.CustomJavascript = v
	case TextGoLiveMessage:
		st.Federation.GoLiveMessage = v
	default:
		return fault.New(fault.Invalid, "unknown setting")
	}
	return nil
}

// ListSetting names a list-of-strings setting (SetList).
type ListSetting int

// The list settings.
const (
	ListTags ListSetting = iota
	ListForbiddenUsernames
	ListSuggestedUsernames
	ListBlockedDomains
)

// SetList sets a list setting: entries trimmed, blank ones dropped, at
// most so many entries of so many bytes (tags 50 of 100, usernames 1000 of
// 100, blocked domains 1000 of 253).
func (st *Settings) SetList(which ListSetting, v []string) error {
	maxItems, maxLen := MaxNameList, MaxNameBytes
	switch which {
	case ListTags:
		maxItems, maxLen = MaxTags, MaxTagBytes
	case ListBlockedDomains:
		maxItems, maxLen = MaxDomainList, MaxDomainBytes
	}
	if len(v) > maxItems {
		return fault.Newf(fault.Invalid, "at most %d entries", maxItems)
	}
	out := make([]string, 0, len(v))
	for _, e := range v {
		e = strings.TrimSpace(e)
		if len(e) > maxLen {
			return fault.Newf(fault.Invalid, "entries must be at most %d bytes", maxLen)
		}
		if e != "" {
			out = append(out, e)
		}
	}
	switch which {
	case ListTags:
		st.Tags = out
	case ListForbiddenUsernames:
		st.ForbiddenUsernames = out
	case ListSuggestedUsernames:
		st.SuggestedUsernames = out
	case ListBlockedDomains:
		st.Federation.BlockedDomains = out
	default:
		return fault.New(fault.Invalid, "unknown setting")
	}
	return nil
}

// SetAppearance sets the appearance variables (at most MaxAppearance).
func (st *Settings) SetAppearance(v map[string]string) error {
	if len(v) > MaxAppearance {
		return fault.New(fault.Invalid, "too many appearance variables")
	}
	st.AppearanceVariables = v
	return nil
}

// SetSocialHandles sets the social handles: at most MaxHandles, each a
// platform and an http(s) link (one without either would show as an empty
// icon or a dead link).
func (st *Settings) SetSocialHandles(v []SocialHandle) error {
	if len(v) > MaxHandles {
		return fault.New(fault.Invalid, "too many social handles")
	}
	for _, h := range v {
		if strings.TrimSpace(h.Platform) == "" || h.URL == "" {
			return fault.New(fault.Invalid, "each social handle needs a platform and a url")
		}
		if !identity.ValidHTTPURL(h.URL) {
			return fault.New(fault.Invalid, "social handle urls must be http(s) URLs")
		}
	}
	st.SocialHandles = v
	return nil
}

// SetExternalActions sets the external actions: at most MaxActions, each
// with a title and an http(s) url or html (one with neither, or with no
// title, would be a blank button that does nothing).
func (st *Settings) SetExternalActions(v []ExternalAction) error {
	if len(v) > MaxActions {
		return fault.New(fault.Invalid, "too many external actions")
	}
	for _, a := range v {
		if strings.TrimSpace(a.Title) == "" || (a.URL == "" && strings.TrimSpace(a.HTML) == "") {
			return fault.New(fault.Invalid, "each external action needs a title and a url or html")
		}
		if a.URL != "" && !identity.ValidHTTPURL(a.URL) {
			return fault.New(fault.Invalid, "external action urls must be http(s) URLs")
		}
	}
	st.ExternalActions = v
	return nil
}

// SetSocketHostOverride sets where the web client opens its chat socket:
// empty, or a ws(s) or http(s) URL with a host.
func (st *Settings) SetSocketHostOverride(v string) error {
	v = strings.TrimSpace(v)
	if v != "" {
		u, err := url.Parse(v)
		if err != nil || u.Host == "" || (u.Scheme != "ws" && u.Scheme != "wss" && u.Scheme != "http" && u.Scheme != "https") {
			return fault.New(fault.Invalid, "socket host override must be a ws(s) or http(s) URL")
		}
	}
	st.SocketHostOverride = v
	return nil
}

// SetServerURL sets the instance's public URL (trailing slashes dropped),
// empty or an http(s) URL; the directory listing uses the same.
func (st *Settings) SetServerURL(v string) error {
	v = strings.TrimRight(strings.TrimSpace(v), "/")
	if v != "" && !identity.ValidHTTPURL(v) {
		return fault.New(fault.Invalid, "server url must be a valid http or https URL")
	}
	st.ServerURL = v
	st.Directory.InstanceURL = v
	return nil
}

// SetFederationUsername sets the instance actor's username (federation's
// rule: 1 to 30 letters, digits, _ . or -).
func (st *Settings) SetFederationUsername(v string) error {
	if !federation.ValidUsername(v) {
		return fault.New(fault.Invalid, "username must be 1 to 30 letters, digits, _ . or -")
	}
	st.Federation.Username = v
	return nil
}

// SetDiscordNotifications sets the Discord notification settings from
// their JSON; a webhook must be an http(s) URL.
func (st *Settings) SetDiscordNotifications(raw json.RawMessage) error {
	if err := json.Unmarshal(raw, &st.Notifications.Discord); err != nil {
		return fault.Wrap(fault.Invalid, "unable to parse new value", err)
	}
	if w := st.Notifications.Discord.Webhook; w != "" && !identity.ValidHTTPURL(w) {
		return fault.New(fault.Invalid, "discord webhook must be an http(s) URL")
	}
	return nil
}
