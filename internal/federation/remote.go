package federation

import (
	"context"
	"net/url"
	"strings"

	"github.com/hearth-community/hearth/internal/fault"
)

// RemoteFollowURL finds, through WebFinger on the account's server, the
// page where that account follows our server actor (/api/remotefollow).
func (s *Service) RemoteFollowURL(ctx context.Context, account string) (string, error) {
	st := s.Settings()
	if !st.Enabled {
		return "", fault.New(fault.Invalid, "federation is not enabled")
	}
	account = strings.TrimPrefix(strings.TrimSpace(account), "@")
	user, host, ok := strings.Cut(account, "@")
	if !ok || user == "" || host == "" || strings.ContainsAny(host, "/?#@") || len(account) > 320 {
		return "", fault.New(fault.Invalid, "account must be user@host")
	}
	q := url.Values{"resource": {"acct:" + account}}
	doc, err := s.fetchJSON(ctx, s.scheme()+"://"+host+"/.well-known/webfinger?"+q.Encode(), 64<<10)
	if err != nil {
		return "", fault.Wrap(fault.Invalid, "unable to find the account's server", err)
	}
	for _, l := range list(doc["links"]) {
		lm, _ := l.(map[string]any)
		if str(lm["rel"]) != "http://ostatus.org/schema/1.0/subscribe" {
			continue
		}
		tmpl := str(lm["template"])
		if !strings.Contains(tmpl, "{uri}") {
			break
		}
		out := strings.ReplaceAll(tmpl, "{uri}", url.QueryEscape(s.actorIRI(st, st.Username)))
		if u, err := url.Parse(out); err != nil || (u.Scheme != "https" && u.Scheme != "http") {
			break
		}
		return out, nil
	}
	return "", fault.New(fault.Invalid, "the account's server does not offer remote follows")
}

func (s *Service) scheme() string {
	if s.cfg.InsecureHTTP {
		return "http"
	}
	return "https"
}
