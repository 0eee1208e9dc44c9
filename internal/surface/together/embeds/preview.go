package embeds

import (
	"bytes"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"golang.org/x/net/html"

	"github.com/hearth-community/hearth/internal/fault"
	"github.com/hearth-community/hearth/internal/identity"
	"github.com/hearth-community/hearth/internal/surface/together/rest"
)

type linkPreview struct {
	URL         string  `json:"url"`
	Title       *string `json:"title"`
	Description *string `json:"description"`
	Image       *string `json:"image"`
	SiteName    *string `json:"site_name"`
}

type previewCache struct {
	mu      sync.Mutex
	entries map[string]previewEntry
}

type previewEntry struct {
	p       linkPreview
	expires time.Time
}

const (
	previewTTL     = 24 * time.Hour
	previewEntries = 10000
)

// parsePreview reads OpenGraph / Twitter / <title> / description metadata.
func parsePreview(raw string, body []byte) linkPreview {
	p := linkPreview{URL: raw}
	set := func(dst **string, v string) {
		v = strings.TrimSpace(v)
		if *dst == nil && v != "" {
			if len([]rune(v)) > 500 {
				v = string([]rune(v)[:500])
			}
			*dst = &v
		}
	}
	z := html.NewTokenizer(bytes.NewReader(body))
	inTitle := false
	var title string
	for {
		tt := z.Next()
		switch tt {
		case html.ErrorToken:
			set(&p.Title, title)
			return p
		case html.StartTagToken, html.SelfClosingTagToken:
			t := z.Token()
			switch t.Data {
			case "title":
				inTitle = true
			case "meta":
				var key, content string
				for _, a := range t.Attr {
					switch strings.ToLower(a.Key) {
					case "property", "name":
						key = strings.ToLower(a.Val)
					case "content":
						content = a.Val
					}
				}
				switch key {
				case "og:title", "twitter:title":
					set(&p.Title, content)
				case "og:description", "twitter:description", "description":
					set(&p.Description, content)
				case "og:image", "twitter:image":
					if u, err := url.Parse(content); err == nil && (u.Scheme == "https" || u.Scheme == "http") {
						set(&p.Image, content)
					}
				case "og:site_name":
					set(&p.SiteName, content)
				}
			case "body":
				set(&p.Title, title)
				return p
			}
		case html.TextToken:
			if inTitle && title == "" {
				title = string(z.Text())
			}
		case html.EndTagToken:
			inTitle = false
		}
	}
}

// LinkPreview fetches a page through the SSRF-safe egress client.
func (s *API) LinkPreview(w http.ResponseWriter, r *http.Request, who *identity.Principal) {
	if s.cfg.Egress == nil {
		s.Fail(w, fault.New(fault.Unavailable, "Link previews are not available"))
		return
	}
	raw := r.URL.Query().Get("url")
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || len(raw) > 2048 {
		s.Fail(w, rest.Invalid("Invalid URL"))
		return
	}
	s.previews.mu.Lock()
	e, ok := s.previews.entries[raw]
	s.previews.mu.Unlock()
	if ok && time.Now().Before(e.expires) {
		rest.WriteJSON(w, http.StatusOK, e.p)
		return
	}
	release, err := s.fetchTurn(r.Context(), who.Account.ID)
	if err != nil {
		s.Fail(w, err)
		return
	}
	defer release()
	resp, err := s.cfg.Egress.Get(r.Context(), raw)
	if err != nil {
		s.Fail(w, rest.Invalid("Could not fetch URL"))
		return
	}
	if resp.StatusCode >= 400 {
		s.Fail(w, rest.Invalid("URL returned an error"))
		return
	}
	if ct := resp.Header.Get("Content-Type"); ct != "" && !strings.Contains(ct, "html") {
		s.Fail(w, rest.Invalid("URL is not an HTML page"))
		return
	}
	p := parsePreview(raw, resp.Body)
	s.previews.mu.Lock()
	if s.previews.entries == nil || len(s.previews.entries) >= previewEntries {
		s.previews.entries = map[string]previewEntry{}
	}
	s.previews.entries[raw] = previewEntry{p: p, expires: time.Now().Add(previewTTL)}
	s.previews.mu.Unlock()
	rest.WriteJSON(w, http.StatusOK, p)
}
