package main

import (
	"bufio"
	"bytes"
	"context"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// hearthBin is the binary under test, built once by TestMain.
var hearthBin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "hearth-bin")
	if err != nil {
		panic(err)
	}
	hearthBin = filepath.Join(dir, "hearth")
	build := exec.Command("go", "build", "-o", hearthBin, ".")
	build.Env = append(os.Environ(), "CGO_ENABLED=0") // the static build must work
	if out, err := build.CombinedOutput(); err != nil {
		os.Stderr.Write(out)
		panic(err)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// run runs the binary to completion and returns exit code and stderr.
// noFixedPorts keeps a test's hearth off the WebRTC media plane's fixed
// default ports (:7882/udp, :7881/tcp), which parallel tests would share.
var noFixedPorts = []string{"--rtc-udp-addr=127.0.0.1:0", "--rtc-tcp-addr="}

func run(t *testing.T, dir string, args ...string) (int, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), hangGuard)
	defer cancel()
	// The media plane's default ports are fixed: tests running side by
	// side put it on a free port and leave ICE-TCP off.
	args = append(args, noFixedPorts...)
	cmd := exec.CommandContext(ctx, hearthBin, args...)
	cmd.Dir = dir
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return code, stderr.String()
}

func TestBadStartsAreOneLineErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"bad addr", []string{"--addr", "nonsense"}, "--addr"},
		{"bad log level", []string{"--log-level", "loud"}, "--log-level"},
		{"bad bus", []string{"--bus", "redis://x"}, "--bus"},
		{"postgres down", []string{"--addr", "127.0.0.1:0", "--database", "postgres://u:pw@127.0.0.1:1/x?connect_timeout=2"}, "cannot connect"},
		{"nats down", []string{"--addr", "127.0.0.1:0", "--bus", "nats://127.0.0.1:1"}, "bus"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			code, stderr := run(t, t.TempDir(), tt.args...)
			lines := strings.Split(strings.TrimSpace(stderr), "\n")
			last := lines[len(lines)-1]
			if code == 0 || !strings.HasPrefix(last, "hearth: ") || !strings.Contains(last, tt.want) {
				t.Fatalf("exit %d, stderr:\n%s", code, stderr)
			}
			if strings.Contains(stderr, "goroutine ") || strings.Contains(stderr, "panic") {
				t.Fatalf("stack trace in output:\n%s", stderr)
			}
		})
	}
}

// listenAddr finds the address in hearth's "hearth listening" log line.
var listenAddr = regexp.MustCompile(`addr=("?)([^\s"]+)`)

// startServer runs `hearth` in dir on a port the OS picks and waits until
// it logs that it listens; it returns the address from that log line.
func startServer(t *testing.T, dir string) (*exec.Cmd, string) {
	t.Helper()
	cmd := exec.Command(hearthBin, append([]string{"--addr", "127.0.0.1:0", "--rtmp-addr", "127.0.0.1:0", "--admin-password", "adminpassword"}, noFixedPorts...)...)
	cmd.Dir = dir
	pr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	ready := make(chan string, 1)
	var logMu sync.Mutex
	var logged strings.Builder
	go func() {
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			logMu.Lock()
			logged.WriteString(sc.Text() + "\n")
			logMu.Unlock()
			if strings.Contains(sc.Text(), "hearth listening") {
				m := listenAddr.FindStringSubmatch(sc.Text())
				if m == nil {
					m = []string{"", "", ""}
				}
				ready <- m[2]
				for sc.Scan() {
				}
				return
			}
		}
	}()
	select {
	case addr := <-ready:
		if addr == "" {
			t.Fatalf("no address in the listening line:\n%s", logged.String())
		}
		return cmd, addr
	case <-time.After(hangGuard):
		logMu.Lock()
		defer logMu.Unlock()
		t.Fatalf("server did not start; its log:\n%s", logged.String())
	}
	return nil, ""
}

// TestServeDefaultsAndGracefulStop: with no subcommand, hearth serves on an
// empty directory with its data in ./data (SQLite in WAL mode), answers
// /healthz, refuses a second instance on the same data, and exits 0 on
// SIGTERM.
func TestServeDefaultsAndGracefulStop(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	begin := time.Now()
	cmd, addr := startServer(t, dir)
	res, err := http.Get("http://" + addr + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusOK {
		t.Fatalf("healthz %d", res.StatusCode)
	}
	t.Logf("healthz answered %v after start", time.Since(begin))
	for _, f := range []string{"data/hearth.db", "data/hearth.db-wal"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
	}

	code, stderr := run(t, dir, "--addr", "127.0.0.1:0")
	if code == 0 || !strings.Contains(stderr, "locked by another process") {
		t.Fatalf("second instance on the same data: exit %d\n%s", code, stderr)
	}

	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("SIGTERM exit: %v", err)
	}
}

func TestSubcommands(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	if code, stderr := run(t, dir, "migrate"); code != 0 {
		t.Fatalf("migrate: %s", stderr)
	}
	if code, stderr := run(t, dir, "admin", "create-user", "zoe", "--password", "password1", "--admin"); code != 0 {
		t.Fatalf("create-user: %s", stderr)
	}
	if code, _ := run(t, dir, "admin", "create-user", "zoe", "--password", "password1"); code == 0 {
		t.Fatal("duplicate user accepted")
	}
	cmd := exec.Command(hearthBin, "token", "create", "bot", "--scope", "CAN_SEND_MESSAGES,HAS_ADMIN_ACCESS")
	cmd.Dir = dir
	out, err := cmd.Output()
	if err != nil || !strings.Contains(string(out), "token:") || !strings.Contains(string(out), "HAS_ADMIN_ACCESS") {
		t.Fatalf("token create: %v %s", err, out)
	}
	if code, stderr := run(t, dir, "token", "create", "bot", "--scope", "ROOT"); code == 0 || !strings.Contains(stderr, "unknown scope") {
		t.Fatalf("bad scope: %d %s", code, stderr)
	}
	cmd = exec.Command(hearthBin, "version")
	if out, err := cmd.Output(); err != nil || !strings.HasPrefix(string(out), "hearth ") {
		t.Fatalf("version: %v %s", err, out)
	}
}
