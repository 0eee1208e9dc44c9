package live_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/hearth-community/hearth/internal/fault"
	"github.com/hearth-community/hearth/internal/identity"
	"github.com/hearth-community/hearth/internal/live"
	"github.com/hearth-community/hearth/internal/rtmp"
	"github.com/hearth-community/hearth/internal/store/storetest"
)

// TestChannelStages: a stage channel's stage has the channel's id, is
// created once however many nodes ask, has its own key, and goes away with
// its keys and HLS directory; a channel may be bound to the default stage.
func TestChannelStages(t *testing.T) {
	t.Parallel()
	for _, eng := range storetest.Engines() {
		t.Run(eng.Name, func(t *testing.T) {
			t.Parallel()
			db := eng.Open(t)
			ctx := context.Background()
			dir := t.TempDir()
			s := newService(t, db, live.Config{DataDir: dir, DefaultStreamKey: "main-" + identity.NewID()})
			other := newService(t, db, live.Config{DataDir: dir})
			chID := identity.NewID()

			if _, err := s.EnsureStage(ctx, "not-a-uuid", "x"); !errors.Is(err, fault.Invalid) {
				t.Fatalf("bad id: %v", err)
			}
			st, err := s.EnsureStage(ctx, chID, "  Concerts  ")
			if err != nil || st.ID != chID || st.Name != "Concerts" || st.Default {
				t.Fatalf("ensure: %+v %v", st, err)
			}
			again, err := other.EnsureStage(ctx, chID, "renamed")
			if err != nil || again.ID != chID || again.Name != "Concerts" {
				t.Fatalf("ensure on another node: %+v %v", again, err)
			}
			// No shared key: each manager is issued their own.
			if keys, err := s.StreamKeys(ctx, chID); err != nil || len(keys) != 0 {
				t.Fatalf("shared keys: %+v %v", keys, err)
			}
			holder := identity.NewID()
			key, err := s.HolderStreamKey(ctx, chID, holder, false)
			if err != nil || len(key) < 20 {
				t.Fatalf("held key: %q %v", key, err)
			}
			if again, err := other.HolderStreamKey(ctx, chID, holder, false); err != nil || again != key {
				t.Fatalf("held key read on another node: %q %v, want %q", again, err, key)
			}
			if _, err := s.HolderStreamKey(ctx, s.DefaultStageID(), holder, false); !errors.Is(err, fault.Invalid) {
				t.Fatalf("a held key of the default stage: %v", err)
			}
			// A gate that refuses the holder refuses their key.
			s.SetPublishGate(gateFunc(func(_ context.Context, stageID, accountID string) error {
				if stageID != chID || accountID != holder {
					t.Errorf("gate asked about %s %s", stageID, accountID)
				}
				return fault.New(fault.Forbidden, "not a manager")
			}))
			if _, err := s.Publish(ctx, rtmp.PublishRequest{App: "live", Name: key}); fault.KindOf(err) != fault.Forbidden {
				t.Fatalf("publish with a refused holder's key: %v", err)
			}
			s.SetPublishGate(nil)
			keys := []live.StreamKey{{Key: key}}
			if id, err := s.StageForChannel(ctx, chID); err != nil || id != chID {
				t.Fatalf("own stage: %q %v", id, err)
			}
			_ = s.SetVariants(ctx, chID, []live.Variant{{VideoPassthrough: true, AudioPassthrough: true}})
			// The stage's own key reaches the stage, not the default one.
			// Disconnect is what the RTMP server does: the publisher goes.
			var b rtmp.Stream
			disconnected := make(chan struct{})
			b, err = s.Publish(ctx, rtmp.PublishRequest{App: "live", Name: keys[0].Key,
				Disconnect: func() { close(disconnected); go b.Close(nil) }})
			if err != nil {
				t.Fatal(err)
			}
			if on, _ := s.Status(ctx, chID); !on.Online {
				t.Fatal("channel stage not online")
			}
			if on, _ := s.Status(ctx, s.DefaultStageID()); on.Online {
				t.Fatal("default stage online")
			}

			// Binding to the default stage and back.
			bound := identity.NewID()
			if err := s.BindChannel(ctx, bound, identity.NewID()); !errors.Is(err, fault.NotFound) {
				t.Fatalf("bind to a missing stage: %v", err)
			}
			if err := s.BindChannel(ctx, bound, s.DefaultStageID()); err != nil {
				t.Fatal(err)
			}
			if id, _ := other.StageForChannel(ctx, bound); id != s.DefaultStageID() {
				t.Fatalf("bound stage: %q", id)
			}
			if chans, err := s.ChannelsOfStage(ctx, s.DefaultStageID()); err != nil || len(chans) != 1 || chans[0] != bound {
				t.Fatalf("channels of the default stage: %v %v", chans, err)
			}
			if err := s.BindChannel(ctx, bound, bound); err != nil {
				t.Fatal(err)
			}
			if id, _ := s.StageForChannel(ctx, bound); id != bound {
				t.Fatalf("unbound: %q", id)
			}

			if err := s.DeleteStage(ctx, s.DefaultStageID()); !errors.Is(err, fault.Invalid) {
				t.Fatalf("delete default: %v", err)
			}
			// Deleting ends the broadcast and removes keys, HLS output and
			// the setting naming the node holding the stage's thumbnail
			// (written as a node making one does; another stage's stays).
			for _, id := range []string{chID, s.DefaultStageID()} {
				if err := db.Live().SetSetting(ctx, "thumbnail.node."+id, "node-a"); err != nil {
					t.Fatal(err)
				}
			}
			if err := s.DeleteStage(ctx, chID); err != nil {
				t.Fatal(err)
			}
			select {
			case <-disconnected:
			default:
				t.Fatal("deleting a live stage did not disconnect its publisher")
			}
			if err := other.DeleteStage(ctx, chID); err != nil {
				t.Fatalf("second delete (another node): %v", err)
			}
			if _, err := os.Stat(filepath.Join(dir, "hls", chID)); !os.IsNotExist(err) {
				t.Fatalf("HLS dir left: %v", err)
			}
			if v, err := db.Live().Setting(ctx, "thumbnail.node."+chID); !errors.Is(err, fault.NotFound) {
				t.Fatalf("the deleted stage's thumbnail node: %q %v, want none", v, err)
			}
			if v, err := db.Live().Setting(ctx, "thumbnail.node."+s.DefaultStageID()); err != nil || v != "node-a" {
				t.Fatalf("another stage's thumbnail node: %q %v", v, err)
			}
			if _, err := s.Status(ctx, chID); !errors.Is(err, fault.NotFound) {
				t.Fatalf("status of a deleted stage: %v", err)
			}
			if _, err := s.Publish(ctx, rtmp.PublishRequest{App: "live", Name: keys[0].Key}); err == nil {
				t.Fatal("deleted stage's key still accepted")
			}
		})
	}
}

// TestEnsureStageConcurrent: a stage channel's stage is asked for at once
// by the channel-created event and by the first request for its key (or
// several); every caller gets the stage, and the one runtime this node keeps
// has its HLS directory intact (a second runtime built for the same stage
// must not empty the directory under the first). The key request of a
// just-created channel once answered 500 from this race.
func TestEnsureStageConcurrent(t *testing.T) {
	t.Parallel()
	for _, eng := range storetest.Engines() {
		t.Run(eng.Name, func(t *testing.T) {
			t.Parallel()
			db := eng.Open(t)
			ctx := context.Background()
			dir := t.TempDir()
			s := newService(t, db, live.Config{DataDir: dir, DefaultStreamKey: "main-" + identity.NewID()})
			other := newService(t, db, live.Config{})
			for i := range 40 {
				id := identity.NewID()
				if i%2 == 0 {
					// Made by another node (or this node's event
					// handler, a moment ahead): every caller here
					// finds it stored and builds its runtime at once.
					if _, err := other.EnsureStage(ctx, id, "Concerts"); err != nil {
						t.Fatal(err)
					}
				}
				var wg sync.WaitGroup
				errs := make(chan error, 16)
				for range cap(errs) {
					wg.Go(func() {
						_, err := s.EnsureStage(ctx, id, "Concerts")
						errs <- err
					})
				}
				wg.Wait()
				close(errs)
				for err := range errs {
					if err != nil {
						t.Fatalf("ensure stage %s: %v", id, err)
					}
				}
				// A second origin's reset would remove the variant
				// directory the first one made (the offline clip has no
				// file there: it is served from memory).
				if fi, err := os.Stat(filepath.Join(dir, "hls", id, "0")); err != nil || !fi.IsDir() {
					t.Fatalf("the stage's HLS directory was emptied under it: %v", err)
				}
			}
		})
	}
}

// gateFunc is a PublishGate.
type gateFunc func(ctx context.Context, stageID, accountID string) error

func (f gateFunc) MayPublish(ctx context.Context, stageID, accountID string) error {
	return f(ctx, stageID, accountID)
}
