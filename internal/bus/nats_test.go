package bus_test

import (
	"context"
	"crypto/rand"
	"errors"
	"log/slog"
	"net"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/hearth-community/hearth/internal/bus"
	"github.com/hearth-community/hearth/internal/bus/bustest"
)

// natsURL returns HEARTH_TEST_NATS_URL or skips the test.
func natsURL(t *testing.T) string {
	t.Helper()
	u := os.Getenv("HEARTH_TEST_NATS_URL")
	if u == "" {
		t.Skip("HEARTH_TEST_NATS_URL not set")
	}
	return u
}

func newNATS(t *testing.T, url string) *bus.NATS {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), hangGuard)
	defer cancel()
	logger := slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelWarn}))
	b, err := bus.NewNATS(ctx, url, logger, bus.WithClientName("hearth-test"))
	if err != nil {
		t.Fatalf("NewNATS: %v", err)
	}
	t.Cleanup(func() { _ = b.Close() })
	return b
}

func TestNATS(t *testing.T) {
	t.Parallel()
	url := natsURL(t)
	bustest.Run(t, func(t *testing.T) bus.Bus { return newNATS(t, url) })
}

// TestNATSAcrossConnections checks what only NATS can show: two buses (two
// nodes) see each other's messages, and a subscription is active on the
// server when Subscribe returns.
func TestNATSAcrossConnections(t *testing.T) {
	t.Parallel()
	url := natsURL(t)
	a, b := newNATS(t, url), newNATS(t, url)
	topic := "bustest_" + rand.Text() + ".across"

	got := make(chan bus.Message, 1)
	sub, err := a.Subscribe(topic, func(m bus.Message) { got <- m })
	if err != nil {
		t.Fatalf("Subscribe: %v", err)
	}
	defer func() { _ = sub.Unsubscribe() }()
	if err := b.Publish(t.Context(), topic, []byte("hi")); err != nil {
		t.Fatalf("Publish: %v", err)
	}
	select {
	case m := <-got:
		if m.Topic != topic || string(m.Data) != "hi" {
			t.Errorf("received %s %q", m.Topic, m.Data)
		}
	case <-time.After(hangGuard):
		t.Fatal("message published on another connection never arrived")
	}
}

func TestNewNATSConnectFails(t *testing.T) {
	t.Parallel()
	// A server that accepts connections and never speaks: nats.Connect
	// would wait the whole connect timeout (set to 10s below) for its INFO.
	silent, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = silent.Close() })
	// A refused address that stays ours for the whole test: the local end
	// of a connection to the silent server is a bound port nobody listens
	// on (a port picked by closing a listener could be taken meanwhile).
	held, err := net.Dial("tcp", silent.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = held.Close() })
	addr := held.LocalAddr().String()
	go func() {
		var held []net.Conn
		defer func() {
			for _, c := range held {
				_ = c.Close()
			}
		}()
		for {
			c, err := silent.Accept()
			if err != nil {
				return
			}
			held = append(held, c)
		}
	}()

	tests := []struct {
		name    string
		ctx     string // "", "canceled" or "short" (a 200ms deadline)
		url     string
		timeout time.Duration // the connect timeout
		want    string        // in the error
		is      error
	}{
		{"closed port", "", "nats://" + addr, time.Second, "bus: connect nats://" + addr + ": ", nil},
		{"no scheme", "", addr, time.Second, "bus: connect nats://" + addr + ": ", nil},
		{"password hidden", "", "nats://hearth:s3cret@" + addr, time.Second, "bus: connect nats://hearth:xxxxx@" + addr + ": ", nil},
		{"token hidden", "", "nats://s3cret@" + addr, time.Second, "bus: connect nats://redacted@" + addr + ": ", nil},
		{"canceled context", "canceled", "nats://" + addr, time.Second, "context canceled", context.Canceled},
		{"silent server, connect timeout", "", "nats://" + silent.Addr().String(), 200 * time.Millisecond, "bus: connect nats://" + silent.Addr().String() + ": ", nil},
		// The connect timeout is far past hangGuard: only the context can
		// end this one in time.
		{"silent server, context deadline", "short", "nats://" + silent.Addr().String(), time.Hour, "context deadline exceeded", context.DeadlineExceeded},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ctx, cancel := context.WithCancel(t.Context())
			defer cancel()
			switch tc.ctx {
			case "canceled":
				cancel()
			case "short":
				ctx, cancel = context.WithTimeout(ctx, 200*time.Millisecond)
				defer cancel()
			}
			type result struct {
				b   *bus.NATS
				err error
			}
			done := make(chan result, 1)
			go func() {
				b, err := bus.NewNATS(ctx, tc.url, nil, bus.WithConnectTimeout(tc.timeout))
				done <- result{b, err}
			}()
			// Only a hang fails this (ignoring the context or the connect
			// timeout never returns against the silent server, or takes the
			// hour), never a slow machine: hangGuard is minutes.
			var r result
			select {
			case r = <-done:
			case <-time.After(hangGuard):
				t.Fatalf("NewNATS(%q) did not return in %v", tc.url, hangGuard)
			}
			b, err := r.b, r.err
			if err == nil {
				_ = b.Close()
				t.Fatalf("NewNATS(%q) succeeded", tc.url)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q does not contain %q", err, tc.want)
			}
			if strings.Contains(err.Error(), "s3cret") {
				t.Errorf("error %q leaks the credential", err)
			}
			if tc.is != nil && !errors.Is(err, tc.is) {
				t.Errorf("error %v is not %v", err, tc.is)
			}
		})
	}
}
