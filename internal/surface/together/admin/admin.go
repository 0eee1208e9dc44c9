// Package admin serves Together's instance administration: the
// /admin/* routes (Bearer, admin accounts only), the registration mode
// they set and /instance/registration-mode reads, and the admin-minted
// password resets (/auth/forgot-password, /auth/reset-password).
package admin

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/hearth-community/hearth/internal/fault"
	"github.com/hearth-community/hearth/internal/identity"
	"github.com/hearth-community/hearth/internal/store"
	"github.com/hearth-community/hearth/internal/surface/together/rest"
)

// TotalsStore counts what /admin/stats reports besides accounts and
// servers, and answers the admin lists with their counts
// (internal/store/together_extras.go, together_admin.go).
type TotalsStore interface {
	InstanceTotals(ctx context.Context) (channels, messages, storageBytes int64, err error)
	// AdminAccounts and AdminCommunities answer one page of /admin/users
	// and /admin/servers, and how many rows match in all.
	AdminAccounts(ctx context.Context, search string, sort store.AdminSort, limit, offset int) ([]store.AdminAccount, int, error)
	AdminCommunities(ctx context.Context, search string, limit, offset int) ([]store.AdminCommunity, int, error)
}

// API serves the routes.
type API struct {
	*rest.Base
	started     time.Time
	connections func() int
	ping        func(context.Context) error
	totals      TotalsStore
}

// New builds the routes on b; started is when the surface started,
// connections counts its gateway sockets, ping reaches the database and
// totals counts channels, messages and stored bytes (all for /admin/stats;
// ping may be nil).
func New(b *rest.Base, started time.Time, connections func() int, ping func(context.Context) error, totals TotalsStore) *API {
	return &API{Base: b, started: started, connections: connections, ping: ping, totals: totals}
}

// RequireAdmin refuses a caller who is not an instance admin.
func RequireAdmin(p *identity.Principal) error {
	if !p.Account.IsAdmin {
		return fault.New(fault.Forbidden, "Admin access required")
	}
	return nil
}

// maxPage bounds ?page= so that the offset (page-1)*perPage can neither
// overflow (a negative index panicked, and PostgreSQL refused a negative
// OFFSET) nor name rows no list has: any page past the last is empty.
const maxPage = 1_000_000

func paging(r *http.Request) (page, perPage int) {
	page, perPage = 1, 50
	if n, err := strconv.Atoi(r.URL.Query().Get("page")); err == nil && n > 1 {
		page = min(n, maxPage)
	}
	if n, err := strconv.Atoi(r.URL.Query().Get("per_page")); err == nil {
		perPage = min(max(n, 1), 100)
	}
	return page, perPage
}

// maxSearch bounds the search text of /admin/users and /admin/servers
// (characters): more than any username, email or server name holds. An
// unbounded one reached SQLite as a LIKE pattern past its 50,000-byte
// limit ("LIKE or GLOB pattern too complex"), a 500 there and a 200 on
// PostgreSQL.
const maxSearch = 256

// search is the request's search text, or a bad request past maxSearch.
func search(r *http.Request) (string, error) {
	q := r.URL.Query().Get("search")
	if utf8.RuneCountInString(q) > maxSearch {
		return "", rest.Invalid("search must be at most " + strconv.Itoa(maxSearch) + " characters")
	}
	return q, nil
}

func (s *API) Stats(w http.ResponseWriter, r *http.Request, p *identity.Principal) {
	if err := RequireAdmin(p); err != nil {
		s.Fail(w, err)
		return
	}
	ctx := r.Context()
	users, err := s.Identity.Store().CountAccounts(ctx, "")
	if err != nil {
		s.Fail(w, err)
		return
	}
	servers, err := s.Community.Store().CountCommunities(ctx)
	if err != nil {
		s.Fail(w, err)
		return
	}
	if s.totals == nil {
		s.Fail(w, rest.ErrNoUploads)
		return
	}
	channels, msgs, storage, err := s.totals.InstanceTotals(ctx)
	if err != nil {
		s.Fail(w, err)
		return
	}
	// Together's fields, all of them: its admin page formats each one.
	start := time.Now()
	if s.ping != nil {
		if err := s.ping(ctx); err != nil {
			s.Fail(w, err)
			return
		}
	}
	latency := float64(time.Since(start).Microseconds()) / 1000
	rest.WriteJSON(w, http.StatusOK, map[string]any{"total_users": users, "total_servers": servers,
		"total_messages": msgs, "total_channels": channels, "active_ws_connections": s.connections(),
		"uptime_secs": int64(time.Since(s.started).Seconds()), "db_latency_ms": latency, "storage_bytes": storage})
}

func (s *API) Settings(w http.ResponseWriter, r *http.Request, p *identity.Principal) {
	if err := RequireAdmin(p); err != nil {
		s.Fail(w, err)
		return
	}
	s.writeSettings(w, r)
}

// settingsUpdatedKey holds "<unix micros> <account id>" of the last change
// to the registration mode (the id empty before any).
const settingsUpdatedKey = "together.settings_updated"

// writeSettings answers Together's InstanceSettings row: its one id (1),
// the registration mode, and when and by whom it was last changed (before
// any change, the first time the settings were read, by nobody).
func (s *API) writeSettings(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	mode, err := s.RegistrationMode(ctx)
	if err != nil {
		s.Fail(w, err)
		return
	}
	meta, err := s.Identity.Store().SetInstanceValueOnce(ctx, settingsUpdatedKey, strconv.FormatInt(time.Now().UnixMicro(), 10)+" ")
	if err != nil {
		s.Fail(w, err)
		return
	}
	at, by, _ := strings.Cut(meta, " ")
	micros, _ := strconv.ParseInt(at, 10, 64)
	var updatedBy *string
	if by != "" {
		updatedBy = &by
	}
	rest.WriteJSON(w, http.StatusOK, map[string]any{"id": 1, "registration_mode": mode,
		"updated_at": time.UnixMicro(micros).UTC(), "updated_by": updatedBy})
}

func (s *API) UpdateSettings(w http.ResponseWriter, r *http.Request, p *identity.Principal) {
	if err := RequireAdmin(p); err != nil {
		s.Fail(w, err)
		return
	}
	var in struct {
		RegistrationMode *string `json:"registration_mode"`
	}
	if err := rest.Decode(r, &in, true); err != nil {
		s.Bad(w, err)
		return
	}
	if in.RegistrationMode != nil {
		switch *in.RegistrationMode {
		case "open", "invite_only", "closed":
		default:
			s.Fail(w, rest.Invalid("registration_mode must be open, invite_only or closed"))
			return
		}
		if err := s.Identity.Store().SetInstanceValue(r.Context(), registrationModeKey, *in.RegistrationMode); err != nil {
			s.Fail(w, err)
			return
		}
		stamp := strconv.FormatInt(time.Now().UnixMicro(), 10) + " " + p.Account.ID
		if err := s.Identity.Store().SetInstanceValue(r.Context(), settingsUpdatedKey, stamp); err != nil {
			s.Fail(w, err)
			return
		}
	}
	s.writeSettings(w, r)
}

type adminUserDTO struct {
	ID          string  `json:"id"`
	Username    string  `json:"username"`
	Email       *string `json:"email"`
	AvatarURL   *string `json:"avatar_url"`
	Status      string  `json:"status"`
	IsAdmin     bool    `json:"is_admin"`
	Disabled    bool    `json:"disabled"`
	DisabledAt  any     `json:"disabled_at"`
	CreatedAt   any     `json:"created_at"`
	ServerCount int     `json:"server_count"`
	// MessageCount is Together's: its admin page formats it, and fails
	// without it.
	MessageCount int64 `json:"message_count"`
}

func (s *API) Users(w http.ResponseWriter, r *http.Request, p *identity.Principal) {
	if err := RequireAdmin(p); err != nil {
		s.Fail(w, err)
		return
	}
	if s.totals == nil {
		s.Fail(w, errNoStore)
		return
	}
	page, perPage := paging(r)
	q := r.URL.Query()
	text, err := search(r)
	if err != nil {
		s.Fail(w, err)
		return
	}
	rows, total, err := s.totals.AdminAccounts(r.Context(), text, store.AdminSort(q.Get("sort_by")), perPage, (page-1)*perPage)
	if err != nil {
		s.Fail(w, err)
		return
	}
	users := make([]adminUserDTO, len(rows))
	for i, row := range rows {
		a := row.Account
		users[i] = adminUserDTO{ID: a.ID, Username: a.Username, Email: a.Email, AvatarURL: rest.OptString(a.AvatarURL),
			Status: row.Status, IsAdmin: a.IsAdmin, Disabled: a.Disabled(), DisabledAt: a.DisabledAt, CreatedAt: a.CreatedAt,
			ServerCount: row.Servers, MessageCount: row.Messages}
	}
	rest.WriteJSON(w, http.StatusOK, map[string]any{"users": users, "total": total, "page": page, "per_page": perPage})
}

// errNoStore answers the admin lists on a surface built without its store.
var errNoStore = fault.New(fault.Unavailable, "Admin lists are not available")

func (s *API) UpdateUser(w http.ResponseWriter, r *http.Request, p *identity.Principal) {
	if err := RequireAdmin(p); err != nil {
		s.Fail(w, err)
		return
	}
	id, err := rest.PathID(r, "user_id", "User not found")
	if err != nil {
		s.Fail(w, err)
		return
	}
	var in struct {
		IsAdmin  *bool `json:"is_admin"`
		Disabled *bool `json:"disabled"`
	}
	if err := rest.Decode(r, &in, true); err != nil {
		s.Bad(w, err)
		return
	}
	if id == p.Account.ID && in.IsAdmin != nil && !*in.IsAdmin {
		s.Fail(w, rest.Invalid("Cannot demote yourself from admin"))
		return
	}
	if id == p.Account.ID && in.Disabled != nil && *in.Disabled {
		s.Fail(w, rest.Invalid("Cannot disable yourself"))
		return
	}
	err = s.Identity.UpdateAdminState(r.Context(), id, in.IsAdmin, in.Disabled)
	if errors.Is(err, fault.NotFound) {
		err = fault.New(fault.NotFound, "User not found")
	}
	if err != nil {
		s.Fail(w, err)
		return
	}
	// Together answers 200 with no body, which its own web client's
	// request() feeds to res.json() (it spares only 204), so its admin
	// page reported a failure for every change that worked. Same status,
	// a body it can read.
	rest.WriteJSON(w, http.StatusOK, map[string]string{"message": "User updated"})
}

// DeleteUser is Together's DELETE /admin/users/:user_id: the account
// goes, its messages stay without an author (MessageDto author_id null).
func (s *API) DeleteUser(w http.ResponseWriter, r *http.Request, p *identity.Principal) {
	if err := RequireAdmin(p); err != nil {
		s.Fail(w, err)
		return
	}
	id, err := rest.PathID(r, "user_id", "User not found")
	if err != nil {
		s.Fail(w, err)
		return
	}
	if id == p.Account.ID {
		s.Fail(w, rest.Invalid("Cannot delete yourself"))
		return
	}
	err = s.Identity.DeleteAccount(r.Context(), id)
	if errors.Is(err, fault.NotFound) {
		err = fault.New(fault.NotFound, "User not found")
	}
	if err != nil {
		s.Fail(w, err)
		return
	}
	rest.NoContent(w)
}

func (s *API) Servers(w http.ResponseWriter, r *http.Request, p *identity.Principal) {
	if err := RequireAdmin(p); err != nil {
		s.Fail(w, err)
		return
	}
	if s.totals == nil {
		s.Fail(w, errNoStore)
		return
	}
	page, perPage := paging(r)
	text, err := search(r)
	if err != nil {
		s.Fail(w, err)
		return
	}
	rows, total, err := s.totals.AdminCommunities(r.Context(), text, perPage, (page-1)*perPage)
	if err != nil {
		s.Fail(w, err)
		return
	}
	out := make([]map[string]any, len(rows))
	for i, row := range rows {
		c := row.Community
		out[i] = map[string]any{"id": c.ID, "name": c.Name, "owner_id": c.OwnerID, "owner_username": row.OwnerUsername, "icon_url": c.IconURL,
			"is_public": c.IsPublic, "created_at": c.CreatedAt, "member_count": c.MemberCount, "channel_count": row.Channels,
			"message_count": row.Messages}
	}
	rest.WriteJSON(w, http.StatusOK, map[string]any{"servers": out, "total": total, "page": page, "per_page": perPage})
}

func (s *API) DeleteServer(w http.ResponseWriter, r *http.Request, p *identity.Principal) {
	if err := RequireAdmin(p); err != nil {
		s.Fail(w, err)
		return
	}
	id, err := rest.PathID(r, "server_id", "Server not found")
	if err != nil {
		s.Fail(w, err)
		return
	}
	if err := s.Community.Delete(r.Context(), p.Account.ID, id, true); err != nil {
		s.Fail(w, err)
		return
	}
	rest.NoContent(w)
}

const registrationModeKey = "together.registration_mode"

// RegistrationMode is open, invite_only or closed (default open).
func (s *API) RegistrationMode(ctx context.Context) (string, error) {
	v, err := s.Identity.Store().InstanceValue(ctx, registrationModeKey)
	if errors.Is(err, fault.NotFound) || (err == nil && v == "") {
		return "open", nil
	}
	return v, err
}

func (s *API) GetRegistrationMode(w http.ResponseWriter, r *http.Request, _ *identity.Principal) {
	mode, err := s.RegistrationMode(r.Context())
	if err != nil {
		s.Fail(w, err)
		return
	}
	rest.WriteJSON(w, http.StatusOK, map[string]string{"registration_mode": mode})
}
