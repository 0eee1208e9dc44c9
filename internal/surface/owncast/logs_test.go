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

// TestLogBufferQuotesValues: a value with a space, a quote, '=' or a line
// break is quoted, as slog's text logs quote it, so a name or path a
// stranger chose can neither start what looks like a new entry in the
// admin's log view nor pass for another attribute.
func TestLogBufferQuotesValues(t *testing.T) {
	t.Parallel()
	buf := NewLogBuffer(4)
	log := slog.New(buf.Handler(slog.DiscardHandler))
	log.Info("renamed", "name", "eve\nERROR admin password reset", "path", "/a b", "ok", "plain", "empty", "")
	got := buf.entries(slog.LevelInfo)[0].Message
	want := `renamed name="eve\nERROR admin password reset" path="/a b" ok=plain empty=""`
	if got != want {
		t.Fatalf("entry %q, want %q", got, want)
	}
}
