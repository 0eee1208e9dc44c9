package live

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/hearth-community/hearth/internal/fault"
	"github.com/hearth-community/hearth/internal/ratelimit"
)

// defaultEndWait bounds how long deleting a stage waits for its broadcast
// to end.
const defaultEndWait = 10 * time.Second

// EnsureStage returns the stage with this id, creating it when missing: a
// community stage channel's stage has the channel's id. It has no shared
// key: each of the channel's managers is issued one (HolderStreamKey).
// Safe to call from several nodes at once.
func (s *Service) EnsureStage(ctx context.Context, id, name string) (*Stage, error) {
	if _, err := uuid.Parse(id); err != nil {
		return nil, fault.New(fault.Invalid, "a stage id is a UUID")
	}
	if st, err := s.st.Stage(ctx, id); err == nil {
		_, err := s.stage(id)
		return st, err
	} else if !errors.Is(err, fault.NotFound) {
		return nil, err
	}
	name = strings.TrimSpace(name)
	if name == "" {
		name = "Stage"
	}
	if r := []rune(name); len(r) > 100 {
		name = string(r[:100])
	}
	now := s.cfg.Now().UTC()
	st := &Stage{ID: id, Name: name, VideoCodec: "libx264", LatencyLevel: DefaultLatencyLevel,
		Variants: DefaultVariants(), CreatedAt: now, UpdatedAt: now}
	if err := s.st.CreateStage(ctx, st, nil); err != nil {
		if !errors.Is(err, fault.Conflict) {
			return nil, err
		}
		// Another node (or request) created it first.
		if st, err = s.st.Stage(ctx, id); err != nil {
			return nil, err
		}
	}
	if _, err := s.stage(id); err != nil {
		return nil, err
	}
	return st, nil
}

// DeleteStage ends a stage's broadcast, removes the stage with its keys,
// history and the setting naming its thumbnail's node, and deletes its HLS
// output. The default stage cannot be
// deleted. Deleting a stage this node no longer knows is not an error, so
// every node may run it for the same event.
func (s *Service) DeleteStage(ctx context.Context, id string) error {
	if id == s.def.id {
		return fault.New(fault.Invalid, "the default stage cannot be deleted")
	}
	if _, err := uuid.Parse(id); err != nil {
		return fault.New(fault.NotFound, "stage not found")
	}
	if err := s.st.DeleteStage(ctx, id); err != nil && !errors.Is(err, fault.NotFound) {
		return err
	}
	if err := s.st.DeleteSetting(ctx, thumbNodeKey+id); err != nil {
		return err
	}
	s.thumbNode.forget(id)
	s.mu.Lock()
	rt := s.stages[id]
	delete(s.stages, id)
	s.mu.Unlock()
	if rt != nil {
		if rt.disconnect() {
			rt.waitEnded(defaultEndWait)
		}
		rt.pruneAll()
	}
	return os.RemoveAll(filepath.Join(s.cfg.DataDir, "hls", id))
}

// StageForChannel is the stage a community stage channel streams to: the
// one it is bound to (BindChannel), else the stage of the channel's id.
func (s *Service) StageForChannel(ctx context.Context, channelID string) (string, error) {
	id, err := s.st.ChannelStage(ctx, channelID)
	if errors.Is(err, fault.NotFound) {
		return channelID, nil
	}
	return id, err
}

// BindChannel binds a stage channel to another stage (the default one:
// the channel shows Owncast's stream and chat). stageID "" or the channel's
// own id removes the binding.
func (s *Service) BindChannel(ctx context.Context, channelID, stageID string) error {
	if stageID == channelID {
		stageID = ""
	}
	if stageID != "" {
		if _, err := s.st.Stage(ctx, stageID); err != nil {
			if errors.Is(err, fault.NotFound) {
				return fault.New(fault.NotFound, "stage not found")
			}
			return err
		}
	}
	return s.st.SetChannelStage(ctx, channelID, stageID)
}

// ChannelsOfStage lists the channels bound to a stage (not the channel
// whose id the stage has).
func (s *Service) ChannelsOfStage(ctx context.Context, stageID string) ([]string, error) {
	return s.st.ChannelsOfStage(ctx, stageID)
}

// pruneAll forgets every viewer (the stage is going away).
func (st *stage) pruneAll() {
	st.mu.Lock()
	defer st.mu.Unlock()
	for id, v := range st.viewers {
		delete(st.viewers, id)
		if c := st.svc.cfg.Viewers; c != nil {
			c.Done(st.viewerKey())
		}
		if k := ratelimit.AddrKey(v.IP); st.perIP[k] <= 1 {
			delete(st.perIP, k)
		} else {
			st.perIP[k]--
		}
	}
}

// NewStreamKey returns a fresh random stream key.
func NewStreamKey() string { return randomKey() }
