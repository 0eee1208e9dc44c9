package ott

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"

	"github.com/hearth-community/hearth/internal/fault"
	"github.com/hearth-community/hearth/internal/httpserver"
	"github.com/hearth-community/hearth/internal/identity"
	"github.com/hearth-community/hearth/internal/watch"
)

// registerDev adds OpenTogetherTube's development routes, which its
// Playwright suite uses to set up state. They sit behind the token
// middleware as in OTT, and exist only when Deps.DevRoutes is set.
func (s *Surface) registerDev(h *httpserver.Server) {
	h.Handle("POST /api/dev/reset-rate-limit", s.auth(s.devResetRateLimit))
	h.Handle("POST /api/dev/reset-rate-limit/user", s.auth(s.devResetLoginLimit))
	h.Handle("POST /api/dev/room/{name}/add-fake-user", s.auth(s.devAddFakeUser))
	h.Handle("POST /api/dev/room/{name}/force-disconnect", s.auth(s.devForceDisconnect))
	h.Handle("POST /api/dev/room/{name}/seed-prev-queue", s.auth(s.devSeedPrevQueue))
	h.Handle("POST /api/dev/set-admin-api-key", s.auth(s.devSetAPIKey))
	h.Handle("POST /api/dev/user/create-social", s.auth(s.devCreateSocial))
	h.Handle("POST /api/dev/user/force-login", s.auth(s.devForceLogin))
	h.Handle("POST /api/dev/user/set-discord-link", s.auth(s.devSetDiscordLink))
}

// devResetRateLimit empties the caller's rate-limit bucket.
func (s *Surface) devResetRateLimit(w http.ResponseWriter, r *http.Request) {
	s.d.Limiter.Forget(s.limitKey(r))
	s.log.Warn("development route: rate limit reset", "ip", s.ip(r))
	writeOK(w, http.StatusOK, nil)
}

// devResetLoginLimit empties the caller's address bucket of identity's
// sign-in limiter (accounts' buckets stay as they are).
func (s *Surface) devResetLoginLimit(w http.ResponseWriter, r *http.Request) {
	if err := s.d.Identity.ForgetSignInAddr(r.Context(), s.ip(r)); err != nil {
		s.writeError(w, err)
		return
	}
	writeOK(w, http.StatusOK, nil)
}

func randomSuffix() string {
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// unusablePassword is a password nobody knows: accounts made for tests
// that sign in through force-login, as OTT's Discord-only accounts do.
func unusablePassword() string { return randomSuffix() + randomSuffix() + randomSuffix() }

// devAddFakeUser joins a user with no socket to the room: a guest, or a
// new registered account when {register:true}.
func (s *Surface) devAddFakeUser(w http.ResponseWriter, r *http.Request) {
	var body struct {
		Register bool `json:"register"`
	}
	if err := decode(r, &body); err != nil {
		s.writeError(w, err)
		return
	}
	room, err := s.d.Watch.Get(r.Context(), r.PathValue("name"))
	if errors.Is(err, watch.ErrRoomNotFound) {
		httpserver.WriteJSON(w, http.StatusOK, map[string]any{"success": false,
			"error": errBody{Name: "RoomNotFound", Message: "Room not found"}})
		return
	}
	if err != nil {
		s.writeError(w, err)
		return
	}
	var a *identity.Account
	if body.Register {
		a, err = s.d.Identity.Register(r.Context(), identity.RegisterInput{Username: "fake-" + randomSuffix(), Password: unusablePassword()})
	} else {
		a, err = s.d.Identity.CreateGuest(r.Context(), "fake_user")
	}
	if err != nil {
		s.writeError(w, err)
		return
	}
	who := watch.Actor{AccountID: a.ID, SessionID: "ott-fake-" + identity.NewID(), Name: a.Name(), LoggedIn: body.Register}
	if err := room.Join(who, identity.NewID()); err != nil {
		httpserver.WriteJSON(w, http.StatusOK, map[string]any{"success": false, "error": errBody{Name: "OttException", Message: err.Error()}})
		return
	}
	writeOK(w, http.StatusOK, nil)
}

// devForceDisconnect closes the caller's socket in the room with 1000.
func (s *Surface) devForceDisconnect(w http.ResponseWriter, r *http.Request) {
	room, client, ok := s.connected(w, r)
	if !ok {
		return
	}
	s.d.Watch.Disconnect(room, client)
	writeOK(w, http.StatusOK, nil)
}

// devSeedPrevQueue stores count fake videos as the room's previous queue.
func (s *Surface) devSeedPrevQueue(w http.ResponseWriter, r *http.Request) {
	var body struct {
		Count *int `json:"count"`
	}
	if err := decode(r, &body); err != nil {
		s.writeError(w, err)
		return
	}
	n := 1
	if body.Count != nil {
		n = *body.Count
	}
	if n < 0 || n > 1000 {
		s.writeError(w, watch.BadArgument("count", "must be between 0 and 1000"))
		return
	}
	prev := make([]watch.Video, 0, n)
	for i := range n {
		prev = append(prev, watch.Video{Service: "direct", ID: fmt.Sprintf("fake-video-%d", i), Title: fmt.Sprintf("Fake Video %d", i+1),
			Description: fmt.Sprintf("Fake video %d for testing the restore queue dialog", i+1), Length: 100, Mime: "video/mp4"})
	}
	err := s.d.Watch.SeedPrevQueue(r.Context(), r.PathValue("name"), prev)
	if err != nil && !errors.Is(err, watch.ErrRoomNotFound) {
		s.writeError(w, err)
		return
	}
	httpserver.WriteJSON(w, http.StatusOK, map[string]any{"success": err == nil})
}

// devSetAPIKey replaces the admin API key on this node.
func (s *Surface) devSetAPIKey(w http.ResponseWriter, r *http.Request) {
	var body struct {
		NewKey string `json:"newkey"`
	}
	if err := decode(r, &body); err != nil {
		s.writeError(w, err)
		return
	}
	s.apiKey.Store(&body.NewKey)
	writeOK(w, http.StatusOK, nil)
}

// devCreateSocial creates a registered account without a password, linked
// to the Discord id given (or a random one): OTT's Discord-only account.
func (s *Surface) devCreateSocial(w http.ResponseWriter, r *http.Request) {
	var body struct {
		Username  string `json:"username"`
		DiscordID string `json:"discordId"`
	}
	if err := decode(r, &body); err != nil {
		s.writeError(w, err)
		return
	}
	a, err := s.d.Identity.Register(r.Context(), identity.RegisterInput{Username: body.Username, NoPassword: true})
	if err != nil {
		if fault.KindOf(err) == fault.Conflict {
			s.writeError(w, ottErr(http.StatusBadRequest, "AlreadyInUse", "Username is already in use."))
			return
		}
		s.writeError(w, err)
		return
	}
	if !s.devLinkDiscord(w, r, a, body.DiscordID) {
		return
	}
	writeOK(w, http.StatusOK, map[string]any{"user": map[string]any{"id": a.ID, "username": a.Username}})
}

func (s *Surface) devUser(w http.ResponseWriter, r *http.Request) (*identity.Account, bool) {
	var body struct {
		Username string `json:"username"`
	}
	if err := decode(r, &body); err != nil {
		s.writeError(w, err)
		return nil, false
	}
	a, err := s.d.Identity.AccountByUsername(r.Context(), body.Username)
	if err == nil && a.Kind != identity.Registered {
		err = fault.NotFound
	}
	if errors.Is(err, fault.NotFound) || body.Username == "" {
		writeFail(w, http.StatusNotFound, errBody{Name: "UserNotFound", Message: "User not found"})
		return nil, false
	}
	if err != nil {
		s.writeError(w, err)
		return nil, false
	}
	return a, true
}

// devForceLogin signs the caller's token in as the named account.
func (s *Surface) devForceLogin(w http.ResponseWriter, r *http.Request) {
	a, ok := s.devUser(w, r)
	if !ok {
		return
	}
	p := principalOf(r)
	if p == nil {
		s.writeError(w, ottErr(http.StatusBadRequest, "MissingToken", "Missing auth token. Get a token from /api/auth/grant first."))
		return
	}
	if err := s.setAccount(r.Context(), p, a); err != nil {
		s.writeError(w, err)
		return
	}
	s.resyncSession(p)
	writeOK(w, http.StatusOK, nil)
}

// devSetDiscordLink links the named account to the Discord id given (or a
// random one).
func (s *Surface) devSetDiscordLink(w http.ResponseWriter, r *http.Request) {
	var body struct {
		Username  string `json:"username"`
		DiscordID string `json:"discordId"`
	}
	if err := decode(r, &body); err != nil {
		s.writeError(w, err)
		return
	}
	a, err := s.d.Identity.AccountByUsername(r.Context(), body.Username)
	if err == nil && a.Kind != identity.Registered {
		err = fault.NotFound
	}
	if errors.Is(err, fault.NotFound) || body.Username == "" {
		writeFail(w, http.StatusNotFound, errBody{Name: "UserNotFound", Message: "User not found"})
		return
	}
	if err != nil {
		s.writeError(w, err)
		return
	}
	if !s.devLinkDiscord(w, r, a, body.DiscordID) {
		return
	}
	writeOK(w, http.StatusOK, nil)
}

func (s *Surface) devLinkDiscord(w http.ResponseWriter, r *http.Request, a *identity.Account, discordID string) bool {
	if s.d.Links == nil {
		writeFail(w, http.StatusForbidden, errBody{Name: "FeatureDisabledException", Message: msgDiscordDisabled})
		return false
	}
	if discordID == "" {
		discordID = randomSuffix()
	}
	if err := s.d.Links.LinkAccount(r.Context(), discordProvider, discordID, a.ID, s.now()); err != nil {
		if errors.Is(err, fault.Conflict) {
			s.writeError(w, ottErr(http.StatusBadRequest, "AlreadyInUse", msgDiscordTaken))
			return false
		}
		s.writeError(w, err)
		return false
	}
	return true
}
