package app

import (
	"context"
	"errors"
	"log/slog"
	"strings"

	"github.com/hearth-community/hearth/internal/community"
	"github.com/hearth-community/hearth/internal/fault"
	"github.com/hearth-community/hearth/internal/watch"
)

// WatchRoomName is the name of the watch room behind a community watch
// channel: the channel id without dashes (32 hex characters, within
// OpenTogetherTube's 3–32 name rule). The web app opens the room by it.
func WatchRoomName(channelID string) string { return strings.ReplaceAll(channelID, "-", "") }

// watchLinks backs each community watch channel with a watch room
// (DESIGN.md §1): an unlisted permanent room, owned by whoever made the
// channel, is created with the channel, retitled with it and deleted with
// it or with its community. Unlisted keeps a private community's channel
// names out of /api/room/list; the name (the channel's random id) is known
// only to those who can see the channel.
type watchLinks struct {
	watch *watch.Service
	log   *slog.Logger
}

// wireWatchChannels links watch channels to rooms; it runs after the watch
// and community services exist.
func (a *App) wireWatchChannels(context.Context) error {
	if a.Watch == nil || a.Community == nil {
		return nil
	}
	l := &watchLinks{watch: a.Watch, log: a.Log.With("component", "watch-channels")}
	return a.onCommunityEvents("watch channels", l.onEvent)
}

// onEvent runs on every node; creating and deleting are idempotent
// (Ensure ends with one room on any node, a second delete finds none).
func (l *watchLinks) onEvent(ctx context.Context, e *community.Event) {
	watchChannel := e.Channel != nil && e.Channel.Kind == community.KindWatch
	switch {
	case e.Type == community.EvChannelCreated && watchChannel:
		if _, err := l.watch.Ensure(ctx, watch.CreateInput{Name: WatchRoomName(e.Channel.ID), Title: e.Channel.Name,
			Visibility: watch.Unlisted, OwnerID: e.ActorID}); err != nil {
			l.log.Warn("create the room of a watch channel", "channel", e.Channel.ID, "err", err)
		}
	case e.Type == community.EvChannelUpdated && watchChannel:
		if err := l.watch.Retitle(ctx, WatchRoomName(e.Channel.ID), e.Channel.Name); err != nil && !errors.Is(err, fault.NotFound) {
			l.log.Warn("retitle the room of a renamed watch channel", "channel", e.Channel.ID, "err", err)
		}
	case e.Type == community.EvChannelDeleted && watchChannel:
		l.drop(ctx, e.Channel.ID)
	case e.Type == community.EvCommunityDeleted:
		for _, ch := range e.Channels {
			if ch.Kind == community.KindWatch {
				l.drop(ctx, ch.ID)
			}
		}
	}
}

// drop deletes the room of a deleted watch channel.
func (l *watchLinks) drop(ctx context.Context, channelID string) {
	if err := l.watch.DeleteRoom(ctx, WatchRoomName(channelID)); err != nil && !errors.Is(err, fault.NotFound) {
		l.log.Warn("delete the room of a deleted watch channel", "channel", channelID, "err", err)
	}
}
