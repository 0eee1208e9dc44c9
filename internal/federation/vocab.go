package federation

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"strings"
	"time"
	"unicode"

	"github.com/hearth-community/hearth/internal/fault"
)

// The JSON-LD contexts Owncast's documents carry.
const (
	ContextAS       = "https://www.w3.org/ns/activitystreams"
	ContextSecurity = "https://w3id.org/security/v1"
	Public          = "https://www.w3.org/ns/activitystreams#Public"
	// ContentType is what activities are served and posted as.
	ContentType = "application/activity+json"
)

var documentContext = []any{ContextAS, ContextSecurity, map[string]any{
	"toot":                      "http://joinmastodon.org/ns#",
	"discoverable":              "toot:discoverable",
	"Hashtag":                   "as:Hashtag",
	"PropertyValue":             "schema:PropertyValue",
	"schema":                    "http://schema.org#",
	"value":                     "schema:value",
	"manuallyApprovesFollowers": "as:manuallyApprovesFollowers",
	"sensitive":                 "as:sensitive",
}}

// LocalActor is one of this server's actors: the server's Service actor,
// or a stage channel's.
type LocalActor struct {
	Username string
	Name     string
	Summary  string
	// Page is the actor's web page (the server URL, or the stage's page).
	Page string
	// HLS is the actor's master playlist (WebFinger's alternate link; ""
	// for none).
	HLS string
	// Avatar is the profile image URL.
	Avatar string
	// StageChannel is the stage channel's id ("" for the server actor).
	StageChannel string
}

// IRIs of a local actor.
func (s *Service) actorIRI(st Settings, username string) string {
	return st.ServerURL + "/federation/user/" + url.PathEscape(username)
}

func (s *Service) keyID(st Settings, username string) string {
	return s.actorIRI(st, username) + "#main-key"
}

// ObjectIRI is where a stored outbox item is served.
func (s *Service) objectIRI(st Settings, id string) string { return st.ServerURL + "/federation/" + id }

// Local returns the local actor with this username (case-insensitive), or
// fault.NotFound.
func (s *Service) Local(ctx context.Context, username string) (*LocalActor, error) {
	st := s.Settings()
	if st.ServerURL == "" {
		return nil, fault.New(fault.NotFound, "no server URL is set")
	}
	if strings.EqualFold(username, st.Username) {
		return &LocalActor{Username: st.Username, Name: st.Name, Summary: st.Summary, Page: st.ServerURL,
			HLS: st.ServerURL + "/hls/stream.m3u8", Avatar: avatar(st)}, nil
	}
	if id, ok := strings.CutPrefix(strings.ToLower(username), StagePrefix); ok && s.cfg.StageChannel != nil {
		if info, ok := s.cfg.StageChannel(ctx, id); ok && info.Public {
			on, err := s.st.StageActorEnabled(ctx, id)
			if err != nil {
				return nil, err
			}
			if on {
				name := info.Name
				page := st.ServerURL
				if strings.HasPrefix(info.Page, "/") {
					page += info.Page
				}
				hls := ""
				if strings.HasPrefix(info.HLS, "/") {
					hls = st.ServerURL + info.HLS
				}
				return &LocalActor{Username: StagePrefix + id, Name: name, Summary: name + " on " + st.Name,
					Page: page, HLS: hls, Avatar: avatar(st), StageChannel: id}, nil
			}
		}
	}
	return nil, fault.New(fault.NotFound, "no such account")
}

// StagePrefix starts a stage channel actor's username; the channel id
// follows.
const StagePrefix = "stage-"

// StageActor is a stage channel's actor as the admin sees it.
type StageActor struct {
	ChannelID string
	Username  string
	Enabled   bool
	// Public: the channel is public (StageChannelInfo.Public); a private
	// one is no actor, enabled or not.
	Public    bool
	Followers int
}

// Stage returns a stage channel's actor settings (fault.NotFound when it
// is not a stage channel).
func (s *Service) Stage(ctx context.Context, channelID string) (*StageActor, error) {
	channelID = strings.ToLower(channelID)
	if s.cfg.StageChannel == nil {
		return nil, fault.New(fault.NotFound, "stage channels are not served")
	}
	info, ok := s.cfg.StageChannel(ctx, channelID)
	if !ok {
		return nil, fault.New(fault.NotFound, "no such stage channel")
	}
	on, err := s.st.StageActorEnabled(ctx, channelID)
	if err != nil {
		return nil, err
	}
	_, n, err := s.st.Followers(ctx, StagePrefix+channelID, Approved, 0, 0)
	if err != nil {
		return nil, err
	}
	return &StageActor{ChannelID: channelID, Username: StagePrefix + channelID, Enabled: on, Public: info.Public, Followers: n}, nil
}

// SetStageEnabled switches a stage channel's actor on or off. Off, its
// documents and inbox answer 404 and it posts nothing; its followers are
// kept for when it is switched back on.
func (s *Service) SetStageEnabled(ctx context.Context, channelID string, on bool) error {
	if _, err := s.Stage(ctx, channelID); err != nil {
		return err
	}
	return s.st.SetStageActorEnabled(ctx, strings.ToLower(channelID), on, s.now().UTC())
}

// WebFinger answers /.well-known/webfinger for resource (acct:user@host).
// A resource that is not an acct: URI is fault.Invalid; another host or an
// unknown user is fault.NotFound.
func (s *Service) WebFinger(ctx context.Context, resource string) (map[string]any, error) {
	acct, ok := strings.CutPrefix(resource, "acct:")
	if !ok {
		return nil, fault.New(fault.Invalid, "resource must be an acct: URI")
	}
	user, host, ok := strings.Cut(acct, "@")
	if !ok || user == "" || host == "" {
		return nil, fault.New(fault.Invalid, "resource must be acct:user@host")
	}
	st := s.Settings()
	u, err := url.Parse(st.ServerURL)
	if err != nil || st.ServerURL == "" || !strings.EqualFold(u.Host, host) {
		return nil, fault.New(fault.NotFound, "not this server")
	}
	a, err := s.Local(ctx, user)
	if err != nil {
		return nil, err
	}
	links := []map[string]any{
		{"rel": "self", "type": ContentType, "href": s.actorIRI(st, a.Username)},
		{"rel": "http://webfinger.net/rel/profile-page", "type": "text/html", "href": a.Page},
		{"rel": "http://webfinger.net/rel/avatar", "type": "image/png", "href": a.Avatar},
	}
	if a.HLS != "" {
		links = append(links, map[string]any{"rel": "alternate", "type": "application/x-mpegURL", "href": a.HLS})
	}
	return map[string]any{
		"subject": "acct:" + a.Username + "@" + u.Host,
		"aliases": []string{s.actorIRI(st, a.Username)},
		"links":   links,
	}, nil
}

// Actor returns the Service actor document for a local username.
func (s *Service) Actor(ctx context.Context, username string) (map[string]any, error) {
	a, err := s.Local(ctx, username)
	if err != nil {
		return nil, err
	}
	st := s.Settings()
	pub, err := s.PublicKeyPEM(ctx)
	if err != nil {
		return nil, err
	}
	since, err := s.since(ctx)
	if err != nil {
		return nil, err
	}
	iri := s.actorIRI(st, a.Username)
	attachments := []map[string]any{propertyValue("Stream", a.Page)}
	for _, l := range st.Social {
		attachments = append(attachments, propertyValue(l.Name, l.URL))
	}
	tags := []map[string]any{}
	for _, t := range st.Tags {
		if h, ok := hashtag(t); ok {
			tags = append(tags, h)
		}
	}
	return map[string]any{
		"@context":                  documentContext,
		"id":                        iri,
		"type":                      "Service",
		"name":                      a.Name,
		"preferredUsername":         a.Username,
		"summary":                   a.Summary,
		"url":                       iri,
		"inbox":                     iri + "/inbox",
		"outbox":                    iri + "/outbox",
		"followers":                 iri + "/followers",
		"manuallyApprovesFollowers": st.Private,
		"discoverable":              true,
		"published":                 since.UTC().Format(time.RFC3339),
		"icon":                      map[string]any{"type": "Image", "url": a.Avatar},
		"image":                     map[string]any{"type": "Image", "url": a.Avatar},
		"attachment":                attachments,
		"tag":                       tags,
		"publicKey": map[string]any{
			"id":           s.keyID(st, a.Username),
			"owner":        iri,
			"publicKeyPem": pub,
		},
	}, nil
}

func propertyValue(name, link string) map[string]any {
	return map[string]any{"type": "PropertyValue", "name": name,
		"value": fmt.Sprintf(`<a href="%s" rel="me nofollow noopener noreferrer" target="_blank">%s</a>`, escapeAttr(link), escapeText(link))}
}

// hashtag is tag t as an ActivityPub Hashtag, false when nothing of it
// can be one. A tag's name keeps only letters, digits, marks and '_' (in
// any script), as Mastodon reads hashtag names (it drops "#live-music"
// whole); Owncast keeps only ASCII letters and digits.
func hashtag(t string) (map[string]any, bool) {
	t = strings.Map(func(r rune) rune {
		if unicode.IsLetter(r) || unicode.IsDigit(r) || unicode.IsMark(r) || r == '_' {
			return r
		}
		return -1
	}, t)
	if t == "" {
		return nil, false
	}
	return map[string]any{"type": "Hashtag", "name": "#" + t,
		"href": "https://directory.owncast.online/tags/" + url.PathEscape(t)}, true
}

var attrEscaper = strings.NewReplacer(`&`, "&amp;", `"`, "&quot;", `<`, "&lt;", `>`, "&gt;", `'`, "&#39;")

func escapeAttr(s string) string { return attrEscaper.Replace(s) }
func escapeText(s string) string { return attrEscaper.Replace(s) }

// Collection returns an OrderedCollection document (first page inline).
func collection(id string, total int, items []any) map[string]any {
	if items == nil {
		items = []any{}
	}
	return map[string]any{
		"@context":     ContextAS,
		"id":           id,
		"type":         "OrderedCollection",
		"totalItems":   total,
		"orderedItems": items,
	}
}

// FollowersCollection is /federation/user/{username}/followers.
func (s *Service) FollowersCollection(ctx context.Context, username string) (map[string]any, error) {
	a, err := s.Local(ctx, username)
	if err != nil {
		return nil, err
	}
	st := s.Settings()
	fs, total, err := s.st.Followers(ctx, a.Username, Approved, 0, 100)
	if err != nil {
		return nil, err
	}
	items := make([]any, 0, len(fs))
	for _, f := range fs {
		items = append(items, f.IRI)
	}
	return collection(s.actorIRI(st, a.Username)+"/followers", total, items), nil
}

// OutboxCollection is /federation/user/{username}/outbox: the newest 50
// activities.
func (s *Service) OutboxCollection(ctx context.Context, username string) (map[string]any, error) {
	a, err := s.Local(ctx, username)
	if err != nil {
		return nil, err
	}
	st := s.Settings()
	its, total, err := s.st.Outbox(ctx, a.Username, 0, 50)
	if err != nil {
		return nil, err
	}
	items := make([]any, 0, len(its))
	for _, it := range its {
		items = append(items, json.RawMessage(it.Value))
	}
	return collection(s.actorIRI(st, a.Username)+"/outbox", total, items), nil
}

// Object returns a stored outbox activity by id. A stage channel's post is
// served while its actor is (not once the channel went private, was
// switched off or deleted).
func (s *Service) Object(ctx context.Context, id string) ([]byte, error) {
	it, err := s.st.OutboxItem(ctx, id)
	if err != nil {
		return nil, err
	}
	if strings.HasPrefix(strings.ToLower(it.Actor), StagePrefix) {
		if _, err := s.Local(ctx, it.Actor); err != nil {
			return nil, fault.New(fault.NotFound, "not found")
		}
	}
	return it.Value, nil
}

// NodeInfoLinks is /.well-known/nodeinfo.
func (s *Service) NodeInfoLinks() (map[string]any, error) {
	st := s.Settings()
	if st.ServerURL == "" {
		return nil, fault.New(fault.NotFound, "no server URL is set")
	}
	return map[string]any{"links": []map[string]any{{
		"rel":  "http://nodeinfo.diaspora.software/ns/schema/2.0",
		"href": st.ServerURL + "/nodeinfo/2.0",
	}}}, nil
}

func (s *Service) localPosts(ctx context.Context) int {
	st := s.Settings()
	_, n, err := s.st.Outbox(ctx, st.Username, 0, 0)
	if err != nil {
		return 0
	}
	return n
}

// NodeInfo is /nodeinfo/2.0 (it validates against the NodeInfo 2.0 schema).
func (s *Service) NodeInfo(ctx context.Context, chatEnabled bool) map[string]any {
	return map[string]any{
		"version":           "2.0",
		"software":          map[string]any{"name": "owncast", "version": s.cfg.Version},
		"protocols":         []string{"activitypub"},
		"services":          map[string]any{"inbound": []string{}, "outbound": []string{}},
		"openRegistrations": false,
		"usage": map[string]any{
			"users":      map[string]any{"total": 1, "activeMonth": 1, "activeHalfyear": 1},
			"localPosts": s.localPosts(ctx),
		},
		"metadata": map[string]any{"chat_enabled": chatEnabled},
	}
}

// XNodeInfo2 is /.well-known/x-nodeinfo2.
func (s *Service) XNodeInfo2(ctx context.Context) (map[string]any, error) {
	st := s.Settings()
	if st.ServerURL == "" {
		return nil, fault.New(fault.NotFound, "no server URL is set")
	}
	posts := s.localPosts(ctx)
	return map[string]any{
		"organization":      map[string]any{"name": st.Name, "contact": st.ServerURL},
		"server":            map[string]any{"baseUrl": st.ServerURL, "version": s.cfg.Version, "name": "owncast", "software": "owncast"},
		"services":          map[string]any{"inbound": []string{"activitypub"}, "outbound": []string{"activitypub"}},
		"protocols":         []string{"activitypub"},
		"version":           s.cfg.Version,
		"openRegistrations": false,
		"usage": map[string]any{
			"users":         map[string]any{"activeWeek": 1, "total": 1, "activeMonth": 1, "activeHalfyear": 1},
			"localPosts":    posts,
			"localComments": 0,
		},
	}, nil
}

// Instance is /api/v1/instance (a Mastodon-style instance card).
func (s *Service) Instance(ctx context.Context) (map[string]any, error) {
	st := s.Settings()
	if st.ServerURL == "" {
		return nil, fault.New(fault.NotFound, "no server URL is set")
	}
	return map[string]any{
		"uri":               st.ServerURL,
		"title":             st.Name,
		"short_description": st.Summary,
		"description":       st.Summary,
		"version":           s.cfg.Version,
		"stats":             map[string]any{"user_count": 1, "status_count": s.localPosts(ctx), "domain_count": 0},
		"thumbnail":         avatar(st),
		"languages":         []string{},
		"registrations":     false,
		"approval_required": false,
		"invites_enabled":   false,
	}, nil
}

// HostMeta is /.well-known/host-meta (XRD pointing at WebFinger).
func (s *Service) HostMeta() (string, error) {
	st := s.Settings()
	if st.ServerURL == "" {
		return "", fault.New(fault.NotFound, "no server URL is set")
	}
	return `<?xml version="1.0" encoding="UTF-8"?>
<XRD xmlns="http://docs.oasis-open.org/ns/xri/xrd-1.0">
  <Link rel="lrdd" type="application/json" template="` + escapeAttr(st.ServerURL) + `/.well-known/webfinger?resource={uri}"/>
</XRD>
`, nil
}

// ValidUsername reports whether name can be an actor's username (what
// WebFinger and Mastodon accept: letters, digits, _ . -; 1 to 30).
func ValidUsername(name string) bool {
	if name == "" || len(name) > 30 {
		return false
	}
	for _, c := range name {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '.' || c == '-') {
			return false
		}
	}
	return true
}
