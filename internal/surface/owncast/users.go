package owncast

import (
	"net/http"
	"strconv"

	"github.com/hearth-community/hearth/internal/fault"
	"github.com/hearth-community/hearth/internal/httpserver"
	"github.com/hearth-community/hearth/internal/stagechat"
)

// registerUsers adds Owncast 0.2's user management: the paged user list
// and deletion (disable/enable and moderators are the chat/users routes).
func (s *Surface) registerUsers(h *httpserver.Server) {
	s.admin(h, "GET /api/admin/users", s.handleUsers)
	s.admin(h, "POST /api/admin/users/delete", s.handleDeleteUser)
}

// handleUsers is GET /api/admin/users?offset&limit&search&status&sort:
// {total, results[User]}, newest first unless sort=asc.
func (s *Surface) handleUsers(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	num := func(k string) (int, bool) {
		v := q.Get(k)
		if v == "" {
			return 0, true
		}
		n, err := strconv.Atoi(v)
		return n, err == nil && n >= 0
	}
	offset, ok1 := num("offset")
	limit, ok2 := num("limit")
	if !ok1 || !ok2 {
		writeError(w, fault.New(fault.Invalid, "offset and limit must be non-negative integers"))
		return
	}
	var oldest bool
	switch q.Get("sort") {
	case "", "desc":
	case "asc":
		oldest = true
	default:
		writeError(w, fault.New(fault.Invalid, "sort must be asc or desc"))
		return
	}
	us, total, err := s.d.Chat.ListUsers(r.Context(), stagechat.UserQuery{Offset: offset, Limit: limit,
		Search: q.Get("search"), Status: q.Get("status"), Oldest: oldest})
	if err != nil {
		writeError(w, err)
		return
	}
	httpserver.WriteJSON(w, http.StatusOK, map[string]any{"total": total, "results": encodeUsers(us)})
}

// handleDeleteUser is POST /api/admin/users/delete {userId}. An unknown or
// missing id is 400, as Owncast.
func (s *Surface) handleDeleteUser(w http.ResponseWriter, r *http.Request) {
	var req struct {
		UserID string `json:"userId"`
	}
	if !readJSON(w, r, &req) {
		return
	}
	err := s.d.Chat.DeleteUser(r.Context(), req.UserID)
	if fault.KindOf(err) == fault.NotFound {
		err = fault.New(fault.Invalid, "user not found")
	}
	if err != nil {
		writeError(w, err)
		return
	}
	writeResult(w, http.StatusOK, true, "user deleted")
}
