package together

import (
	"archive/zip"
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"time"

	"github.com/hearth-community/hearth/internal/identity"
	"github.com/hearth-community/hearth/internal/messages"
)

func slug(s string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(s) {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9':
			b.WriteRune(r)
		case b.Len() > 0 && !strings.HasSuffix(b.String(), "-"):
			b.WriteByte('-')
		}
	}
	out := strings.Trim(b.String(), "-")
	if len(out) > 60 {
		out = strings.Trim(out[:60], "-")
	}
	if out == "" {
		out = "server"
	}
	return out
}

// exportServer streams a ZIP of the server: server.json, channels.json,
// members.json, roles.json and messages/<channel>-<id>.jsonl (owner only).
func (s *Surface) exportServer(w http.ResponseWriter, r *http.Request, p *identity.Principal) {
	ctx := r.Context()
	a, err := s.ownerOf(ctx, p, r, "export it")
	if err != nil {
		s.fail(w, err)
		return
	}
	c := a.Community
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	dir := slug(c.Name) + "-export/"
	add := func(name string, v any) error {
		f, err := zw.Create(dir + name)
		if err != nil {
			return err
		}
		enc := json.NewEncoder(f)
		enc.SetIndent("", "  ")
		return enc.Encode(v)
	}
	chans, err := s.d.Community.Store().Channels(ctx, c.ID)
	if err != nil {
		s.fail(w, err)
		return
	}
	chDTO := make([]channelDTO, len(chans))
	for i, ch := range chans {
		chDTO[i] = toChannel(ch)
	}
	members, err := s.members(ctx, p.Account.ID, c.ID)
	if err != nil {
		s.fail(w, err)
		return
	}
	roles, err := s.d.Community.Store().Roles(ctx, c.ID)
	if err != nil {
		s.fail(w, err)
		return
	}
	roleDTOs := make([]roleDTO, len(roles))
	for i, ro := range roles {
		roleDTOs[i] = toRole(ro)
	}
	for _, f := range []struct {
		name string
		v    any
	}{{"server.json", toServer(c)}, {"channels.json", chDTO}, {"members.json", members}, {"roles.json", roleDTOs}} {
		if err := add(f.name, f.v); err != nil {
			s.fail(w, err)
			return
		}
	}
	for _, ch := range chans {
		if err := s.exportChannel(ctx, zw, dir+"messages/"+slug(ch.Name)+"-"+ch.ID+".jsonl", ch.ID); err != nil {
			s.fail(w, err)
			return
		}
	}
	if err := zw.Close(); err != nil {
		s.fail(w, err)
		return
	}
	s.audit(r, c.ID, p, "server.export", "server", c.ID, nil)
	name := slug(c.Name) + "-export-" + time.Now().UTC().Format("20060102") + ".zip"
	w.Header().Set("Content-Type", "application/zip")
	w.Header().Set("Content-Disposition", `attachment; filename="`+name+`"`)
	_, _ = w.Write(buf.Bytes())
}

// exportChannel writes a channel's messages (oldest first, one JSON
// MessageDto per line), paging backwards through the store.
func (s *Surface) exportChannel(ctx context.Context, zw *zip.Writer, name, channelID string) error {
	var all []*messages.Message
	before := ""
	for {
		page, err := s.d.Messages.List(ctx, messages.ListQuery{ConversationID: channelID, Before: before, Limit: 500})
		if err != nil {
			return err
		}
		all = append(all, page...)
		if len(page) < 500 {
			break
		}
		before = page[len(page)-1].ID
	}
	f, err := zw.Create(name)
	if err != nil {
		return err
	}
	enc := json.NewEncoder(f)
	for i := len(all) - 1; i >= 0; i-- {
		if err := enc.Encode(toMessage(all[i])); err != nil {
			return err
		}
	}
	return nil
}
