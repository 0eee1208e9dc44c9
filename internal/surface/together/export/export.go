// Package export serves Together's GET /servers/{id}/export: a ZIP of a
// server's settings, members, roles and messages, and the caller's DMs, in
// Together's export-only shapes (export.rs).
package export

import (
	"archive/zip"
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/hearth-community/hearth/internal/community"
	"github.com/hearth-community/hearth/internal/identity"
	"github.com/hearth-community/hearth/internal/messages"
	"github.com/hearth-community/hearth/internal/surface/together/rest"
)

// API serves the export route.
type API struct{ *rest.Base }

// New builds the route on b.
func New(b *rest.Base) *API { return &API{Base: b} }

// slug is Together's to_slug: letters, digits and '-' stay, every other
// character becomes '_', and the result is lower-cased. The output never
// holds '/', '.', quotes or control characters, so it is safe in a ZIP path
// and in Content-Disposition.
func slug(s string) string {
	return strings.ToLower(strings.Map(func(r rune) rune {
		if r == '-' || unicode.IsLetter(r) || unicode.IsNumber(r) || unicode.Is(unicode.Other_Alphabetic, r) {
			return r
		}
		return '_'
	}, s))
}

// The export files carry Together's export-only shapes (export.rs), not the
// API's DTOs.
type (
	exportServerJSON struct {
		ID        string    `json:"id"`
		Name      string    `json:"name"`
		OwnerID   string    `json:"owner_id"`
		IconURL   *string   `json:"icon_url"`
		IsPublic  bool      `json:"is_public"`
		CreatedAt time.Time `json:"created_at"`
	}
	exportChannelJSON struct {
		ID        string    `json:"id"`
		Name      string    `json:"name"`
		Type      string    `json:"channel_type"`
		Position  int       `json:"position"`
		Category  *string   `json:"category"`
		Topic     *string   `json:"topic"`
		CreatedAt time.Time `json:"created_at"`
	}
	exportMemberJSON struct {
		UserID   string    `json:"user_id"`
		Username string    `json:"username"`
		Nickname *string   `json:"nickname"`
		JoinedAt time.Time `json:"joined_at"`
	}
	exportRoleJSON struct {
		ID          string  `json:"id"`
		Name        string  `json:"name"`
		Permissions int64   `json:"permissions"`
		Color       *string `json:"color"`
		Position    int     `json:"position"`
	}
	exportMessageJSON struct {
		ID             string     `json:"id"`
		AuthorID       *string    `json:"author_id"`
		AuthorUsername *string    `json:"author_username"`
		Content        string     `json:"content"`
		ReplyTo        *string    `json:"reply_to"`
		EditedAt       *time.Time `json:"edited_at"`
		CreatedAt      time.Time  `json:"created_at"`
	}
	exportDMMessageJSON struct {
		ID             string    `json:"id"`
		AuthorID       *string   `json:"author_id"`
		AuthorUsername *string   `json:"author_username"`
		Content        string    `json:"content"`
		CreatedAt      time.Time `json:"created_at"`
	}
)

// marshalExport encodes like serde_json: no HTML escaping, no trailing
// newline; indented ("pretty") or compact.
func marshalExport(v any, pretty bool) ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if pretty {
		enc.SetIndent("", "  ")
	}
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(b.Bytes(), []byte("\n")), nil
}

// Server is Together's GET /servers/:id/export (owner only; anyone
// else, members included, gets 404 "Server not found"). The ZIP holds
// <slug>-export/ with server.json, channels.json, members.json and
// roles.json (pretty JSON), messages/<channel-slug>-<id>.jsonl per text
// channel with messages, and dm_messages/<partner-slug>-<id>.jsonl for the
// caller's own DMs, one compact JSON object per line, oldest first.
func (s *API) Server(w http.ResponseWriter, r *http.Request, p *identity.Principal) {
	ctx := r.Context()
	id, err := rest.ServerID(r)
	if err != nil {
		s.Fail(w, err)
		return
	}
	a, err := s.Community.Access(ctx, p.Account.ID, id)
	if err == nil {
		err = a.MayExport()
	}
	if err != nil {
		s.Fail(w, err)
		return
	}
	archive, err := s.buildExport(ctx, p.Account.ID, a.Community.ID)
	if err != nil {
		s.Fail(w, err)
		return
	}
	s.Audit(r, a.Community.ID, p, "server_export", "server", a.Community.ID, nil)
	name := slug(a.Community.Name) + "-export-" + time.Now().UTC().Format("20060102") + ".zip"
	w.Header().Set("Content-Type", "application/zip")
	w.Header().Set("Content-Disposition", `attachment; filename="`+name+`"`)
	w.Header().Set("Content-Length", strconv.Itoa(len(archive)))
	_, _ = w.Write(archive)
}

func (s *API) buildExport(ctx context.Context, callerID, communityID string) ([]byte, error) {
	st := s.Community.Store()
	c, err := st.Community(ctx, communityID)
	if err != nil {
		return nil, err
	}
	chans, err := st.Channels(ctx, communityID)
	if err != nil {
		return nil, err
	}
	members, err := st.Members(ctx, communityID)
	if err != nil {
		return nil, err
	}
	roles, err := st.Roles(ctx, communityID)
	if err != nil {
		return nil, err
	}
	slices.SortStableFunc(roles, func(x, y *community.Role) int { return x.Position - y.Position })

	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	dir := slug(c.Name) + "-export/"
	add := func(name string, data []byte) error {
		f, err := zw.Create(dir + name)
		if err == nil {
			_, err = f.Write(data)
		}
		return err
	}
	addJSON := func(name string, v any) error {
		b, err := marshalExport(v, true)
		if err != nil {
			return err
		}
		return add(name, b)
	}
	chJSON := make([]exportChannelJSON, len(chans))
	for i, ch := range chans {
		chJSON[i] = exportChannelJSON{ID: ch.ID, Name: ch.Name, Type: ch.Kind, Position: ch.Position, Category: ch.Category,
			Topic: ch.Topic, CreatedAt: ch.CreatedAt}
	}
	memJSON := make([]exportMemberJSON, len(members))
	for i, m := range members {
		memJSON[i] = exportMemberJSON{UserID: m.AccountID, Username: m.Username, Nickname: m.Nickname, JoinedAt: m.JoinedAt}
	}
	roleJSON := make([]exportRoleJSON, len(roles))
	for i, ro := range roles {
		roleJSON[i] = exportRoleJSON{ID: ro.ID, Name: ro.Name, Permissions: ro.Permissions, Color: ro.Color, Position: ro.Position}
	}
	for _, f := range []struct {
		name string
		v    any
	}{
		{"server.json", exportServerJSON{ID: c.ID, Name: c.Name, OwnerID: c.OwnerID, IconURL: c.IconURL, IsPublic: c.IsPublic, CreatedAt: c.CreatedAt}},
		{"channels.json", chJSON}, {"members.json", memJSON}, {"roles.json", roleJSON},
	} {
		if err := addJSON(f.name, f.v); err != nil {
			return nil, err
		}
	}

	names := map[string]*string{} // author id → username; nil once deleted
	author := func(id *string) *string {
		if id == nil {
			return nil
		}
		n, ok := names[*id]
		if !ok {
			if acc, err := s.Identity.Account(ctx, *id); err == nil {
				n = &acc.Username
			}
			names[*id] = n
		}
		return n
	}
	for _, ch := range chans {
		if ch.Kind != "text" {
			continue
		}
		ms, err := s.allMessages(ctx, ch.ID)
		if err != nil {
			return nil, err
		}
		if err := addLines(add, "messages/"+slug(ch.Name)+"-"+ch.ID+".jsonl", ms, func(m *messages.Message) any {
			return exportMessageJSON{ID: m.ID, AuthorID: m.AuthorID, AuthorUsername: author(m.AuthorID), Content: m.Body,
				ReplyTo: m.ReplyTo, EditedAt: m.EditedAt, CreatedAt: m.CreatedAt}
		}); err != nil {
			return nil, err
		}
	}
	dms, err := st.DMChannelsOf(ctx, callerID, 0)
	if err != nil {
		return nil, err
	}
	slices.SortStableFunc(dms, func(x, y *community.DMChannel) int { return x.CreatedAt.Compare(y.CreatedAt) })
	for _, dm := range dms {
		partner := "unknown"
		other := dm.Other(callerID)
		if n := author(&other); n != nil {
			partner = *n
		}
		ms, err := s.allMessages(ctx, dm.ID)
		if err != nil {
			return nil, err
		}
		if err := addLines(add, "dm_messages/"+slug(partner)+"-"+dm.ID+".jsonl", ms, func(m *messages.Message) any {
			return exportDMMessageJSON{ID: m.ID, AuthorID: m.AuthorID, AuthorUsername: author(m.AuthorID), Content: m.Body, CreatedAt: m.CreatedAt}
		}); err != nil {
			return nil, err
		}
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// addLines writes one compact JSON line per message; a conversation with
// no messages gets no file, as in Together.
func addLines(add func(string, []byte) error, name string, ms []*messages.Message, row func(*messages.Message) any) error {
	if len(ms) == 0 {
		return nil
	}
	var b bytes.Buffer
	for _, m := range ms {
		line, err := marshalExport(row(m), false)
		if err != nil {
			return err
		}
		b.Write(line)
		b.WriteByte('\n')
	}
	return add(name, b.Bytes())
}

// allMessages returns a conversation's messages oldest first, thread
// replies included and deleted ones left out.
func (s *API) allMessages(ctx context.Context, conversationID string) ([]*messages.Message, error) {
	const page = 500
	var all []*messages.Message
	before := ""
	for {
		ms, err := s.Messages.List(ctx, messages.ListQuery{ConversationID: conversationID, Before: before, Limit: page,
			WithThreads: true, IncludeHidden: true})
		if err != nil {
			return nil, err
		}
		all = append(all, ms...)
		if len(ms) < page {
			break
		}
		before = ms[len(ms)-1].ID
	}
	slices.Reverse(all)
	return all, nil
}
