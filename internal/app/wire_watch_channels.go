package app

import (
	"context"

	"github.com/hearth-community/hearth/internal/watch"
)

// wireWatchChannels links watch channels to rooms (the rules are watch's
// CommunityChannels); it runs after the watch and community services exist.
func (a *App) wireWatchChannels(context.Context) error {
	if a.Watch == nil || a.Community == nil {
		return nil
	}
	l := watch.NewCommunityChannels(a.Watch, a.Community, a.Log.With("component", "watch-channels"))
	a.Watch.SetChannels(l)
	return a.onCommunityEvents("watch channels", l.OnCommunityEvent)
}
