package embeds

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/hearth-community/hearth/internal/fault"
	"github.com/hearth-community/hearth/internal/identity"
	"github.com/hearth-community/hearth/internal/surface/together/rest"
)

type gifResult struct {
	URL        string `json:"url"`
	PreviewURL string `json:"preview_url"`
	Title      string `json:"title"`
	Width      int    `json:"width"`
	Height     int    `json:"height"`
}

// GiphySearch proxies Giphy's search (rating g, limit ≤ 25, default 15)
// through the egress client, in Together's result shape.
func (s *API) GiphySearch(w http.ResponseWriter, r *http.Request, p *identity.Principal) {
	// The query is checked first: Together refuses a request without q
	// (400) before it looks for its API key.
	q := r.URL.Query()
	text := strings.TrimSpace(q.Get("q"))
	if text == "" || len(text) > 200 {
		s.Fail(w, rest.Invalid("q must be 1-200 characters"))
		return
	}
	limit := 15
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			s.Fail(w, rest.Invalid("limit must be a number"))
			return
		}
		limit = min(n, 25)
	}
	if s.cfg.GiphyAPIKey == "" || s.cfg.Egress == nil {
		s.Fail(w, fault.New(fault.Unavailable, "GIF search is not configured"))
		return
	}
	base := s.cfg.GiphyBase
	if base == "" {
		base = "https://api.giphy.com"
	}
	u := base + "/v1/gifs/search?" + url.Values{"api_key": {s.cfg.GiphyAPIKey}, "q": {text},
		"limit": {strconv.Itoa(limit)}, "rating": {"g"}}.Encode()
	release, err := s.fetchTurn(r.Context(), p.Account.ID)
	if err != nil {
		s.Fail(w, err)
		return
	}
	defer release()
	resp, err := s.cfg.Egress.Get(r.Context(), u)
	if err != nil || resp.StatusCode != http.StatusOK {
		s.Fail(w, fault.New(fault.Unavailable, "GIF search is unavailable"))
		return
	}
	type image struct {
		URL    string `json:"url"`
		Width  string `json:"width"`
		Height string `json:"height"`
	}
	var body struct {
		Data []struct {
			Title  string `json:"title"`
			Images struct {
				Original   image `json:"original"`
				Downsample image `json:"fixed_height_downsampled"`
			} `json:"images"`
		} `json:"data"`
	}
	if err := json.Unmarshal(resp.Body, &body); err != nil {
		s.Fail(w, fault.New(fault.Unavailable, "GIF search is unavailable"))
		return
	}
	out := []gifResult{}
	for _, d := range body.Data {
		if d.Images.Original.URL == "" {
			continue
		}
		g := gifResult{URL: d.Images.Original.URL, PreviewURL: d.Images.Downsample.URL, Title: d.Title}
		if g.PreviewURL == "" {
			g.PreviewURL = g.URL
		}
		g.Width, _ = strconv.Atoi(d.Images.Original.Width)
		g.Height, _ = strconv.Atoi(d.Images.Original.Height)
		out = append(out, g)
	}
	rest.WriteJSON(w, http.StatusOK, out)
}
