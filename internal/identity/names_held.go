package identity

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"unicode/utf8"

	"golang.org/x/text/cases"
	"golang.org/x/text/unicode/norm"

	"github.com/hearth-community/hearth/internal/fault"
)

// RenamedTopic is the bus topic on which identity announces that an
// account's display name changed, so every surface's view of it (stage
// chat users, watch-room members, cached members) follows.
const RenamedTopic = "identity.renamed"

// Renamed is the payload published on RenamedTopic. ID names this rename
// (a consumer that must act once per cluster claims it).
type Renamed struct {
	ID        string `json:"id"`
	AccountID string `json:"account_id"`
	Name      string `json:"name"`
	OldName   string `json:"old_name"`
}

// NameKey is the form in which two names are one name: compatibility
// normalised (NFKC) and case folded, so that a name differing from another
// only in case, in how its accents are encoded (a precomposed é or an e and
// a combining accent) or in compatibility forms (full-width letters,
// superscripts, ligatures) is the same name. A name is held, and a chat
// name taken, by its key. The fold is Go's on both engines: SQL's lower()
// folds only ASCII on SQLite, so no key is made in SQL.
func NameKey(name string) string {
	return norm.NFKC.String(cases.Fold().String(norm.NFKC.String(strings.TrimSpace(name))))
}

// ErrNameTaken refuses a name that another account holds.
var ErrNameTaken = fault.New(fault.Conflict, "That name belongs to another account.")

// NameHolder returns the account (not a guest) that holds name as its
// username or display name, by NameKey (case, accent encoding,
// compatibility forms and surrounding space aside); NotFound
// when no account holds it. A guest on any surface may not take such a
// name.
//
// name is cleaned by the one display-name rule (CleanName) first, as every
// stored name is, so a spelling that differs only in markup compares equal.
func (s *Service) NameHolder(ctx context.Context, name string) (*Account, error) {
	name = strings.TrimSpace(CleanName(name, MaxDisplayNameLength))
	if name == "" {
		return nil, fault.New(fault.NotFound, "no account holds that name")
	}
	return s.st.AccountByName(ctx, name)
}

// NameFree reports whether name may be used by self (an account id, ""
// for someone not yet known): true unless another account holds it.
func (s *Service) NameFree(ctx context.Context, name, self string) (bool, error) {
	a, err := s.NameHolder(ctx, name)
	if errors.Is(err, fault.NotFound) {
		return true, nil
	}
	if err != nil {
		return false, err
	}
	return a.ID == self, nil
}

// Rename sets an account's display name: refused (ErrNameTaken) when
// another account holds the name, announced on RenamedTopic when it
// changes. It returns the updated account.
func (s *Service) Rename(ctx context.Context, accountID, name string) (*Account, error) {
	name = strings.TrimSpace(name)
	if name == "" {
		return nil, fault.New(fault.Invalid, "a name is required")
	}
	if utf8.RuneCountInString(name) > MaxDisplayNameLength {
		return nil, fault.Newf(fault.Invalid, "a name must be at most %d characters", MaxDisplayNameLength)
	}
	// The one display-name rule (CleanName) holds for renames too.
	if name = CleanName(name, MaxDisplayNameLength); name == "" {
		return nil, fault.New(fault.Invalid, "a name is required")
	}
	a, err := s.st.AccountByID(ctx, accountID)
	if err != nil {
		return nil, err
	}
	free, err := s.NameFree(ctx, name, a.ID)
	if err != nil {
		return nil, err
	}
	if !free {
		return nil, ErrNameTaken
	}
	old := a.Name()
	if a.DisplayName == name {
		return a, nil
	}
	a.DisplayName = name
	if err := s.UpdateProfile(ctx, a, ProfileDisplayName); err != nil {
		return nil, err
	}
	if s.pub != nil && old != a.Name() {
		b, _ := json.Marshal(Renamed{ID: NewID(), AccountID: a.ID, Name: a.Name(), OldName: old})
		if err := s.pub.Publish(context.WithoutCancel(ctx), RenamedTopic, b); err != nil {
			s.log.Error("publish rename", "err", err)
		}
	}
	return a, nil
}
