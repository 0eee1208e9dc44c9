package app

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/hearth-community/hearth/internal/community"
	"github.com/hearth-community/hearth/internal/fault"
	"github.com/hearth-community/hearth/internal/identity"
	"github.com/hearth-community/hearth/internal/live"
	"github.com/hearth-community/hearth/internal/surface/together"
)

// stageLinks backs each community stage channel with a live stage
// (DESIGN.md §1): the stage has the channel's id, is created when the
// channel is (or on first use) and deleted with it. An instance admin may
// bind a stage channel to the default stage instead: the channel then
// shows Owncast's stream, and its messages are Owncast's chat.
//
// It is the node's glue between community and live: the Owncast surface
// asks it who may watch a stage (owncast.StageGate), the Together surface
// where a stage channel's messages live (together.StageChats).
type stageLinks struct {
	live *live.Service
	comm *community.Service
	id   *identity.Service
	log  *slog.Logger

	// viewers remembers who may view which stage channel, for the HLS
	// routes (a request every second or two per player). Any community
	// event that can change it (membership, roles, overrides, channels)
	// empties it on every node, so a ban stops the next request.
	mu      sync.Mutex
	viewers map[[2]string]bool
	gen     uint64 // bumped by forgetViewers: an answer older than it is not kept
}

// maxStageViewers bounds the viewer cache; when full it starts over.
const maxStageViewers = 10000

// DefaultStageRef is the value of a channel's stage_id naming the
// instance's default stage.
const DefaultStageRef = "default"

// wireStages links stage channels to stages; it runs after the live and
// community services exist.
func (a *App) wireStages(ctx context.Context) error {
	if a.Live == nil || a.Community == nil {
		return nil
	}
	l := a.stageLinks()
	if err := a.onCommunityEvents("stages", l.onCommunityEvent); err != nil {
		return err
	}
	// Stages of channels deleted while no node ran go at start.
	a.runners = append(a.runners, func(ctx context.Context) error {
		l.sweep(ctx)
		return nil
	})
	return nil
}

// stageChats is the Together surface's hook (nil without live streaming).
func (a *App) stageChats() together.StageChats {
	if a.Live == nil || a.Community == nil {
		return nil
	}
	return a.stageLinks()
}

func (a *App) stageLinks() *stageLinks {
	if a.stages == nil {
		a.stages = &stageLinks{live: a.Live, comm: a.Community, id: a.Identity, log: a.Log.With("component", "stages")}
	}
	return a.stages
}

func (l *stageLinks) onCommunityEvent(ctx context.Context, e *community.Event) {
	switch e.Type {
	case community.EvMemberKicked, community.EvMemberBanned, community.EvMemberLeft, community.EvMemberRoleAdded,
		community.EvMemberRoleRemoved, community.EvRoleUpdated, community.EvRoleDeleted, community.EvOverrideUpdated,
		community.EvOverrideDeleted, community.EvChannelUpdated:
		l.forgetViewers()
	}
	switch e.Type {
	case community.EvChannelCreated:
		if e.Channel != nil && e.Channel.Kind == community.KindStage {
			if _, err := l.live.EnsureStage(ctx, e.Channel.ID, e.Channel.Name); err != nil {
				l.log.Warn("create the stage of a stage channel", "channel", e.Channel.ID, "err", err)
			}
		}
	case community.EvChannelDeleted:
		l.forgetViewers()
		if e.Channel != nil && e.Channel.Kind == community.KindStage {
			l.drop(ctx, e.Channel.ID)
		}
	case community.EvCommunityDeleted:
		l.forgetViewers()
		l.sweep(ctx)
	}
}

// drop deletes a stage channel's stage and binding.
func (l *stageLinks) drop(ctx context.Context, channelID string) {
	if err := l.live.BindChannel(ctx, channelID, ""); err != nil {
		l.log.Warn("unbind a deleted stage channel", "channel", channelID, "err", err)
	}
	if err := l.live.DeleteStage(ctx, channelID); err != nil && !errors.Is(err, fault.NotFound) {
		l.log.Warn("delete the stage of a deleted channel", "channel", channelID, "err", err)
	}
}

// sweep deletes stages and bindings whose channel is gone (a deleted
// community takes its channels without one event each). Every stage but
// the default belongs to a channel.
func (l *stageLinks) sweep(ctx context.Context) {
	gone := func(id string) bool {
		_, err := l.comm.Store().Channel(ctx, id)
		return errors.Is(err, fault.NotFound)
	}
	stages, err := l.live.Stages(ctx)
	if err != nil {
		return
	}
	for _, st := range stages {
		if !st.Default && gone(st.ID) {
			l.drop(ctx, st.ID)
		}
		if chans, err := l.live.ChannelsOfStage(ctx, st.ID); err == nil {
			for _, ch := range chans {
				if gone(ch) {
					l.drop(ctx, ch)
				}
			}
		}
	}
}

// stageOf returns the stage of a stage channel, creating the channel's own
// stage when it has none yet (channels made before stages were linked, or
// an event this node missed).
func (l *stageLinks) stageOf(ctx context.Context, ch *community.Channel) (string, error) {
	if ch.Kind != community.KindStage {
		return "", fault.New(fault.NotFound, "not a stage channel")
	}
	id, err := l.live.StageForChannel(ctx, ch.ID)
	if err != nil {
		return "", err
	}
	if id == ch.ID {
		if _, err := l.live.EnsureStage(ctx, ch.ID, ch.Name); err != nil {
			return "", err
		}
	}
	return id, nil
}

// StageOf implements owncast.StageGate: a Bearer access token of a member
// who may view the channel (manage: the owner or MANAGE_CHANNELS; the
// default stage's key only for instance admins).
func (l *stageLinks) StageOf(r *http.Request, channelID string, manage bool) (string, string, error) {
	ctx := r.Context()
	raw, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !ok || raw == "" {
		return "", "", fault.New(fault.Unauthorized, "a Bearer access token is required")
	}
	p, err := l.id.Authenticate(ctx, raw)
	if err != nil {
		return "", "", fault.Wrap(fault.Unauthorized, "invalid token", err)
	}
	ca, err := l.viewable(ctx, p.Account.ID, channelID)
	if err != nil {
		return "", "", err
	}
	stageID, err := l.stageOf(ctx, ca.Channel)
	if err != nil {
		return "", "", err
	}
	if manage {
		if !ca.IsOwner && !ca.Has(community.PermManageChannels) && !ca.Has(community.PermAdministrator) {
			return "", "", fault.New(fault.Forbidden, "managing the stage needs MANAGE_CHANNELS")
		}
		if stageID == l.live.DefaultStageID() && !p.Account.IsAdmin {
			return "", "", fault.New(fault.Forbidden, "the default stage's key is the instance admin's")
		}
	}
	return stageID, p.Account.ID, nil
}

// viewable is accountID's access to stage channel channelID; NotFound when
// they cannot see it (unknown, not a member, banned, hidden by overrides).
func (l *stageLinks) viewable(ctx context.Context, accountID, channelID string) (*community.ChannelAccess, error) {
	ca, err := l.comm.ChannelAccess(ctx, accountID, channelID)
	if err != nil {
		return nil, err
	}
	if !ca.Can(community.PermViewChannel) || ca.Channel.Kind != community.KindStage {
		return nil, fault.New(fault.NotFound, "stage channel not found")
	}
	return ca, nil
}

// StageForViewer implements owncast.StageGate: the stage of a stage
// channel accountID may still view.
func (l *stageLinks) StageForViewer(ctx context.Context, channelID, accountID string) (string, error) {
	key := [2]string{accountID, channelID}
	l.mu.Lock()
	ok, gen := l.viewers[key], l.gen
	l.mu.Unlock()
	var ch *community.Channel
	if ok {
		c, err := l.comm.Store().Channel(ctx, channelID)
		if errors.Is(err, fault.NotFound) {
			return "", fault.New(fault.NotFound, "stage channel not found")
		}
		if err != nil {
			return "", err
		}
		ch = c
	} else {
		ca, err := l.viewable(ctx, accountID, channelID)
		if err != nil {
			return "", err
		}
		ch = ca.Channel
		l.mu.Lock()
		if l.gen == gen {
			if l.viewers == nil || len(l.viewers) >= maxStageViewers {
				l.viewers = map[[2]string]bool{}
			}
			l.viewers[key] = true
		}
		l.mu.Unlock()
	}
	return l.stageOf(ctx, ch)
}

// forgetViewers empties the viewer cache: who may view changed.
func (l *stageLinks) forgetViewers() {
	l.mu.Lock()
	l.viewers = nil
	l.gen++
	l.mu.Unlock()
}

// ChatOf implements together.StageChats: a stage channel bound to another
// stage keeps its messages in that stage's chat.
func (l *stageLinks) ChatOf(ctx context.Context, channelID string) (string, bool) {
	id, err := l.live.StageForChannel(ctx, channelID)
	if err != nil || id == channelID {
		return channelID, false
	}
	return id, true
}

// ChannelsOfChat implements together.StageChats.
func (l *stageLinks) ChannelsOfChat(ctx context.Context, conversationID string) []string {
	chans, err := l.live.ChannelsOfStage(ctx, conversationID)
	if err != nil {
		return nil
	}
	return chans
}

// BindStage implements together.StageChats: an instance admin binds a stage
// channel to the default stage ("default") or back to its own ("").
func (l *stageLinks) BindStage(ctx context.Context, p *identity.Principal, channelID, ref string) error {
	if p == nil || !p.Account.IsAdmin {
		return fault.New(fault.Forbidden, "only an instance admin can set stage_id")
	}
	ch, err := l.comm.Store().Channel(ctx, channelID)
	if err != nil {
		return err
	}
	if ch.Kind != community.KindStage {
		return fault.New(fault.Invalid, "stage_id is only for stage channels")
	}
	switch ref {
	case DefaultStageRef:
		return l.live.BindChannel(ctx, channelID, l.live.DefaultStageID())
	case "", channelID:
		if err := l.live.BindChannel(ctx, channelID, ""); err != nil {
			return err
		}
		_, err := l.live.EnsureStage(ctx, channelID, ch.Name)
		return err
	}
	return fault.New(fault.Invalid, `stage_id must be "default" or null`)
}

// stageURLKey is the instance's key for signed stage playlist URLs,
// shared by every node.
func (a *App) stageURLKey(ctx context.Context) ([]byte, error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	v, err := a.Identity.Store().SetInstanceValueOnce(ctx, "stage.hls_url_key", hex.EncodeToString(b))
	if err != nil {
		return nil, fmt.Errorf("stages: url key: %w", err)
	}
	return []byte(v), nil
}
