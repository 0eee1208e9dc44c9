package stagechat

import (
	"context"
	"encoding/json"
	"strings"

	"github.com/hearth-community/hearth/internal/federation"
	"github.com/hearth-community/hearth/internal/messages"
)

// FederationSettings is federation's view of the stage settings: the
// admin's federation values and the page's identity.
func (s *Service) FederationSettings() federation.Settings {
	st := s.Settings()
	out := federation.Settings{
		Enabled: st.Federation.Enabled, Private: st.Federation.IsPrivate, ShowEngagement: st.Federation.ShowEngagement,
		Username: st.Federation.Username, GoLiveMessage: st.Federation.GoLiveMessage,
		BlockedDomains: st.Federation.BlockedDomains, ServerURL: st.ServerURL, Name: st.Name, Summary: st.Summary,
		Tags: st.Tags, NSFW: st.NSFW, StreamTitle: st.StreamTitle, LogoVersion: logoVersion(st),
	}
	for _, h := range st.SocialHandles {
		out.Social = append(out.Social, federation.Link{Name: h.Platform, URL: h.URL})
	}
	return out
}

// KindFediverse is a fediverse engagement notice in the stage chat
// (Owncast's FEDIVERSE_ENGAGEMENT_* events).
const KindFediverse = "fediverse"

// Engagement is what a fediverse engagement notice carries besides its
// body.
type Engagement struct {
	Type  string `json:"type"`  // FEDIVERSE_ENGAGEMENT_FOLLOW, _LIKE, _REPOST
	Image string `json:"image"` // the remote account's avatar
	Link  string `json:"link"`  // the remote account
	Title string `json:"title"` // user@host
}

type engagementMeta struct {
	Stage      string      `json:"stage"`
	Engagement *Engagement `json:"engagement"`
}

// SendEngagement stores and broadcasts a fediverse engagement notice in
// the stage chat.
func (s *Service) SendEngagement(ctx context.Context, e Engagement, body string) error {
	return s.sendEngagement(ctx, s.cfg.Conversation, messages.KindStage, e, body)
}

// sendEngagement posts the notice, as a system message (no author), into
// a conversation: the stage chat or a stage channel's own.
func (s *Service) sendEngagement(ctx context.Context, conversation string, kind messages.Kind, e Engagement, body string) error {
	mt, _ := json.Marshal(engagementMeta{Stage: KindFediverse, Engagement: &e})
	_, err := s.msgs.Post(ctx, messages.PostInput{ConversationID: conversation, Kind: kind,
		Body: strings.TrimSpace(body), Meta: string(mt)})
	return err
}

// EngagementOf returns a fediverse notice's details.
func EngagementOf(m *messages.Message) (Engagement, bool) {
	var mt engagementMeta
	if m.Meta == "" || json.Unmarshal([]byte(m.Meta), &mt) != nil || mt.Engagement == nil {
		return Engagement{}, false
	}
	return *mt.Engagement, true
}

// FederationEngagement is federation's OnEngagement hook: with "show
// engagement" on, a follow, like or boost of the server actor appears in
// the stage chat, and one of a stage channel's actor in that channel's
// chat (the channel's own messages, or the stage chat it is bound to).
func (s *Service) FederationEngagement(ctx context.Context, e federation.Engagement) {
	if !e.Show {
		return
	}
	conversation, kind := s.cfg.Conversation, messages.KindStage
	if e.StageChannel != "" {
		if s.cfg.ChannelChat == nil {
			return // no stage channels here
		}
		id, stage := s.cfg.ChannelChat(ctx, e.StageChannel)
		conversation = id
		if !stage {
			kind = messages.KindChannel
		}
	}
	name := e.Name
	if name == "" {
		name = e.Username
	}
	if err := s.sendEngagement(ctx, conversation, kind, Engagement{Type: e.Type, Image: e.Image, Link: e.ActorIRI, Title: e.Username},
		name+" "+e.Body); err != nil {
		s.log.Warn("fediverse engagement to chat", "actor", e.Actor, "err", err)
	}
}

// DirectorySettings is the Owncast directory pinger's view of the
// settings: config/directoryenabled and the server URL.
func (s *Service) DirectorySettings() (bool, string) {
	st := s.Settings()
	return st.Directory.Enabled, st.ServerURL
}

// logoVersion names the logo's content for the actors' avatar URL: its
// checksum's first 16 characters, "" while the default logo shows.
func logoVersion(st Settings) string {
	if st.Logo == "" {
		return ""
	}
	v := st.LogoSum
	if len(v) > 16 {
		v = v[:16]
	}
	return v
}
