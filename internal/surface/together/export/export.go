// Package export serves Together's GET /servers/{id}/export: a ZIP of a
// server's settings, members, roles and messages, and the caller's DMs, in
// Together's export-only shapes (export.rs).
package export

import (
	"archive/zip"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"slices"
	"strings"
	"time"
	"unicode"

	"github.com/hearth-community/hearth/internal/community"
	"github.com/hearth-community/hearth/internal/fault"
	"github.com/hearth-community/hearth/internal/identity"
	"github.com/hearth-community/hearth/internal/messages"
	"github.com/hearth-community/hearth/internal/ratelimit"
	"github.com/hearth-community/hearth/internal/surface/together/rest"
)

// API serves the export route.
type API struct {
	*rest.Base
	turns *ratelimit.Turns
}

// New builds the route on b.
func New(b *rest.Base) *API {
	return &API{Base: b, turns: ratelimit.NewTurns(exportTurns, exportWait).PerKey(ExportsPerAccount)}
}

// Turns are the node's export turns (tests hold them).
func (s *API) Turns() *ratelimit.Turns { return s.turns }

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
	release, err := s.turns.TakeAs(ctx, p.Account.ID)
	switch {
	case errors.Is(err, ratelimit.ErrNoTurn):
		err = &fault.Error{Kind: fault.Unavailable, RetryAfter: exportWait, Msg: "The server is busy with other exports; try again shortly"}
	case errors.Is(err, ratelimit.ErrOwnTurns):
		err = &fault.Error{Kind: fault.RateLimited, RetryAfter: time.Second, Msg: "You are already exporting a server; wait for it to finish"}
	}
	if err != nil {
		s.Fail(w, err)
		return
	}
	defer release()
	ex, err := s.prepare(ctx, p.Account.ID, a.Community.ID)
	if err != nil {
		s.Fail(w, err)
		return
	}
	s.Audit(r, a.Community.ID, p, "server_export", "server", a.Community.ID, nil)
	name := slug(a.Community.Name) + "-export-" + time.Now().UTC().Format("20060102") + ".zip"
	w.Header().Set("Content-Type", "application/zip")
	w.Header().Set("Content-Disposition", `attachment; filename="`+name+`"`)
	if err := ex.write(ctx, w); err != nil {
		// Part of the archive is sent: cut the connection, so the client
		// sees a broken download rather than a short ZIP.
		if ctx.Err() == nil {
			s.Log.Warn("together: export cut off", "server", a.Community.ID, "err", err)
		}
		panic(http.ErrAbortHandler)
	}
}

// ExportsPerAccount is how many exports one account runs or awaits at
// once on a node (past it 429 at once): an export streams as fast as its
// client reads, each write waiting up to 30 s, so a client reading a
// little now and then holds its turn for good, and one account's slow
// exports (of servers it made itself) held every turn and left every
// other owner's export 503.
const ExportsPerAccount = 1

// Exports take turns: each holds a page of messages and a compressor
// while it streams, so a node runs a few at once and the rest wait up to
// exportWait, then get 503.
const (
	exportTurns = 4
	exportWait  = 15 * time.Second
	exportPage  = 200 // messages read at a time
)

// export is what an export writes, with its small documents read before
// the response starts, so a failure there is still an error response.
type export struct {
	s      *API
	dir    string
	docs   []exportDoc
	chans  []*community.Channel
	dms    []*community.DMChannel
	caller string
	names  map[string]*string // author id → username; nil once deleted
}

type exportDoc struct {
	name string
	data []byte
}

func (s *API) prepare(ctx context.Context, callerID, communityID string) (*export, error) {
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
	dms, err := st.DMChannelsOf(ctx, callerID, 0)
	if err != nil {
		return nil, err
	}
	slices.SortStableFunc(dms, func(x, y *community.DMChannel) int { return x.CreatedAt.Compare(y.CreatedAt) })

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
	ex := &export{s: s, dir: slug(c.Name) + "-export/", chans: chans, dms: dms, caller: callerID, names: map[string]*string{}}
	for _, f := range []struct {
		name string
		v    any
	}{
		{"server.json", exportServerJSON{ID: c.ID, Name: c.Name, OwnerID: c.OwnerID, IconURL: c.IconURL, IsPublic: c.IsPublic, CreatedAt: c.CreatedAt}},
		{"channels.json", chJSON}, {"members.json", memJSON}, {"roles.json", roleJSON},
	} {
		b, err := marshalExport(f.v, true)
		if err != nil {
			return nil, err
		}
		ex.docs = append(ex.docs, exportDoc{f.name, b})
	}
	return ex, nil
}

// author is the username of an author id, looked up once per export.
func (ex *export) author(ctx context.Context, id *string) *string {
	if id == nil {
		return nil
	}
	n, ok := ex.names[*id]
	if !ok {
		if acc, err := ex.s.Identity.Account(ctx, *id); err == nil {
			n = &acc.Username
		}
		ex.names[*id] = n
	}
	return n
}

// write streams the archive to w: the documents, then each conversation's
// messages page by page, so what an export holds is one page whatever the
// server's size.
func (ex *export) write(ctx context.Context, w io.Writer) error {
	zw := zip.NewWriter(w)
	for _, d := range ex.docs {
		f, err := zw.Create(ex.dir + d.name)
		if err == nil {
			_, err = f.Write(d.data)
		}
		if err != nil {
			return err
		}
	}
	for _, ch := range ex.chans {
		if ch.Kind != "text" {
			continue
		}
		if err := ex.lines(ctx, zw, "messages/"+slug(ch.Name)+"-"+ch.ID+".jsonl", ch.ID, func(m *messages.Message) any {
			return exportMessageJSON{ID: m.ID, AuthorID: m.AuthorID, AuthorUsername: ex.author(ctx, m.AuthorID), Content: m.Body,
				ReplyTo: m.ReplyTo, EditedAt: m.EditedAt, CreatedAt: m.CreatedAt}
		}); err != nil {
			return err
		}
	}
	for _, dm := range ex.dms {
		partner := "unknown"
		other := dm.Other(ex.caller)
		if n := ex.author(ctx, &other); n != nil {
			partner = *n
		}
		if err := ex.lines(ctx, zw, "dm_messages/"+slug(partner)+"-"+dm.ID+".jsonl", dm.ID, func(m *messages.Message) any {
			return exportDMMessageJSON{ID: m.ID, AuthorID: m.AuthorID, AuthorUsername: ex.author(ctx, m.AuthorID), Content: m.Body, CreatedAt: m.CreatedAt}
		}); err != nil {
			return err
		}
	}
	return zw.Close()
}

// lines writes one compact JSON line per message of a conversation, oldest
// first, thread replies included and deleted ones left out; a conversation
// with no messages gets no file, as in Together.
func (ex *export) lines(ctx context.Context, zw *zip.Writer, name, conversationID string, row func(*messages.Message) any) error {
	var f io.Writer
	after := ""
	for {
		ms, err := ex.s.Messages.List(ctx, messages.ListQuery{ConversationID: conversationID, After: after, Limit: exportPage,
			WithThreads: true, IncludeHidden: true, Oldest: true, FromStart: true})
		if err != nil {
			return err
		}
		if len(ms) > 0 && f == nil {
			if f, err = zw.Create(ex.dir + name); err != nil {
				return err
			}
		}
		for _, m := range ms {
			line, err := marshalExport(row(m), false)
			if err != nil {
				return err
			}
			if _, err := f.Write(append(line, '\n')); err != nil {
				return err
			}
		}
		if len(ms) < exportPage {
			return nil
		}
		after = ms[len(ms)-1].ID
	}
}
