package owncast

import (
	"log/slog"
	"testing"
)

func TestLogBuffer(t *testing.T) {
	t.Parallel()
	buf := NewLogBuffer(3)
	log := slog.New(buf.Handler(slog.DiscardHandler)).With("component", "webhooks", "webhook", "w1")
	log.Debug("hidden")
	log.Info("one")
	log.Warn("two", "err", "boom")
	log.Error("three")
	log.Info("four")
	all := buf.entries(slog.LevelInfo)
	if len(all) != 3 || all[0].Message != "two webhook=w1 err=boom" || all[2].Message != "four webhook=w1" {
		t.Fatalf("ring %+v", all)
	}
	warn := buf.entries(slog.LevelWarn)
	if len(warn) != 2 || warn[0].Level != "warn" || warn[1].Level != "error" {
		t.Fatalf("warnings %+v", warn)
	}
}
