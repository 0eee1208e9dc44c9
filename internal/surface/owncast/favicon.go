package owncast

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/hearth-community/hearth/internal/httpserver"
	"github.com/hearth-community/hearth/internal/stagechat"
)

func (s *Surface) registerFavicon(h *httpserver.Server) {
	h.Handle("GET /favicon.ico", s.wrap(s.handleFavicon))
	s.admin(h, "DELETE /api/admin/config/favicon", s.resetFavicon)
}

// maxFaviconBody is Owncast's body limit for the upload: 200 KB of image
// as base64 in JSON, with room to spare.
const maxFaviconBody = 300 << 10

// setFavicon is POST /api/admin/config/favicon. Owncast's current form is
// JSON {"value": "data:image/png;base64,…"}, the type named by the data
// URL; its first form, a multipart field "favicon", is still taken. Either
// way the bytes must also be a PNG or an ICO (they are served as what they
// are sniffed to be).
func (s *Surface) setFavicon(w http.ResponseWriter, r *http.Request) {
	httpserver.SetBodyLimit(w, r, maxFaviconBody)
	var data []byte
	if strings.HasPrefix(r.Header.Get("Content-Type"), "multipart/") {
		var ok bool
		if data, ok = faviconPart(w, r); !ok {
			return
		}
	} else {
		var req struct {
			Value any `json:"value"`
		}
		body, err := io.ReadAll(r.Body)
		if err != nil {
			writeResult(w, http.StatusBadRequest, false, "file too large, max 200KB")
			return
		}
		if json.Unmarshal(body, &req) != nil {
			writeResult(w, http.StatusBadRequest, false, "unable to parse new value")
			return
		}
		v, isString := req.Value.(string)
		if !isString || v == "" {
			writeResult(w, http.StatusBadRequest, false, "unable to find image data")
			return
		}
		mediaType, b64, ok := cutDataURI(v)
		if !ok {
			writeResult(w, http.StatusBadRequest, false, "image data must be a base64 data URL")
			return
		}
		switch strings.ToLower(mediaType) {
		case "image/png", "image/x-icon", "image/vnd.microsoft.icon":
		default:
			writeResult(w, http.StatusBadRequest, false, "favicon must be PNG or ICO format")
			return
		}
		if data, err = base64.StdEncoding.DecodeString(strings.TrimSpace(b64)); err != nil {
			writeResult(w, http.StatusBadRequest, false, "image data must be a base64 data URL")
			return
		}
	}
	ext, err := stagechat.CheckFavicon(data)
	if err != nil {
		writeError(w, err)
		return
	}
	name := "favicon" + ext
	sum, err := s.storeBrand(r.Context(), name, data)
	if err != nil {
		writeError(w, err)
		return
	}
	var old string
	if err := s.d.Chat.UpdateSettings(r.Context(), func(st *stagechat.Settings) error {
		old, st.Favicon, st.FaviconSum = st.FaviconSum, name, sum
		return nil
	}); err != nil {
		writeError(w, err)
		return
	}
	s.dropBrand(r.Context(), old, s.d.Chat.Settings())
	writeResult(w, http.StatusOK, true, "favicon updated")
}

// faviconPart reads the multipart field "favicon" (at most
// stagechat.MaxFaviconBytes+1 bytes, so a larger one is seen as too
// large), answering the refusal itself.
func faviconPart(w http.ResponseWriter, r *http.Request) ([]byte, bool) {
	f, _, err := r.FormFile("favicon")
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			writeResult(w, http.StatusBadRequest, false, "file too large, max 200KB")
			return nil, false
		}
		writeResult(w, http.StatusBadRequest, false, "no file provided")
		return nil, false
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, stagechat.MaxFaviconBytes+1))
	if err != nil {
		writeResult(w, http.StatusBadRequest, false, "no file provided")
		return nil, false
	}
	return data, true
}

// resetFavicon is DELETE /api/admin/config/favicon: back to the default.
func (s *Surface) resetFavicon(w http.ResponseWriter, r *http.Request) {
	var old string
	if err := s.d.Chat.UpdateSettings(r.Context(), func(st *stagechat.Settings) error {
		old, st.Favicon, st.FaviconSum = st.FaviconSum, "", ""
		return nil
	}); err != nil {
		writeError(w, err)
		return
	}
	s.dropBrand(r.Context(), old, s.d.Chat.Settings())
	writeResult(w, http.StatusOK, true, "favicon reset to default")
}

// handleFavicon is GET /favicon.ico: the uploaded favicon, or the default
// (the default logo, a PNG) when none is set, as Owncast serves its own.
func (s *Surface) handleFavicon(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.Header().Set("Cache-Control", "no-cache")
	if st := s.d.Chat.Settings(); st.Favicon != "" {
		if content, mod, done, ok := s.brandContent(r.Context(), st.Favicon, st.FaviconSum); ok {
			defer done()
			head := make([]byte, 8)
			n, _ := io.ReadFull(content, head)
			if _, ct, ok := stagechat.FaviconType(head[:n]); ok {
				if _, err := content.Seek(0, io.SeekStart); err == nil {
					w.Header().Set("Content-Type", ct)
					http.ServeContent(w, r, "", mod, content)
					return
				}
			}
		}
	}
	w.Header().Set("Content-Type", "image/png")
	http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(defaultLogo))
}
