package rtc

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/pion/logging"
)

// LoggerFactory routes pion's logs (webrtc, ice, dtls, turn) to slog;
// pion's trace output is dropped.
func LoggerFactory(log *slog.Logger) logging.LoggerFactory { return slogFactory{log} }

type slogFactory struct{ log *slog.Logger }

func (f slogFactory) NewLogger(scope string) logging.LeveledLogger {
	return slogLogger{f.log.With("scope", scope)}
}

type slogLogger struct{ log *slog.Logger }

// logf formats only when the level is on: pion calls its loggers on
// per-packet and per-request paths.
func (l slogLogger) logf(level slog.Level, format string, args ...any) {
	if ctx := context.Background(); l.log.Enabled(ctx, level) {
		l.log.Log(ctx, level, fmt.Sprintf(format, args...))
	}
}

func (l slogLogger) Trace(string)                      {}
func (l slogLogger) Tracef(string, ...any)             {}
func (l slogLogger) Debug(msg string)                  { l.log.Debug(msg) }
func (l slogLogger) Debugf(format string, args ...any) { l.logf(slog.LevelDebug, format, args...) }
func (l slogLogger) Info(msg string)                   { l.log.Info(msg) }
func (l slogLogger) Infof(format string, args ...any)  { l.logf(slog.LevelInfo, format, args...) }
func (l slogLogger) Warn(msg string)                   { l.log.Warn(msg) }
func (l slogLogger) Warnf(format string, args ...any)  { l.logf(slog.LevelWarn, format, args...) }

// Error and Errorf log at Warn: pion reports a remote peer's failures
// (bad credentials, a DTLS handshake cut short) as errors, which are not
// the server's.
func (l slogLogger) Error(msg string)                  { l.log.Warn(msg) }
func (l slogLogger) Errorf(format string, args ...any) { l.logf(slog.LevelWarn, format, args...) }
