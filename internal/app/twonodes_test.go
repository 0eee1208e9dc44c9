package app_test

import (
	"os/exec"
	"testing"

	"github.com/hearth-community/hearth/internal/app"
	"github.com/hearth-community/hearth/internal/config"
	"github.com/hearth-community/hearth/internal/identity"
	"github.com/hearth-community/hearth/internal/live"
	"github.com/hearth-community/hearth/internal/store/storetest"
)

// twoLiveNodes starts nodes A and B of one cluster on PostgreSQL + NATS
// without S3, each with RTMP ingest and ffmpeg; A takes the returned
// stream key for the default stage, whose one variant passes the source
// through. tweak, when set, adjusts both nodes' config (recording on). The
// test is skipped without the tools it names, PostgreSQL or NATS.
func twoLiveNodes(t *testing.T, tweak func(*config.Config), tools ...string) (a, b *app.App, streamKey string) {
	t.Helper()
	for _, b := range append([]string{"ffmpeg"}, tools...) {
		if _, err := exec.LookPath(b); err != nil {
			t.Skip(b + " not installed (.ci/run installs it)")
		}
	}
	if storetest.PostgresURL() == "" || natsURL() == "" {
		t.Skip("needs HEARTH_TEST_POSTGRES_URL and HEARTH_TEST_NATS_URL")
	}
	dsn := storetest.PostgresDSN(t)
	streamKey = "node-a-" + identity.NewID()
	node := func(key string) *app.App {
		return clusterNode(t, dsn, func(cfg *config.Config) {
			cfg.RTMPAddr = "127.0.0.1:0"
			cfg.FFmpegPath = "ffmpeg"
			cfg.StreamKey = key
			if tweak != nil {
				tweak(cfg)
			}
		})
	}
	a, b = node(streamKey), node("")
	if err := a.Live.SetVariants(t.Context(), a.Live.DefaultStageID(), []live.Variant{{VideoPassthrough: true, AudioPassthrough: true}}); err != nil {
		t.Fatal(err)
	}
	return a, b, streamKey
}

// clusterNode starts a node on the database dsn and the test NATS server,
// its config adjusted by tweak (when set).
func clusterNode(t *testing.T, dsn string, tweak func(*config.Config)) *app.App {
	t.Helper()
	cfg := testConfig(t)
	cfg.Database, cfg.Bus = dsn, natsURL()
	cfg.JWTSecret = "" // the nodes must agree on the stored secret
	if tweak != nil {
		tweak(&cfg)
	}
	a, _ := start(t, cfg, nil)
	return a
}
