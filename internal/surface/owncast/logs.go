package owncast

import (
	"context"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode"

	"github.com/hearth-community/hearth/internal/httpserver"
)

// LogBuffer keeps the most recent log records of the stage (chat, webhooks,
// the Owncast surface) for /api/admin/logs and /api/admin/logs/warnings.
// Wrap a logger's handler with Handler to feed it.
type LogBuffer struct {
	mu   sync.Mutex
	size int
	next int
	full bool
	ring []logEntry
}

type logEntry struct {
	Time    time.Time `json:"time"`
	Message string    `json:"message"`
	Level   string    `json:"level"`
}

// NewLogBuffer keeps the last size records.
func NewLogBuffer(size int) *LogBuffer {
	if size <= 0 {
		size = 500
	}
	return &LogBuffer{size: size, ring: make([]logEntry, size)}
}

func (b *LogBuffer) add(e logEntry) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.ring[b.next] = e
	b.next = (b.next + 1) % b.size
	if b.next == 0 {
		b.full = true
	}
}

// entries returns records oldest first, at or above min.
func (b *LogBuffer) entries(min slog.Level) []logEntry {
	b.mu.Lock()
	defer b.mu.Unlock()
	var all []logEntry
	if b.full {
		all = append(append(all, b.ring[b.next:]...), b.ring[:b.next]...)
	} else {
		all = append(all, b.ring[:b.next]...)
	}
	out := []logEntry{}
	for _, e := range all {
		var l slog.Level
		if l.UnmarshalText([]byte(e.Level)) == nil && l >= min {
			out = append(out, e)
		}
	}
	return out
}

// Handler returns a slog handler that passes records to next and keeps
// those at Info or above (message plus attributes, as Owncast shows them).
func (b *LogBuffer) Handler(next slog.Handler) slog.Handler { return &teeHandler{next: next, buf: b} }

type teeHandler struct {
	next  slog.Handler
	buf   *LogBuffer
	attrs []slog.Attr
}

func (h *teeHandler) Enabled(ctx context.Context, l slog.Level) bool {
	return l >= slog.LevelInfo || h.next.Enabled(ctx, l)
}

func (h *teeHandler) Handle(ctx context.Context, r slog.Record) error {
	if r.Level >= slog.LevelInfo {
		var sb strings.Builder
		sb.WriteString(r.Message)
		add := func(a slog.Attr) bool {
			if a.Key == "component" {
				return true
			}
			sb.WriteString(" " + a.Key + "=" + logValue(a.Value.String()))
			return true
		}
		for _, a := range h.attrs {
			add(a)
		}
		r.Attrs(add)
		h.buf.add(logEntry{Time: r.Time.UTC(), Message: sb.String(), Level: strings.ToLower(r.Level.String())})
	}
	if h.next.Enabled(ctx, r.Level) {
		return h.next.Handle(ctx, r)
	}
	return nil
}

// logValue writes an attribute's value as slog's text logs do: quoted
// when it holds a space, a quote, '=' or anything unprintable, so a value
// a stranger chose (a name, a path) cannot end the entry's line or pass
// for another attribute in the admin's log view.
func logValue(v string) string {
	if v == "" || strings.IndexFunc(v, func(r rune) bool {
		return r == ' ' || r == '"' || r == '=' || !unicode.IsPrint(r)
	}) >= 0 {
		return strconv.Quote(v)
	}
	return v
}

func (h *teeHandler) WithAttrs(as []slog.Attr) slog.Handler {
	return &teeHandler{next: h.next.WithAttrs(as), buf: h.buf, attrs: append(append([]slog.Attr{}, h.attrs...), as...)}
}

func (h *teeHandler) WithGroup(name string) slog.Handler {
	return &teeHandler{next: h.next.WithGroup(name), buf: h.buf, attrs: h.attrs}
}

func (s *Surface) logsHandler(min slog.Level) http.HandlerFunc {
	return func(w http.ResponseWriter, _ *http.Request) {
		if s.d.Chats.Logs == nil {
			httpserver.WriteJSON(w, http.StatusOK, []logEntry{})
			return
		}
		httpserver.WriteJSON(w, http.StatusOK, s.d.Chats.Logs.entries(min))
	}
}
