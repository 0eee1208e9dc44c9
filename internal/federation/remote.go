package federation

import (
	"context"
	"fmt"
	"html"
	"net/url"
	"strings"
	"time"

	"github.com/google/uuid"

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

// SendDirect sends text as a direct message (a Create/Note addressed to the
// account alone, with a Mention) from the server actor to account
// (user@host), found through WebFinger. It is not kept in the outbox.
func (s *Service) SendDirect(ctx context.Context, account, text string) error {
	st := s.Settings()
	if !st.Enabled || st.ServerURL == "" {
		return fault.New(fault.Invalid, "federation is not enabled")
	}
	account = strings.TrimPrefix(strings.TrimSpace(account), "@")
	user, host, ok := strings.Cut(account, "@")
	if !ok || user == "" || host == "" || strings.ContainsAny(host, "/?#@") || len(account) > 320 {
		return fault.New(fault.Invalid, "account must be user@host")
	}
	if blocked(st, strings.Split(host, ":")[0]) {
		return errBlocked
	}
	q := url.Values{"resource": {"acct:" + account}}
	wf, err := s.fetchJSON(ctx, s.scheme()+"://"+host+"/.well-known/webfinger?"+q.Encode(), 64<<10)
	if err != nil {
		return fault.Wrap(fault.Invalid, "unable to find the account", err)
	}
	var actorIRI string
	for _, l := range list(wf["links"]) {
		lm, _ := l.(map[string]any)
		if str(lm["rel"]) == "self" && strings.Contains(str(lm["type"]), "json") {
			actorIRI = str(lm["href"])
			break
		}
	}
	if actorIRI == "" {
		return fault.New(fault.Invalid, "the account has no ActivityPub actor")
	}
	doc, err := s.fetchJSON(ctx, actorIRI, maxActorDoc)
	if err != nil {
		return fault.Wrap(fault.Invalid, "unable to fetch the account", err)
	}
	a := parseActor(doc)
	if a.ID != actorIRI || a.Inbox == "" {
		return fault.New(fault.Invalid, "the account's actor document is not usable")
	}
	self := s.actorIRI(st, st.Username)
	now := s.now().UTC().Format(time.RFC3339)
	mention := "@" + account
	note := map[string]any{
		"id":           s.objectIRI(st, uuid.NewString()),
		"type":         "Note",
		"attributedTo": self,
		"content": fmt.Sprintf(`<p><span class="h-card"><a href="%s" class="u-url mention">%s</a></span> %s</p>`,
			escapeAttr(actorIRI), escapeText(mention), html.EscapeString(text)),
		"published": now,
		"to":        []string{actorIRI},
		"cc":        []string{},
		"tag":       []any{map[string]any{"type": "Mention", "href": actorIRI, "name": mention}},
	}
	create := map[string]any{"@context": ContextAS, "id": s.objectIRI(st, uuid.NewString()), "type": "Create",
		"actor": self, "published": now, "to": []string{actorIRI}, "cc": []string{}, "object": note}
	return s.enqueue(ctx, create, []string{a.Inbox})
}
