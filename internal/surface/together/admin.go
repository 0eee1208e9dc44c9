package together

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"strings"

	"github.com/hearth-community/hearth/internal/fault"
	"github.com/hearth-community/hearth/internal/identity"
)

func requireAdmin(p *identity.Principal) error {
	if !p.Account.IsAdmin {
		return fault.New(fault.Forbidden, "Admin access required")
	}
	return nil
}

func paging(r *http.Request) (page, perPage int) {
	page, perPage = 1, 50
	if n, err := strconv.Atoi(r.URL.Query().Get("page")); err == nil && n > 1 {
		page = n
	}
	if n, err := strconv.Atoi(r.URL.Query().Get("per_page")); err == nil {
		perPage = min(max(n, 1), 100)
	}
	return page, perPage
}

func (s *Surface) adminStats(w http.ResponseWriter, r *http.Request, p *identity.Principal) {
	if err := requireAdmin(p); err != nil {
		s.fail(w, err)
		return
	}
	ctx := r.Context()
	users, err := s.d.Identity.Store().CountAccounts(ctx, "")
	if err != nil {
		s.fail(w, err)
		return
	}
	servers, err := s.d.Community.Store().CountCommunities(ctx)
	if err != nil {
		s.fail(w, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"total_users": users, "total_servers": servers,
		"active_ws_connections": s.Connections(), "uptime_secs": int64(s.sinceStart().Seconds())})
}

func (s *Surface) adminSettings(w http.ResponseWriter, r *http.Request, p *identity.Principal) {
	if err := requireAdmin(p); err != nil {
		s.fail(w, err)
		return
	}
	s.getRegistrationMode(w, r, p)
}

func (s *Surface) adminUpdateSettings(w http.ResponseWriter, r *http.Request, p *identity.Principal) {
	if err := requireAdmin(p); err != nil {
		s.fail(w, err)
		return
	}
	var in struct {
		RegistrationMode *string `json:"registration_mode"`
	}
	if err := decode(r, &in, false); err != nil {
		s.bad(w, err)
		return
	}
	if in.RegistrationMode != nil {
		switch *in.RegistrationMode {
		case "open", "invite_only", "closed":
		default:
			s.fail(w, invalid("registration_mode must be open, invite_only or closed"))
			return
		}
		if err := s.d.Identity.Store().SetInstanceValue(r.Context(), registrationModeKey, *in.RegistrationMode); err != nil {
			s.fail(w, err)
			return
		}
	}
	s.getRegistrationMode(w, r, p)
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
}

func (s *Surface) adminUsers(w http.ResponseWriter, r *http.Request, p *identity.Principal) {
	if err := requireAdmin(p); err != nil {
		s.fail(w, err)
		return
	}
	ctx := r.Context()
	page, perPage := paging(r)
	search := strings.ToLower(r.URL.Query().Get("search"))
	all, err := s.d.Identity.Store().ListAccounts(ctx, identity.Registered, 10000, 0)
	if err != nil {
		s.fail(w, err)
		return
	}
	var match []*identity.Account
	for _, a := range all {
		if search == "" || strings.Contains(strings.ToLower(a.Username), search) || (a.Email != nil && strings.Contains(*a.Email, search)) {
			match = append(match, a)
		}
	}
	users := []adminUserDTO{}
	for i := (page - 1) * perPage; i < len(match) && i < page*perPage; i++ {
		a := match[i]
		prof, err := s.d.Community.Profile(ctx, a.ID)
		if err != nil {
			s.fail(w, err)
			return
		}
		cs, err := s.d.Community.Store().CommunitiesOf(ctx, a.ID)
		if err != nil {
			s.fail(w, err)
			return
		}
		users = append(users, adminUserDTO{ID: a.ID, Username: a.Username, Email: a.Email, AvatarURL: optString(a.AvatarURL),
			Status: prof.Status, IsAdmin: a.IsAdmin, Disabled: a.Disabled(), DisabledAt: a.DisabledAt, CreatedAt: a.CreatedAt,
			ServerCount: len(cs)})
	}
	writeJSON(w, http.StatusOK, map[string]any{"users": users, "total": len(match), "page": page, "per_page": perPage})
}

func (s *Surface) adminUpdateUser(w http.ResponseWriter, r *http.Request, p *identity.Principal) {
	if err := requireAdmin(p); err != nil {
		s.fail(w, err)
		return
	}
	id, err := pathID(r, "user_id", "User not found")
	if err != nil {
		s.fail(w, err)
		return
	}
	var in struct {
		IsAdmin  *bool `json:"is_admin"`
		Disabled *bool `json:"disabled"`
	}
	if err := decode(r, &in, false); err != nil {
		s.bad(w, err)
		return
	}
	if id == p.Account.ID && in.IsAdmin != nil && !*in.IsAdmin {
		s.fail(w, invalid("Cannot demote yourself from admin"))
		return
	}
	if id == p.Account.ID && in.Disabled != nil && *in.Disabled {
		s.fail(w, invalid("Cannot disable yourself"))
		return
	}
	ctx := r.Context()
	if (in.IsAdmin != nil && !*in.IsAdmin) || (in.Disabled != nil && *in.Disabled) {
		last, err := s.d.Identity.RemovesLastAdmin(ctx, id)
		if err == nil && last {
			err = identity.ErrLastAdmin
		}
		if err != nil {
			s.fail(w, err)
			return
		}
	}
	if err := s.applyAdminUpdate(ctx, id, in.IsAdmin, in.Disabled); err != nil {
		s.fail(w, err)
		return
	}
	w.WriteHeader(http.StatusOK)
}

func (s *Surface) applyAdminUpdate(ctx context.Context, id string, isAdmin, disabled *bool) error {
	a, err := s.d.Identity.Account(ctx, id)
	if errors.Is(err, fault.NotFound) {
		return fault.New(fault.NotFound, "User not found")
	}
	if err != nil {
		return err
	}
	if isAdmin != nil && a.IsAdmin != *isAdmin {
		a.IsAdmin = *isAdmin
		if err := s.d.Identity.UpdateAccount(ctx, a); err != nil {
			return err
		}
	}
	if disabled != nil {
		if _, err := s.d.Identity.SetDisabled(ctx, id, *disabled); err != nil {
			return err
		}
	}
	return nil
}

// adminDeleteUser is Together's DELETE /admin/users/:user_id: the account
// goes, its messages stay without an author (MessageDto author_id null).
func (s *Surface) adminDeleteUser(w http.ResponseWriter, r *http.Request, p *identity.Principal) {
	if err := requireAdmin(p); err != nil {
		s.fail(w, err)
		return
	}
	id, err := pathID(r, "user_id", "User not found")
	if err != nil {
		s.fail(w, err)
		return
	}
	if id == p.Account.ID {
		s.fail(w, invalid("Cannot delete yourself"))
		return
	}
	err = s.d.Identity.DeleteAccount(r.Context(), id)
	if errors.Is(err, fault.NotFound) {
		err = fault.New(fault.NotFound, "User not found")
	}
	if err != nil {
		s.fail(w, err)
		return
	}
	noContent(w)
}

func (s *Surface) adminServers(w http.ResponseWriter, r *http.Request, p *identity.Principal) {
	if err := requireAdmin(p); err != nil {
		s.fail(w, err)
		return
	}
	ctx := r.Context()
	page, perPage := paging(r)
	cs, err := s.d.Community.Store().AllCommunities(ctx, perPage, (page-1)*perPage)
	if err != nil {
		s.fail(w, err)
		return
	}
	total, err := s.d.Community.Store().CountCommunities(ctx)
	if err != nil {
		s.fail(w, err)
		return
	}
	out := make([]map[string]any, len(cs))
	for i, c := range cs {
		owner := ""
		if a, err := s.d.Identity.Account(ctx, c.OwnerID); err == nil {
			owner = a.Username
		}
		chans, _ := s.d.Community.Store().Channels(ctx, c.ID)
		out[i] = map[string]any{"id": c.ID, "name": c.Name, "owner_id": c.OwnerID, "owner_username": owner, "icon_url": c.IconURL,
			"is_public": c.IsPublic, "created_at": c.CreatedAt, "member_count": c.MemberCount, "channel_count": len(chans)}
	}
	writeJSON(w, http.StatusOK, map[string]any{"servers": out, "total": total, "page": page, "per_page": perPage})
}

func (s *Surface) adminDeleteServer(w http.ResponseWriter, r *http.Request, p *identity.Principal) {
	if err := requireAdmin(p); err != nil {
		s.fail(w, err)
		return
	}
	id, err := pathID(r, "server_id", "Server not found")
	if err != nil {
		s.fail(w, err)
		return
	}
	if err := s.d.Community.Delete(r.Context(), p.Account.ID, id, true); err != nil {
		s.fail(w, err)
		return
	}
	noContent(w)
}
