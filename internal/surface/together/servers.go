package together

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"time"

	"github.com/hearth-community/hearth/internal/community"
	"github.com/hearth-community/hearth/internal/fault"
	"github.com/hearth-community/hearth/internal/identity"
)

func (s *Surface) createServer(w http.ResponseWriter, r *http.Request, p *identity.Principal) {
	var in struct {
		Name          *string `json:"name"`
		IconURL       *string `json:"icon_url"`
		IsPublic      *bool   `json:"is_public"`
		RequireInvite *bool   `json:"require_invite"`
		TemplateID    *string `json:"template_id"`
	}
	if err := decode(r, &in, false); err != nil {
		s.bad(w, err)
		return
	}
	if in.Name == nil {
		writeError(w, http.StatusUnprocessableEntity, "name is required")
		return
	}
	ci := community.CreateInput{Name: *in.Name, IconURL: emptyToNil(in.IconURL)}
	if in.IsPublic != nil {
		ci.IsPublic = *in.IsPublic
	}
	if in.RequireInvite != nil {
		ci.RequireInvite = *in.RequireInvite
	}
	if in.TemplateID != nil {
		t := templateByID(*in.TemplateID)
		if t == nil {
			s.fail(w, fault.New(fault.Invalid, "Template not found")) // 400, as Together
			return
		}
		for _, ch := range t.Channels {
			cat := ch.Category
			ci.Channels = append(ci.Channels, &community.Channel{Name: ch.Name, Kind: ch.Type, Category: &cat, Position: ch.Position})
		}
	}
	c, err := s.d.Community.Create(r.Context(), p.Account.ID, ci)
	if err != nil {
		s.fail(w, err)
		return
	}
	s.audit(r, c.ID, p, "server_create", "server", c.ID, map[string]any{"name": c.Name})
	writeJSON(w, http.StatusCreated, toServer(c))
}

func toServers(cs []*community.Community) []serverDTO {
	return mapAll(cs, toServer)
}

func (s *Surface) listServers(w http.ResponseWriter, r *http.Request, p *identity.Principal) {
	cs, err := s.d.Community.Store().CommunitiesOf(r.Context(), p.Account.ID)
	if err != nil {
		s.fail(w, err)
		return
	}
	writeJSON(w, http.StatusOK, toServers(cs))
}

func (s *Surface) browseServers(w http.ResponseWriter, r *http.Request, _ *identity.Principal) {
	cs, err := s.d.Community.Store().PublicCommunities(r.Context())
	if err != nil {
		s.fail(w, err)
		return
	}
	writeJSON(w, http.StatusOK, toServers(cs))
}

func (s *Surface) getServer(w http.ResponseWriter, r *http.Request, p *identity.Principal, id string) {
	a, err := s.d.Community.Access(r.Context(), p.Account.ID, id)
	if err != nil {
		s.fail(w, err)
		return
	}
	writeJSON(w, http.StatusOK, toServer(a.Community))
}

func (s *Surface) updateServer(w http.ResponseWriter, r *http.Request, p *identity.Principal, id string) {
	var in struct {
		Name          *string `json:"name"`
		IconURL       *string `json:"icon_url"`
		IsPublic      *bool   `json:"is_public"`
		RequireInvite *bool   `json:"require_invite"`
	}
	if err := decode(r, &in, false); err != nil {
		s.bad(w, err)
		return
	}
	c, err := s.d.Community.Update(r.Context(), p.Account.ID, id, community.UpdateInput{Name: in.Name, IconURL: in.IconURL,
		IsPublic: in.IsPublic, RequireInvite: in.RequireInvite})
	if err != nil {
		s.fail(w, err)
		return
	}
	s.audit(r, id, p, "server_update", "server", id, map[string]any{"name": c.Name, "icon_url": c.IconURL, "is_public": c.IsPublic})
	writeJSON(w, http.StatusOK, toServer(c))
}

func (s *Surface) deleteServer(w http.ResponseWriter, r *http.Request, p *identity.Principal, id string) {
	if err := s.d.Community.Delete(r.Context(), p.Account.ID, id, false); err != nil {
		s.fail(w, err)
		return
	}
	noContent(w)
}

func (s *Surface) joinServer(w http.ResponseWriter, r *http.Request, p *identity.Principal, id string) {
	if _, err := s.d.Community.Join(r.Context(), p.Account.ID, id); err != nil {
		s.fail(w, err)
		return
	}
	s.fireWebhooks(r.Context(), id, "member.joined", map[string]string{"user_id": p.Account.ID, "username": p.Account.Username})
	writeJSON(w, http.StatusCreated, map[string]string{"message": "Joined server"})
}

func (s *Surface) leaveServer(w http.ResponseWriter, r *http.Request, p *identity.Principal, id string) {
	if err := s.d.Community.Leave(r.Context(), p.Account.ID, id); err != nil {
		s.fail(w, err)
		return
	}
	s.fireWebhooks(r.Context(), id, "member.left", map[string]string{"user_id": p.Account.ID, "username": p.Account.Username})
	noContent(w)
}

func (s *Surface) members(ctx context.Context, actor, id string) ([]memberDTO, error) {
	ms, err := s.d.Community.Members(ctx, actor, id)
	if err != nil {
		return nil, err
	}
	roles, err := s.d.Community.Store().Roles(ctx, id)
	if err != nil {
		return nil, err
	}
	byID := map[string]*community.Role{}
	for _, r := range roles {
		byID[r.ID] = r
	}
	out := make([]memberDTO, len(ms))
	for i, m := range ms {
		d := memberDTO{UserID: m.AccountID, Username: m.Username, AvatarURL: optString(m.AvatarURL), Status: m.Profile.Status,
			CustomStatus: m.Profile.CustomStatus, Activity: m.Profile.Activity, Nickname: m.Nickname, JoinedAt: m.JoinedAt, Roles: []memberRoleDTO{}}
		for _, rid := range m.RoleIDs {
			if r := byID[rid]; r != nil {
				d.Roles = append(d.Roles, memberRoleDTO{ID: r.ID, Name: r.Name, Color: r.Color, Position: r.Position})
			}
		}
		out[i] = d
	}
	return out, nil
}

func (s *Surface) listMembers(w http.ResponseWriter, r *http.Request, p *identity.Principal, id string) {
	ctx := r.Context()
	if _, err := s.d.Community.Access(ctx, p.Account.ID, id); err != nil {
		s.fail(w, err)
		return
	}
	if body := s.cachedMembers(id); body != nil {
		writeRawJSON(w, body)
		return
	}
	gen := s.memberGen()
	out, err := s.members(ctx, p.Account.ID, id)
	if err != nil {
		s.fail(w, err)
		return
	}
	body, err := json.Marshal(out)
	if err != nil {
		s.fail(w, err)
		return
	}
	body = append(body, '\n') // as writeJSON's encoder ends it
	if len(out) >= memberCacheMin {
		s.cacheMembers(id, gen, body)
	}
	writeRawJSON(w, body)
}

type channelInput struct {
	Name     *string `json:"name"`
	Type     *string `json:"type"`
	Topic    *string `json:"topic"`
	Category *string `json:"category"`
	Position *int    `json:"position"`
	// StageID (Hearth extension, instance admins, stage channels):
	// "default" shows the instance's default stage and its chat; null the
	// channel's own stage.
	StageID stageIDField `json:"stage_id"`
}

func (s *Surface) createChannel(w http.ResponseWriter, r *http.Request, p *identity.Principal, id string) {
	var in channelInput
	if err := decode(r, &in, false); err != nil {
		s.bad(w, err)
		return
	}
	if in.Name == nil || in.Type == nil {
		writeError(w, http.StatusUnprocessableEntity, "name and type are required")
		return
	}
	if !community.ValidKind(*in.Type) {
		// Together's type is an enum its JSON extractor refuses: 422.
		writeError(w, http.StatusUnprocessableEntity, "type must be one of text, voice, watch, stage")
		return
	}
	stage, err := s.stageRef(p, in.StageID, *in.Type)
	if err != nil {
		s.fail(w, err)
		return
	}
	ch, err := s.d.Community.CreateChannel(r.Context(), p.Account.ID, id, community.ChannelInput{Name: in.Name, Kind: *in.Type,
		Topic: in.Topic, Category: in.Category})
	if err != nil {
		s.fail(w, err)
		return
	}
	if stage != nil {
		if err := s.d.StageChats.BindStage(r.Context(), p, ch.ID, *stage); err != nil {
			s.fail(w, err)
			return
		}
	}
	s.audit(r, id, p, "channel_create", "channel", ch.ID, map[string]any{"name": ch.Name, "type": ch.Kind})
	writeJSON(w, http.StatusCreated, toChannel(ch))
}

func (s *Surface) listChannels(w http.ResponseWriter, r *http.Request, p *identity.Principal, id string) {
	chans, err := s.d.Community.Channels(r.Context(), p.Account.ID, id)
	if err != nil {
		s.fail(w, err)
		return
	}
	out := mapAll(chans, toChannel)
	writeJSON(w, http.StatusOK, out)
}

func (s *Surface) getChannel(w http.ResponseWriter, r *http.Request, p *identity.Principal, id string) {
	ca, err := s.d.Community.Channel(r.Context(), p.Account.ID, id, r.PathValue("channel_id"))
	if err != nil {
		s.fail(w, err)
		return
	}
	writeJSON(w, http.StatusOK, toChannel(ca.Channel))
}

func (s *Surface) updateChannel(w http.ResponseWriter, r *http.Request, p *identity.Principal, id string) {
	var in channelInput
	if err := decode(r, &in, false); err != nil {
		s.bad(w, err)
		return
	}
	// stage_id is refused before the update is written, on the kind of
	// the channel it names (an unknown one is UpdateChannel's to refuse).
	kind := community.KindStage
	if in.StageID.set {
		if ch, err := s.d.Community.Store().Channel(r.Context(), r.PathValue("channel_id")); err == nil && ch.CommunityID == id {
			kind = ch.Kind
		}
	}
	stage, err := s.stageRef(p, in.StageID, kind)
	if err != nil {
		s.fail(w, err)
		return
	}
	ch, err := s.d.Community.UpdateChannel(r.Context(), p.Account.ID, id, r.PathValue("channel_id"),
		community.ChannelInput{Name: in.Name, Topic: in.Topic, Category: in.Category, Position: in.Position})
	if err != nil {
		s.fail(w, err)
		return
	}
	if stage != nil {
		if err := s.d.StageChats.BindStage(r.Context(), p, ch.ID, *stage); err != nil {
			s.fail(w, err)
			return
		}
	}
	s.audit(r, id, p, "channel_update", "channel", ch.ID, map[string]any{"name": ch.Name, "topic": ch.Topic,
		"category": ch.Category, "position": ch.Position})
	writeJSON(w, http.StatusOK, toChannel(ch))
}

func (s *Surface) deleteChannel(w http.ResponseWriter, r *http.Request, p *identity.Principal, id string) {
	details := map[string]any{}
	if ch, err := s.d.Community.Store().Channel(r.Context(), r.PathValue("channel_id")); err == nil && ch.CommunityID == id {
		details["name"] = ch.Name
	}
	if err := s.d.Community.DeleteChannel(r.Context(), p.Account.ID, id, r.PathValue("channel_id")); err != nil {
		s.fail(w, err)
		return
	}
	s.audit(r, id, p, "channel_delete", "channel", r.PathValue("channel_id"), details)
	noContent(w)
}

// roleInput is Together's CreateRoleRequest and UpdateRoleRequest, both of
// which deny unknown fields.
type roleInput struct {
	Name        *string `json:"name"`
	Permissions *int64  `json:"permissions"`
	Color       *string `json:"color"`
	Position    *int    `json:"position"`
}

func (s *Surface) listRoles(w http.ResponseWriter, r *http.Request, p *identity.Principal, id string) {
	roles, err := s.d.Community.Roles(r.Context(), p.Account.ID, id)
	if err != nil {
		s.fail(w, err)
		return
	}
	out := mapAll(roles, toRole)
	writeJSON(w, http.StatusOK, out)
}

func (s *Surface) createRole(w http.ResponseWriter, r *http.Request, p *identity.Principal, id string) {
	var in roleInput
	if err := decode(r, &in, true); err != nil {
		s.bad(w, err)
		return
	}
	if in.Name == nil {
		writeError(w, http.StatusUnprocessableEntity, "name is required")
		return
	}
	ro, err := s.d.Community.CreateRole(r.Context(), p.Account.ID, id, community.RoleInput(in))
	if err != nil {
		s.fail(w, err)
		return
	}
	s.audit(r, id, p, "role_create", "role", ro.ID, map[string]any{"name": ro.Name, "permissions": ro.Permissions})
	writeJSON(w, http.StatusCreated, toRole(ro))
}

func (s *Surface) updateRole(w http.ResponseWriter, r *http.Request, p *identity.Principal, id string) {
	var in roleInput
	if err := decode(r, &in, true); err != nil {
		s.bad(w, err)
		return
	}
	ro, err := s.d.Community.UpdateRole(r.Context(), p.Account.ID, id, r.PathValue("role_id"), community.RoleInput(in))
	if err != nil {
		s.fail(w, err)
		return
	}
	s.audit(r, id, p, "role_update", "role", ro.ID, map[string]any{"name": ro.Name, "permissions": ro.Permissions})
	writeJSON(w, http.StatusOK, toRole(ro))
}

func (s *Surface) deleteRole(w http.ResponseWriter, r *http.Request, p *identity.Principal, id string) {
	details := map[string]any{}
	if ro, err := s.d.Community.Store().Role(r.Context(), r.PathValue("role_id")); err == nil && ro.CommunityID == id {
		details["name"] = ro.Name
	}
	if err := s.d.Community.DeleteRole(r.Context(), p.Account.ID, id, r.PathValue("role_id")); err != nil {
		s.fail(w, err)
		return
	}
	s.audit(r, id, p, "role_delete", "role", r.PathValue("role_id"), details)
	noContent(w)
}

func (s *Surface) memberRole(add bool) func(http.ResponseWriter, *http.Request, *identity.Principal, string) {
	return func(w http.ResponseWriter, r *http.Request, p *identity.Principal, id string) {
		if err := s.d.Community.SetMemberRole(r.Context(), p.Account.ID, id, r.PathValue("user_id"), r.PathValue("role_id"), add); err != nil {
			s.fail(w, err)
			return
		}
		action := "member_role_add"
		if !add {
			action = "member_role_remove"
		}
		s.audit(r, id, p, action, "user", r.PathValue("user_id"), map[string]any{"role_id": r.PathValue("role_id")})
		noContent(w)
	}
}

func (s *Surface) listOverrides(w http.ResponseWriter, r *http.Request, p *identity.Principal) {
	ovs, err := s.d.Community.Overrides(r.Context(), p.Account.ID, r.PathValue("channel_id"))
	if err != nil {
		s.fail(w, err)
		return
	}
	out := mapAll(ovs, toOverride)
	writeJSON(w, http.StatusOK, out)
}

func (s *Surface) putOverride(w http.ResponseWriter, r *http.Request, p *identity.Principal) {
	var in struct {
		RoleID *string `json:"role_id"`
		UserID *string `json:"user_id"`
		Allow  *int64  `json:"allow"`
		Deny   *int64  `json:"deny"`
	}
	// Together's SetChannelOverrideRequest denies unknown fields and
	// requires allow and deny (422 otherwise).
	if err := decode(r, &in, true); err != nil {
		s.bad(w, err)
		return
	}
	if in.Allow == nil || in.Deny == nil {
		writeError(w, http.StatusUnprocessableEntity, "allow and deny are required")
		return
	}
	o, err := s.d.Community.SetOverride(r.Context(), p.Account.ID, r.PathValue("channel_id"),
		&community.Override{RoleID: in.RoleID, AccountID: in.UserID, Allow: *in.Allow, Deny: *in.Deny})
	if err != nil {
		s.fail(w, err)
		return
	}
	if ch, err := s.d.Community.Store().Channel(r.Context(), o.ChannelID); err == nil {
		s.audit(r, ch.CommunityID, p, "channel_override_update", "channel", ch.ID, map[string]any{"override_id": o.ID,
			"role_id": o.RoleID, "user_id": o.AccountID, "allow": o.Allow, "deny": o.Deny})
	}
	writeJSON(w, http.StatusOK, toOverride(o))
}

func (s *Surface) deleteOverride(w http.ResponseWriter, r *http.Request, p *identity.Principal) {
	if err := s.d.Community.DeleteOverride(r.Context(), p.Account.ID, r.PathValue("channel_id"), r.PathValue("override_id")); err != nil {
		s.fail(w, err)
		return
	}
	if ch, err := s.d.Community.Store().Channel(r.Context(), r.PathValue("channel_id")); err == nil {
		s.audit(r, ch.CommunityID, p, "channel_override_delete", "channel", ch.ID, map[string]any{"override_id": r.PathValue("override_id")})
	}
	noContent(w)
}

func (s *Surface) createInvite(w http.ResponseWriter, r *http.Request, p *identity.Principal, id string) {
	var in struct {
		MaxUses        *int `json:"max_uses"`
		ExpiresInHours *int `json:"expires_in_hours"`
	}
	if r.ContentLength != 0 {
		if err := decode(r, &in, true); err != nil {
			s.bad(w, err)
			return
		}
	}
	var exp *time.Duration
	if in.ExpiresInHours != nil {
		d := time.Duration(*in.ExpiresInHours) * time.Hour
		exp = &d
	}
	inv, err := s.d.Community.CreateInvite(r.Context(), p.Account.ID, id, in.MaxUses, exp)
	if err != nil {
		s.fail(w, err)
		return
	}
	s.audit(r, id, p, "invite_create", "invite", inv.ID, map[string]any{"code": inv.Code, "max_uses": inv.MaxUses})
	writeJSON(w, http.StatusCreated, toInvite(inv))
}

func (s *Surface) listInvites(w http.ResponseWriter, r *http.Request, p *identity.Principal, id string) {
	invs, err := s.d.Community.Invites(r.Context(), p.Account.ID, id)
	if err != nil {
		s.fail(w, err)
		return
	}
	out := mapAll(invs, toInvite)
	writeJSON(w, http.StatusOK, out)
}

func (s *Surface) deleteInvite(w http.ResponseWriter, r *http.Request, p *identity.Principal, id string) {
	if err := s.d.Community.DeleteInvite(r.Context(), p.Account.ID, id, r.PathValue("invite_id")); err != nil {
		s.fail(w, err)
		return
	}
	s.audit(r, id, p, "invite_revoke", "invite", r.PathValue("invite_id"), nil)
	noContent(w)
}

func (s *Surface) previewInvite(w http.ResponseWriter, r *http.Request, _ *identity.Principal) {
	inv, c, err := s.d.Community.InviteByCode(r.Context(), r.PathValue("code"))
	if err != nil {
		s.fail(w, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"code": inv.Code, "server_name": c.Name, "server_icon_url": c.IconURL,
		"member_count": c.MemberCount, "expires_at": inv.ExpiresAt})
}

func (s *Surface) acceptInvite(w http.ResponseWriter, r *http.Request, p *identity.Principal) {
	c, err := s.d.Community.AcceptInvite(r.Context(), p.Account.ID, r.PathValue("code"))
	if err != nil {
		s.fail(w, err)
		return
	}
	s.fireWebhooks(r.Context(), c.ID, "member.joined", map[string]string{"user_id": p.Account.ID, "username": p.Account.Username})
	writeJSON(w, http.StatusCreated, map[string]string{"message": "Joined server", "server_id": c.ID})
}

func (s *Surface) kick(w http.ResponseWriter, r *http.Request, p *identity.Principal, id string) {
	s.removeMember(w, r, p, id, s.d.Community.Kick, "member_kick")
}

func (s *Surface) ban(w http.ResponseWriter, r *http.Request, p *identity.Principal, id string) {
	s.removeMember(w, r, p, id, s.d.Community.Ban, "member_ban")
}

// removeMember serves kick and ban: an optional {"reason"} body, the domain
// action, an audit entry, 204.
func (s *Surface) removeMember(w http.ResponseWriter, r *http.Request, p *identity.Principal, id string,
	act func(ctx context.Context, actor, communityID, target string, reason *string) error, action string) {
	var in struct {
		Reason *string `json:"reason"`
	}
	// Together takes the body as Option<Json<…>>, which Axum 0.7 gives
	// as None for any body it cannot read (malformed, a wrong type, an
	// unknown field, no JSON Content-Type): the member is still removed,
	// without a reason.
	if r.ContentLength != 0 && decode(r, &in, true) != nil {
		in.Reason = nil
	}
	if err := act(r.Context(), p.Account.ID, id, r.PathValue("user_id"), in.Reason); err != nil {
		s.fail(w, err)
		return
	}
	s.audit(r, id, p, action, "user", r.PathValue("user_id"), map[string]any{"reason": in.Reason})
	noContent(w)
}

func (s *Surface) unban(w http.ResponseWriter, r *http.Request, p *identity.Principal, id string) {
	err := s.d.Community.Unban(r.Context(), p.Account.ID, id, r.PathValue("user_id"))
	if errors.Is(err, community.ErrNotBanned) {
		// Together's unban succeeds silently when there was no ban.
		noContent(w)
		return
	}
	if err != nil {
		s.fail(w, err)
		return
	}
	s.audit(r, id, p, "member_unban", "user", r.PathValue("user_id"), nil)
	noContent(w)
}

func (s *Surface) listBans(w http.ResponseWriter, r *http.Request, p *identity.Principal, id string) {
	bans, err := s.d.Community.Bans(r.Context(), p.Account.ID, id)
	if err != nil {
		s.fail(w, err)
		return
	}
	out := make([]map[string]any, len(bans))
	for i, b := range bans {
		out[i] = map[string]any{"server_id": b.CommunityID, "user_id": b.AccountID, "username": b.Username,
			"reason": b.Reason, "banned_by": b.BannedBy, "created_at": b.CreatedAt}
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *Surface) timeout(add bool) func(http.ResponseWriter, *http.Request, *identity.Principal, string) {
	return func(w http.ResponseWriter, r *http.Request, p *identity.Principal, id string) {
		var d time.Duration
		var in struct {
			DurationMinutes *int    `json:"duration_minutes"`
			Reason          *string `json:"reason"`
		}
		if add {
			if err := decode(r, &in, true); err != nil {
				s.bad(w, err)
				return
			}
			if in.DurationMinutes == nil || *in.DurationMinutes < 1 || time.Duration(*in.DurationMinutes) > community.MaxTimeout/time.Minute {
				s.fail(w, invalid(community.TimeoutRangeText))
				return
			}
			d = time.Duration(*in.DurationMinutes) * time.Minute
		}
		until, err := s.d.Community.Timeout(r.Context(), p.Account.ID, id, r.PathValue("user_id"), d, in.Reason)
		if err != nil {
			s.fail(w, err)
			return
		}
		action := "member_timeout"
		if !add {
			action = "member_timeout_remove"
		}
		s.audit(r, id, p, action, "user", r.PathValue("user_id"), map[string]any{"duration_minutes": in.DurationMinutes, "reason": in.Reason})
		if !add || until == nil {
			noContent(w)
			return
		}
		// As Together, setting a timeout answers the timeout.
		writeJSON(w, http.StatusOK, timeoutDTO{UserID: r.PathValue("user_id"), ServerID: id, ExpiresAt: *until,
			Reason: in.Reason, CreatedBy: &p.Account.ID, CreatedAt: until.Add(-d)})
	}
}

// timeoutDTO is Together's AutomodTimeout, the answer to setting a timeout.
type timeoutDTO struct {
	UserID    string    `json:"user_id"`
	ServerID  string    `json:"server_id"`
	ExpiresAt time.Time `json:"expires_at"`
	Reason    *string   `json:"reason"`
	CreatedBy *string   `json:"created_by"`
	CreatedAt time.Time `json:"created_at"`
}
