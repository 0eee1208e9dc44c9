package stagechat

import (
	"context"
	"errors"

	"github.com/hearth-community/hearth/internal/fault"
	"github.com/hearth-community/hearth/internal/identity"
	"github.com/hearth-community/hearth/internal/messages"
)

// admit applies the chat's rules to a message u sends: chat switched off,
// a disabled user, the sign-in and established-user modes, then the word
// filter, which it returns the body through.
func (s *Service) admit(set Settings, u *User, body string) (string, error) {
	if set.ChatDisabled {
		return "", ErrChatDisabled
	}
	if u.Disabled() {
		return "", ErrUserDisabled
	}
	if set.ChatRequireAuthentication && u.AuthenticatedAt == nil && !u.IsModerator() && !u.IsBot {
		return "", ErrNotAuthenticated
	}
	if set.ChatEstablishedUserMode && !u.IsModerator() && !u.IsBot && s.now().Sub(u.CreatedAt) < EstablishedAge {
		return "", ErrNotEstablished
	}
	if set.ChatWordFilter {
		body = censorWords(body, set.FilteredWords)
	}
	return body, nil
}

// CheckPost is the chat's rules for every writer into it (messages.Rules),
// not only its socket: a Together client posting in a community stage
// channel an instance admin bound to the default stage writes into this
// chat, and meets the rules a chat message meets (chat switched off, a
// disabled user, sign-in and established-user modes, the word filter), on
// top of the channel's own. An account that never opened the chat counts
// as a signed-in chat user as old as its account.
func (s *Service) CheckPost(ctx context.Context, in *messages.PostInput) error {
	if in.Kind != messages.KindStage || in.ConversationID != s.cfg.Conversation || in.AuthorID == "" {
		return nil
	}
	u, err := s.CachedUser(ctx, in.AuthorID)
	if errors.Is(err, fault.NotFound) {
		var a *identity.Account
		if a, err = s.acct.Account(ctx, in.AuthorID); err != nil {
			return err
		}
		at := a.CreatedAt
		u = &User{ID: a.ID, CreatedAt: a.CreatedAt, AuthenticatedAt: &at, DisabledAt: a.DisabledAt,
			IsBot: a.Kind == identity.Bot || a.Kind == identity.Integration}
	} else if err != nil {
		return err
	}
	body, err := s.admit(s.Settings(), u, in.Body)
	if err != nil {
		return err
	}
	in.Body = body
	return nil
}

// CheckEdit is messages.Rules': a chat message is never edited through the
// chat, and an edit elsewhere changes no mention.
func (s *Service) CheckEdit(context.Context, *messages.Message, string) (*messages.Mentions, error) {
	return nil, nil
}
