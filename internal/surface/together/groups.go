package together

import (
	"context"
	"fmt"

	"github.com/hearth-community/hearth/internal/community"
	"github.com/hearth-community/hearth/internal/messages"
	"github.com/hearth-community/hearth/internal/surface/together/admin"
	"github.com/hearth-community/hearth/internal/surface/together/bots"
	"github.com/hearth-community/hearth/internal/surface/together/embeds"
	"github.com/hearth-community/hearth/internal/surface/together/export"
	"github.com/hearth-community/hearth/internal/surface/together/files"
	"github.com/hearth-community/hearth/internal/surface/together/hooks"
	"github.com/hearth-community/hearth/internal/surface/together/moderation"
	"github.com/hearth-community/hearth/internal/surface/together/polls"
	"github.com/hearth-community/hearth/internal/surface/together/rest"
)

// routeGroups builds the route groups the sub-packages serve, on one
// rest.Base, and hands each the little it needs from the gateway and the
// message routes here.
func (s *Surface) routeGroups() error {
	d := s.d
	s.base = &rest.Base{Log: s.log, Identity: d.Identity, Community: d.Community, Messages: d.Messages, TrustProxy: d.TrustProxy}
	var err error
	if s.hooks, err = hooks.New(s.base, d.Webhooks, d.WebhookEngine, d.WebhookReach); err != nil {
		return fmt.Errorf("together: webhooks: %w", err)
	}
	var bs *community.Bots
	if d.Bots != nil {
		if bs, err = community.NewBots(d.Bots, d.Identity); err != nil {
			return fmt.Errorf("together: bots: %w", err)
		}
	}
	if s.files, err = files.New(s.base, d.Extras, files.Config{Dir: d.UploadDir, MinFreeBytes: d.UploadMinFree, QuotaBytes: d.UploadQuota,
		NodeID: d.NodeID, Peers: d.Peers, PeerKey: d.PeerKey}, files.Hooks{Message: s.ownMessage, Broadcast: s.broadcastServer}); err != nil {
		return fmt.Errorf("together: %w", err)
	}
	var activity bots.LogStore // a bot's activity log needs uploads, as in Together
	if s.files.Ready() == nil {
		activity = d.Extras
	}
	s.bots = bots.New(s.base, bs, activity)
	s.polls = polls.New(s.base, d.Extras, s.files.Ready, polls.Hooks{Channel: s.channelFor, Viewers: s.viewerIDs,
		Dispatch: s.publishDispatch, Render: func(ctx context.Context, viewer string, m *messages.Message) any {
			return s.render1(ctx, viewer, m)
		}})
	s.embeds = embeds.New(s.base, embeds.Config{Egress: d.Egress, GiphyAPIKey: d.GiphyAPIKey, GiphyBase: d.GiphyBase,
		MaxFetches: d.MaxLinkFetches, FetchWait: d.LinkFetchWait})
	s.export = export.New(s.base)
	var totals admin.TotalsStore
	if d.Extras != nil {
		totals = d.Extras
	}
	s.admin = admin.New(s.base, s.started, s.Connections, d.DBPing, totals)
	s.moderation = moderation.New(s.base)
	return nil
}

// render turns messages into MessageDtos, with the poll and event each
// carries.
func (s *Surface) render(ctx context.Context, viewer string, ms []*messages.Message) []messageDTO {
	out := toMessages(ms)
	ps, es := s.polls.Attached(ctx, viewer, ms)
	for i := range out {
		out[i].Poll, out[i].Event = ps[i], es[i]
	}
	return out
}

func (s *Surface) render1(ctx context.Context, viewer string, m *messages.Message) messageDTO {
	return s.render(ctx, viewer, []*messages.Message{m})[0]
}

// fireWebhooks sends an event to the server's webhooks that subscribe to
// it. It is called by the node that handled the request, so each event is
// delivered once however many nodes run.
func (s *Surface) fireWebhooks(ctx context.Context, communityID, event string, data any) {
	s.hooks.Fire(ctx, communityID, event, data)
}

// broadcastServer sends a surface event to every member of a community.
func (s *Surface) broadcastServer(ctx context.Context, communityID, t string, d any) {
	ms, err := s.d.Community.Store().Members(ctx, communityID)
	if err != nil {
		return
	}
	ids := make([]string, len(ms))
	for i, m := range ms {
		ids[i] = m.AccountID
	}
	s.publishDispatch(ctx, t, d, ids)
}

// viewerIDs lists the accounts that may view a channel.
func (s *Surface) viewerIDs(ctx context.Context, channelID string) ([]string, error) {
	viewers, err := s.viewers(ctx, channelID)
	if err != nil {
		return nil, err
	}
	var ids []string
	for id := range viewers {
		if canView(viewers, id) {
			ids = append(ids, id)
		}
	}
	return ids, nil
}
