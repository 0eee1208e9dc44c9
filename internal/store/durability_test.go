package store_test

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/hearth-community/hearth/internal/identity"
	"github.com/hearth-community/hearth/internal/store"
)

// TestMain lets the test binary act as a writer child process for
// TestAcknowledgedWriteSurvivesKill9.
func TestMain(m *testing.M) {
	if path := os.Getenv("HEARTH_DURABILITY_CHILD"); path != "" {
		os.Exit(durabilityChild(path))
	}
	os.Exit(m.Run())
}

// durabilityChild writes accounts one by one and prints "ack <n>" after each
// commit returns, forever, until it is killed.
func durabilityChild(path string) int {
	ctx := context.Background()
	db, err := store.Open(ctx, path, nil)
	if err != nil {
		fmt.Println("error", err)
		return 1
	}
	if err := db.Migrate(ctx); err != nil {
		fmt.Println("error", err)
		return 1
	}
	st := db.Identity()
	for i := 0; ; i++ {
		now := time.Now()
		a := &identity.Account{ID: identity.NewID(), Kind: identity.Registered, Username: "u" + strconv.Itoa(i), CreatedAt: now, UpdatedAt: now}
		if err := st.CreateAccount(ctx, a); err != nil {
			fmt.Println("error", err)
			return 1
		}
		fmt.Println("ack", i)
	}
}

// TestAcknowledgedWriteSurvivesKill9: a child process commits writes and
// acknowledges each one; after SIGKILL, every acknowledged write is there.
func TestAcknowledgedWriteSurvivesKill9(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "hearth.db")
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "HEARTH_DURABILITY_CHILD="+path)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(out)
	last := -1
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "error") {
			t.Fatal(line)
		}
		if n, err := strconv.Atoi(strings.TrimPrefix(line, "ack ")); err == nil {
			last = n
		}
		if last >= 200 {
			break
		}
	}
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait()
	if last < 200 {
		t.Fatalf("child acknowledged only %d writes", last)
	}

	db, err := store.Open(context.Background(), path, nil)
	if err != nil {
		t.Fatalf("reopen after kill -9: %v", err)
	}
	defer db.Close()
	st := db.Identity()
	for i := 0; i <= last; i++ {
		if _, err := st.AccountByUsername(context.Background(), "u"+strconv.Itoa(i)); err != nil {
			t.Fatalf("acknowledged write u%d lost after kill -9: %v", i, err)
		}
	}
}

// TestSecondOpenIsRefused: a database file already open by another process
// (here: another handle) gives a clear error instead of a hang or corruption.
func TestSecondOpenIsRefused(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "hearth.db")
	db, err := store.Open(context.Background(), path, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	_, err = store.Open(context.Background(), path, nil)
	if err == nil || !strings.Contains(err.Error(), "locked by another process") || strings.Contains(err.Error(), "\n") {
		t.Fatalf("second open: %v", err)
	}
}

// TestOpenWaitsForALockJustReleased: a node reopening its database right
// after closing it (a restart in place) gets the lock even while a copy of
// the old descriptor lingers for a moment (a forked child before its exec,
// simulated by holding the lock until just after the second open began).
func TestOpenWaitsForALockJustReleased(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "hearth.db")
	db, err := store.Open(context.Background(), path, nil)
	if err != nil {
		t.Fatal(err)
	}
	opened := make(chan error, 1)
	go func() {
		db2, err := store.Open(context.Background(), path, nil)
		if err == nil {
			db2.Close()
		}
		opened <- err
	}()
	time.Sleep(100 * time.Millisecond) // the second open is trying by now, or starts after the close: both must succeed
	db.Close()
	if err := <-opened; err != nil {
		t.Fatalf("open right after the holder closed: %v", err)
	}
}

func TestPostgresDownIsOneLineError(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), hangGuard)
	defer cancel()
	_, err := store.Open(ctx, "postgres://hearth:secretpw@127.0.0.1:1/none?sslmode=disable&connect_timeout=2", nil)
	if err == nil {
		t.Fatal("expected an error")
	}
	if msg := err.Error(); strings.Contains(msg, "secretpw") || strings.Contains(msg, "\n") || !strings.Contains(msg, "cannot connect") {
		t.Fatalf("bad error: %q", msg)
	}
}
