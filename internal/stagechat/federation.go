package stagechat

import "github.com/hearth-community/hearth/internal/federation"

// FederationSettings is federation's view of the stage settings: the
// admin's federation values and the page's identity.
func (s *Service) FederationSettings() federation.Settings {
	st := s.Settings()
	out := federation.Settings{
		Enabled: st.Federation.Enabled, Private: st.Federation.IsPrivate, ShowEngagement: st.Federation.ShowEngagement,
		Username: st.Federation.Username, GoLiveMessage: st.Federation.GoLiveMessage,
		BlockedDomains: st.Federation.BlockedDomains, ServerURL: st.ServerURL, Name: st.Name, Summary: st.Summary,
		Tags: st.Tags, NSFW: st.NSFW, StreamTitle: st.StreamTitle,
	}
	for _, h := range st.SocialHandles {
		out.Social = append(out.Social, federation.Link{Name: h.Platform, URL: h.URL})
	}
	return out
}
