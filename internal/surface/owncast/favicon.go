package owncast

import (
	"bytes"
	"errors"
	"io"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"

	"github.com/hearth-community/hearth/internal/httpserver"
	"github.com/hearth-community/hearth/internal/stagechat"
)

// maxFavicon is Owncast 0.2's favicon limit.
const maxFavicon = 200 << 10

// faviconType is the extension and content type of an uploaded favicon:
// PNG or ICO only, as Owncast 0.2.
func faviconType(data []byte) (ext, ct string, ok bool) {
	switch {
	case bytes.HasPrefix(data, []byte("\x89PNG\r\n\x1a\n")):
		return ".png", "image/png", true
	case len(data) >= 6 && bytes.HasPrefix(data, []byte{0, 0, 1, 0}) && (data[4] != 0 || data[5] != 0):
		return ".ico", "image/x-icon", true
	}
	return "", "", false
}

func (s *Surface) registerFavicon(h *httpserver.Server) {
	h.Handle("GET /favicon.ico", s.wrap(s.handleFavicon))
	s.admin(h, "DELETE /api/admin/config/favicon", s.resetFavicon)
}

// setFavicon is POST /api/admin/config/favicon: a multipart form with the
// image in the field "favicon".
func (s *Surface) setFavicon(w http.ResponseWriter, r *http.Request) {
	httpserver.SetBodyLimit(w, r, maxFavicon+64<<10)
	f, _, err := r.FormFile("favicon")
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			writeResult(w, http.StatusBadRequest, false, "file too large, max 200KB")
			return
		}
		writeResult(w, http.StatusBadRequest, false, "no file provided")
		return
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxFavicon+1))
	if err != nil {
		writeResult(w, http.StatusBadRequest, false, "no file provided")
		return
	}
	if len(data) > maxFavicon {
		writeResult(w, http.StatusBadRequest, false, "file too large, max 200KB")
		return
	}
	ext, _, ok := faviconType(data)
	if !ok {
		writeResult(w, http.StatusBadRequest, false, "favicon must be PNG or ICO format")
		return
	}
	dir := filepath.Join(s.d.Chats.DataDir, logoDir)
	if err := os.MkdirAll(dir, 0o750); err != nil {
		writeError(w, err)
		return
	}
	name := "favicon" + ext
	if err := os.WriteFile(filepath.Join(dir, name), data, 0o640); err != nil {
		writeError(w, err)
		return
	}
	if err := s.d.Chat.UpdateSettings(r.Context(), func(st *stagechat.Settings) error { st.Favicon = name; return nil }); err != nil {
		writeError(w, err)
		return
	}
	writeResult(w, http.StatusOK, true, "favicon updated")
}

// resetFavicon is DELETE /api/admin/config/favicon: back to none.
func (s *Surface) resetFavicon(w http.ResponseWriter, r *http.Request) {
	if err := s.d.Chat.UpdateSettings(r.Context(), func(st *stagechat.Settings) error { st.Favicon = ""; return nil }); err != nil {
		writeError(w, err)
		return
	}
	writeResult(w, http.StatusOK, true, "favicon reset")
}

// handleFavicon is GET /favicon.ico: the uploaded favicon, or a 404 when
// none is set (the web app's own icon is /favicon.svg).
func (s *Surface) handleFavicon(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("X-Content-Type-Options", "nosniff")
	if name := s.d.Chat.Settings().Favicon; name != "" {
		if root, err := os.OpenRoot(filepath.Join(s.d.Chats.DataDir, logoDir)); err == nil {
			defer func() { _ = root.Close() }()
			if f, err := root.Open(name); err == nil {
				defer f.Close()
				head := make([]byte, 8)
				n, _ := io.ReadFull(f, head)
				_, ct, ok := faviconType(head[:n])
				st, serr := f.Stat()
				if _, err := f.Seek(0, io.SeekStart); ok && serr == nil && err == nil {
					w.Header().Set("Content-Type", ct)
					w.Header().Set("Cache-Control", "no-cache")
					http.ServeContent(w, r, "", st.ModTime(), f)
					return
				}
			} else if !errors.Is(err, fs.ErrNotExist) {
				s.log.Warn("open favicon", "err", err)
			}
		}
	}
	httpserver.WriteJSON(w, http.StatusNotFound, map[string]string{"error": "Not found"})
}
