// Package watch owns watch rooms: the room model, its queue and votes, the
// four queue modes, the server-authoritative playback clock, roles and
// permission grants, and the room lifecycle (load, keep alive, unload). It
// knows no wire format: surfaces translate requests into Request values and
// encode the Events the rooms publish on the bus.
package watch

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/hearth-community/hearth/internal/fault"
)

// Role is a user's role in a room. The values are OpenTogetherTube's.
type Role int

// Roles, lowest to highest; Owner sorts below everything numerically but
// outranks every other role.
const (
	RoleOwner         Role = -1
	RoleUnregistered  Role = 0
	RoleRegistered    Role = 1
	RoleTrusted       Role = 2
	RoleModerator     Role = 3
	RoleAdministrator Role = 4
)

// Valid reports whether r is one of the six roles.
func (r Role) Valid() bool { return r >= RoleOwner && r <= RoleAdministrator }

// rank orders roles by power: Owner above Administrator.
func (r Role) rank() int {
	if r == RoleOwner {
		return 5
	}
	return int(r)
}

// Permission is one grant bit.
type Permission uint32

// The 27 permission bits, in OpenTogetherTube's order.
const (
	PermPlayPause Permission = 1 << iota
	PermSkip
	PermSeek
	PermAdd
	PermRemove
	PermOrder
	PermVote
	PermChat
	PermSetTitle
	PermSetDescription
	PermSetVisibility
	PermSetQueueMode
	PermSetPermsModerator
	PermSetPermsTrusted
	PermSetPermsRegistered
	PermSetPermsUnregistered
	PermPromoteAdmin
	PermDemoteAdmin
	PermPromoteModerator
	PermDemoteModerator
	PermPromoteTrusted
	PermDemoteTrusted
	PermConfigureOther
	PermSpeed
	PermKick
	PermPlayNow
	PermEdit
)

// AllPermissions is every bit ("*"): 2^27 − 1.
const AllPermissions Permission = 1<<27 - 1

type permInfo struct {
	name    string
	minRole Role
}

var permTable = [27]permInfo{
	{"playback.play-pause", RoleUnregistered},
	{"playback.skip", RoleUnregistered},
	{"playback.seek", RoleUnregistered},
	{"manage-queue.add", RoleUnregistered},
	{"manage-queue.remove", RoleUnregistered},
	{"manage-queue.order", RoleUnregistered},
	{"manage-queue.vote", RoleUnregistered},
	{"chat", RoleUnregistered},
	{"configure-room.set-title", RoleUnregistered},
	{"configure-room.set-description", RoleUnregistered},
	{"configure-room.set-visibility", RoleUnregistered},
	{"configure-room.set-queue-mode", RoleUnregistered},
	{"configure-room.set-permissions.for-moderator", RoleAdministrator},
	{"configure-room.set-permissions.for-trusted-users", RoleModerator},
	{"configure-room.set-permissions.for-all-registered-users", RoleTrusted},
	{"configure-room.set-permissions.for-all-unregistered-users", RoleRegistered},
	{"manage-users.promote-admin", RoleAdministrator},
	{"manage-users.demote-admin", RoleAdministrator},
	{"manage-users.promote-moderator", RoleModerator},
	{"manage-users.demote-moderator", RoleModerator},
	{"manage-users.promote-trusted-user", RoleTrusted},
	{"manage-users.demote-trusted-user", RoleTrusted},
	{"configure-room.other", RoleUnregistered},
	{"playback.speed", RoleUnregistered},
	{"manage-users.kick", RoleTrusted},
	{"manage-queue.play-now", RoleUnregistered},
	{"manage-queue.edit", RoleUnregistered},
}

// Name is the permission's dotted name (for a single bit).
func (p Permission) Name() string {
	for i, info := range permTable {
		if p == 1<<i {
			return info.name
		}
	}
	return fmt.Sprintf("permission(%d)", uint32(p))
}

// ParseMask builds a mask from names; a name selects every permission whose
// name starts with it ("playback" selects the three playback bits), "*"
// selects all.
func ParseMask(names ...string) Permission {
	var m Permission
	for _, n := range names {
		for i, info := range permTable {
			if n == "*" || strings.HasPrefix(info.name, n) {
				m |= 1 << i
			}
		}
	}
	return m
}

// ValidationMask is the set of permissions a role may hold at all (those
// whose minimum role is at most r). Owner may hold everything.
func ValidationMask(r Role) Permission {
	if r == RoleOwner {
		return AllPermissions
	}
	var m Permission
	for i, info := range permTable {
		if r >= info.minRole {
			m |= 1 << i
		}
	}
	return m
}

// Grants maps each role to its effective permission mask. Masks are kept
// normalised: each role's mask is limited by its ValidationMask, roles 0..4
// inherit cumulatively (a role holds everything the roles below it hold),
// and Administrator and Owner hold every permission.
type Grants struct {
	m [6]Permission // index role+1
}

// DefaultGrants are OpenTogetherTube's default grants.
func DefaultGrants() Grants {
	var g Grants
	g.m[RoleUnregistered+1] = ParseMask("playback", "manage-queue", "chat", "configure-room.set-title",
		"configure-room.set-description", "configure-room.set-visibility", "configure-room.set-queue-mode",
		"configure-room.other")
	g.m[RoleModerator+1] = ParseMask("manage-users.promote-trusted-user", "manage-users.demote-trusted-user", "manage-users.kick")
	g.normalise()
	return g
}

func (g *Grants) normalise() {
	var full Permission
	for r := RoleUnregistered; r <= RoleAdministrator; r++ {
		full |= g.m[r+1] & ValidationMask(r)
		g.m[r+1] = full
	}
	g.m[RoleAdministrator+1] = AllPermissions
	g.m[RoleOwner+1] = AllPermissions
}

// Mask is role r's effective mask (0 for an invalid role).
func (g Grants) Mask(r Role) Permission {
	if !r.Valid() {
		return 0
	}
	return g.m[r+1]
}

// Set replaces role r's own mask and re-normalises.
func (g *Grants) Set(r Role, mask Permission) {
	if !r.Valid() {
		return
	}
	g.m[r+1] = mask & AllPermissions
	g.normalise()
}

// Granted reports whether role r holds every bit of p.
func (g Grants) Granted(r Role, p Permission) bool { return g.Mask(r)&p == p }

// Check returns a Forbidden error naming p when role r lacks it.
func (g Grants) Check(r Role, p Permission) error {
	if g.Granted(r, p) {
		return nil
	}
	return PermissionDenied(p)
}

// wireRoles is the order in which grants are listed: 0..4, then Owner.
var wireRoles = [6]Role{RoleUnregistered, RoleRegistered, RoleTrusted, RoleModerator, RoleAdministrator, RoleOwner}

// MarshalJSON writes grants as [[role, mask], …]: how stored rooms and the
// cluster's messages hold them (it was OpenTogetherTube's encoding of its
// Map when rooms were first stored; the OTT surface writes its own).
func (g Grants) MarshalJSON() ([]byte, error) {
	pairs := make([][2]int64, 0, 6)
	for _, r := range wireRoles {
		pairs = append(pairs, [2]int64{int64(r), int64(g.Mask(r))})
	}
	return json.Marshal(pairs)
}

// UnmarshalJSON reads [[role, mask], …] or {"role": mask}. Roles missing
// from the input keep zero own masks (then inherit).
func (g *Grants) UnmarshalJSON(b []byte) error {
	pairs, err := ParseGrantPairs(b)
	if err != nil {
		return err
	}
	*g = Grants{}
	for r, m := range pairs {
		g.m[r+1] = m & AllPermissions
	}
	g.normalise()
	return nil
}

// ParseGrantPairs reads a grants value as sent by a client: an array of
// [role, mask] pairs or an object keyed by role number.
func ParseGrantPairs(b []byte) (map[Role]Permission, error) {
	out := map[Role]Permission{}
	var pairs [][]float64
	if err := json.Unmarshal(b, &pairs); err == nil {
		for _, p := range pairs {
			if len(p) != 2 {
				return nil, fault.New(fault.Invalid, "grants must be [role, mask] pairs")
			}
			if err := addPair(out, p[0], p[1]); err != nil {
				return nil, err
			}
		}
		return out, nil
	}
	var obj map[string]float64
	if err := json.Unmarshal(b, &obj); err != nil {
		return nil, fault.New(fault.Invalid, "grants must be [role, mask] pairs")
	}
	for k, v := range obj {
		var r float64
		if _, err := fmt.Sscan(k, &r); err != nil {
			return nil, fault.Newf(fault.Invalid, "invalid role %q", k)
		}
		if err := addPair(out, r, v); err != nil {
			return nil, err
		}
	}
	return out, nil
}

func addPair(out map[Role]Permission, role, mask float64) error {
	r := Role(int(role))
	if float64(r) != role || !r.Valid() {
		return fault.Newf(fault.Invalid, "invalid role %v", role)
	}
	if mask < 0 || mask > float64(AllPermissions) || mask != float64(int64(mask)) {
		return fault.Newf(fault.Invalid, "invalid grant mask %v", mask)
	}
	out[r] = Permission(mask)
	return nil
}
