package community

import "github.com/hearth-community/hearth/internal/fault"

// The role hierarchy, as Together rules it, held here so that every surface
// (Together REST and bots, the web app through it) gets the same answer:
//
//   - The owner may do anything and is never acted upon by anyone else.
//   - Everyone else, ADMINISTRATOR holders included, acts only on roles, and
//     on members, strictly below their own highest role position.
//   - No one but the owner grants a permission bit they do not hold
//     themselves (ADMINISTRATOR holds every bit). Hearth goes further than
//     Together: a role whose bits the actor does not all hold can be neither
//     edited, deleted, assigned nor removed by them, and channel overrides
//     follow the same rule.

// Together's texts for the hierarchy refusals (server/src/handlers/roles.rs),
// and Hearth's for the cases Together does not check.
const (
	msgGrant             = "Cannot grant permissions you do not have"
	msgCreateAbove       = "Cannot create a role at or above your highest role position"
	msgEditAbove         = "Cannot edit a role at or above your highest role position"
	msgMoveAbove         = "Cannot move a role to a position at or above your highest role position"
	msgDeleteAbove       = "Cannot delete a role at or above your highest role position"
	msgAssignAbove       = "Cannot assign a role at or above your highest role position"
	msgRemoveAbove       = "Cannot remove a role at or above your highest role position"
	msgRemoveFromOwner   = "Cannot remove roles from the server owner"
	msgEditHeld          = "Cannot edit a role with permissions you do not have"
	msgDeleteHeld        = "Cannot delete a role with permissions you do not have"
	msgRemoveHeld        = "Cannot remove a role with permissions you do not have"
	msgOverrideRoleAbove = "Cannot manage the override of a role at or above your highest role position"
	msgOverrideOwner     = "Cannot manage the override of the server owner"
	msgOverrideMember    = "Cannot manage the override of a member with an equal or higher role"
	msgOverrideHeld      = "Cannot manage an override with permissions you do not have"
	msgModerateOwner     = "Cannot moderate the server owner"
	msgModerateAbove     = "Cannot moderate a member with an equal or higher role"
)

func forbidden(msg string) error { return fault.New(fault.Forbidden, msg) }

// below reports whether position pos is strictly below the actor's highest
// role; always true for the owner.
func (a *Access) below(pos int) bool { return a.IsOwner || pos < a.HighestRole() }

// outranks reports whether the actor stands above target in the hierarchy:
// the owner outranks everyone else, no one outranks the owner, and anyone
// else needs a highest role strictly above the target's.
func (a *Access) outranks(target *Access) bool {
	switch {
	case target.IsOwner:
		return false
	case a.IsOwner:
		return true
	}
	return target.HighestRole() < a.HighestRole()
}

// holds reports whether the actor's server-wide bits include every bit of p
// (the owner and ADMINISTRATOR holders hold them all).
func (a *Access) holds(p int64) bool { return a.Perms&p == p }

// mayCreateRole checks a new role r against the actor.
func (a *Access) mayCreateRole(r *Role) error {
	if !a.below(r.Position) {
		return forbidden(msgCreateAbove)
	}
	if !a.holds(r.Permissions) {
		return forbidden(msgGrant)
	}
	return nil
}

// mayUpdateRole checks changing role old into nu.
func (a *Access) mayUpdateRole(old, nu *Role) error {
	if !a.below(old.Position) {
		return forbidden(msgEditAbove)
	}
	if !a.below(nu.Position) {
		return forbidden(msgMoveAbove)
	}
	if !a.holds(old.Permissions) {
		return forbidden(msgEditHeld)
	}
	if !a.holds(nu.Permissions) {
		return forbidden(msgGrant)
	}
	return nil
}

// mayDeleteRole checks deleting r.
func (a *Access) mayDeleteRole(r *Role) error {
	if !a.below(r.Position) {
		return forbidden(msgDeleteAbove)
	}
	if !a.holds(r.Permissions) {
		return forbidden(msgDeleteHeld)
	}
	return nil
}

// mayAssignRole checks giving (add) or taking r from the member target.
func (a *Access) mayAssignRole(r *Role, target string, add bool) error {
	if add {
		if !a.below(r.Position) {
			return forbidden(msgAssignAbove)
		}
		if !a.holds(r.Permissions) {
			return forbidden(msgGrant)
		}
		return nil
	}
	if !a.IsOwner && target == a.Community.OwnerID {
		return forbidden(msgRemoveFromOwner)
	}
	if !a.below(r.Position) {
		return forbidden(msgRemoveAbove)
	}
	if !a.holds(r.Permissions) {
		return forbidden(msgRemoveHeld)
	}
	return nil
}

// mayOverride checks setting or deleting a channel override o whose target
// is role (nil for a member override) or the member target (nil for a role
// override), against the actor's bits in that channel (chanPerms). grant
// tells a new override (refused with Together's "grant" text for missing
// allow bits) from an existing one being removed.
func (a *Access) mayOverride(o *Override, role *Role, target *Access, chanPerms int64, grant bool) error {
	if a.IsOwner {
		return nil
	}
	switch {
	case role != nil && !a.below(role.Position):
		return forbidden(msgOverrideRoleAbove)
	case target != nil && target.IsOwner:
		return forbidden(msgOverrideOwner)
	case target != nil && !a.outranks(target):
		return forbidden(msgOverrideMember)
	}
	if grant && o.Allow&^chanPerms != 0 {
		return forbidden(msgGrant)
	}
	if (o.Allow|o.Deny)&^chanPerms != 0 {
		return forbidden(msgOverrideHeld)
	}
	return nil
}

// MayModerate checks acting on the member target from outside this
// package's own routes (the SFU's server mute and disconnect, which need
// MUTE_MEMBERS as a timeout does): the owner is acted on by no one else, and
// everyone else, ADMINISTRATOR holders included, acts only on members whose
// highest role is below their own, as for kick, ban and timeout.
func (a *Access) MayModerate(target *Access) error {
	if target.IsOwner && !a.IsOwner {
		return forbidden(msgModerateOwner)
	}
	return a.mayModerate(target)
}

// mayModerate checks acting on the member target (kick, ban, timeout):
// below the actor's highest role. The owner was refused already, before
// the permission (Service.moderate).
func (a *Access) mayModerate(target *Access) error {
	if !a.outranks(target) {
		return forbidden(msgModerateAbove)
	}
	return nil
}
