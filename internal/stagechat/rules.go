package stagechat

import (
	"context"
	"errors"

	"github.com/hearth-community/hearth/internal/fault"
	"github.com/hearth-community/hearth/internal/identity"
	"github.com/hearth-community/hearth/internal/messages"
)

// admit applies the chat's rules to a message u sends: chat switched off,
// a disabled user, the sign-in and established-user modes (moderators and
// the admin's integrations exempt), then the word filter, which it returns
// the body through.
func (s *Service) admit(ctx context.Context, set Settings, u *User, body string) (string, error) {
	if set.ChatDisabled {
		return "", ErrChatDisabled
	}
	if u.Disabled() {
		return "", ErrUserDisabled
	}
	needAuth := set.ChatRequireAuthentication && u.AuthenticatedAt == nil
	tooNew := set.ChatEstablishedUserMode && s.now().Sub(u.CreatedAt) < EstablishedAge
	if (needAuth || tooNew) && !u.IsModerator() && !s.integration(ctx, u) {
		if needAuth {
			return "", ErrNotAuthenticated
		}
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
// top of the channel's own, and, first, the IP bans a chat client's
// connection meets: a post from an address a ban covers (in.ClientAddr,
// the IPv6 /64 as on the socket) is refused; then the communities' rule
// (Config.MaySpeak: no member timed out in a community whose stage
// channel shows this chat). An account that never opened
// the chat counts as a signed-in chat user as old as its account. Every
// post with an author into the chat's conversation meets them, whatever
// kind it says it is. The chat's pace (Config.FloodRate) holds for every
// such post too, per author account, so an account posting through
// Together and through several chat sockets at once shares one pace:
// past it, the post is refused (ErrFlooded, RateLimited) and the account
// blocked for Config.FloodBlock. The chat's moderators and the admin's
// integrations are exempt, as on the chat's socket, and there is no pace
// while the admin has switched spam protection off.
func (s *Service) CheckPost(ctx context.Context, in *messages.PostInput) error {
	if in.ConversationID != s.cfg.Conversation || in.AuthorID == "" {
		return nil
	}
	if in.ClientAddr != "" {
		banned, err := s.IPBanned(ctx, in.ClientAddr)
		if err != nil {
			return err
		}
		if banned {
			return ErrIPBanned
		}
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
	if s.cfg.MaySpeak != nil {
		if err := s.cfg.MaySpeak(ctx, in.ConversationID, in.AuthorID); err != nil {
			return err
		}
	}
	set := s.Settings()
	if s.pace != nil && set.ChatSpamProtection && !u.IsModerator() && !s.integration(ctx, u) {
		err := s.pace.check(in.AuthorID, s.now())
		s.sharePace(in.AuthorID, err)
		if err != nil {
			return err
		}
	}
	body, err := s.admit(ctx, set, u, in.Body)
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

// integration reports whether u is an integration token's user: the
// instance admin made it, and Owncast's integration routes post past the
// chat's modes. A Together bot, which any account may make for itself, is
// a bot in the chat too (isBot) but meets the modes as its maker would.
func (s *Service) integration(ctx context.Context, u *User) bool {
	if !u.IsBot {
		return false
	}
	a, err := s.acct.Account(ctx, u.ID)
	return err == nil && a.Kind == identity.Integration
}
