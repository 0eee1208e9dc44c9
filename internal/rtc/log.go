package rtc

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"strings"

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
		l.put(ctx, level, fmt.Sprintf(format, args...))
	}
}

// closedConn is net.ErrClosed's text, which pion's listeners report (as
// "Error accepting connection: …") when the node closes them on shutdown.
var closedConn = net.ErrClosed.Error()

// unspecifiedMux is pion's warning, on every start with the default
// --rtc-udp-addr (:7882), that its UDP mux listens on all addresses; it
// names an API the operator cannot reach; what it means for them is in
// docs/operations.md (Ports).
const unspecifiedMux = "should not listening on unspecified address"

// put logs msg at level, or at Debug when it only says a listener or a
// connection was closed (that is every shutdown, not a fault) or is
// pion's unspecified-address warning.
func (l slogLogger) put(ctx context.Context, level slog.Level, msg string) {
	if strings.Contains(msg, closedConn) || strings.Contains(msg, unspecifiedMux) {
		level = slog.LevelDebug
	}
	l.log.Log(ctx, level, msg)
}

func (l slogLogger) Trace(string)                      {}
func (l slogLogger) Tracef(string, ...any)             {}
func (l slogLogger) Debug(msg string)                  { l.log.Debug(msg) }
func (l slogLogger) Debugf(format string, args ...any) { l.logf(slog.LevelDebug, format, args...) }
func (l slogLogger) Info(msg string)                   { l.put(context.Background(), slog.LevelInfo, msg) }
func (l slogLogger) Infof(format string, args ...any)  { l.logf(slog.LevelInfo, format, args...) }
func (l slogLogger) Warn(msg string)                   { l.put(context.Background(), slog.LevelWarn, msg) }
func (l slogLogger) Warnf(format string, args ...any)  { l.logf(slog.LevelWarn, format, args...) }

// Error and Errorf log at Warn: pion reports a remote peer's failures
// (bad credentials, a DTLS handshake cut short) as errors, which are not
// the server's.
func (l slogLogger) Error(msg string)                  { l.put(context.Background(), slog.LevelWarn, msg) }
func (l slogLogger) Errorf(format string, args ...any) { l.logf(slog.LevelWarn, format, args...) }
