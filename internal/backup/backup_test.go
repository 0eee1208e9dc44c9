package backup_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hearth-community/hearth/internal/app"
	"github.com/hearth-community/hearth/internal/backup"
	"github.com/hearth-community/hearth/internal/community"
	"github.com/hearth-community/hearth/internal/config"
	"github.com/hearth-community/hearth/internal/fault"
	"github.com/hearth-community/hearth/internal/identity"
)

func nodeConfig(dir string) config.Config {
	return config.Config{Addr: "127.0.0.1:0", DataDir: dir, Bus: "local", AdminUser: "admin", AdminPassword: "adminpassword",
		AccessTokenTTL: 15 * time.Minute, RefreshTokenTTL: 24 * time.Hour, LogLevel: "info", LogFormat: "text",
		MaxBodyBytes: 1 << 20, ShutdownTimeout: 5 * time.Second, RTMPAddr: ""}
}

// TestRoundTrip backs up a node while it is open (the database locked by
// the running server, as in production), restores the backup into a new
// data directory, and starts a node there: the account, its password, its
// community and the files are all back.
func TestRoundTrip(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	cfg := nodeConfig(t.TempDir())
	a, err := app.New(ctx, cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	acc, err := a.Identity.Register(ctx, identity.RegisterInput{Username: "ada", Password: "correct horse battery"})
	if err != nil {
		t.Fatal(err)
	}
	com, err := a.Community.Create(ctx, acc.ID, community.CreateInput{Name: "Kitchen"})
	if err != nil {
		t.Fatal(err)
	}
	files := map[string][]byte{
		"uploads/ab/cd/photo.png": []byte("\x89PNG not really"),
		"emoji/party/parrot.gif":  []byte("GIF89a"),
		"logo/logo.png":           []byte("logo bytes"),
	}
	for name, b := range files {
		p := filepath.Join(cfg.DataDir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o750); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, b, 0o640); err != nil {
			t.Fatal(err)
		}
	}
	// Live segments are not state: they must not be copied.
	if err := os.MkdirAll(filepath.Join(cfg.DataDir, "hls", "stage"), 0o750); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(cfg.DataDir, "hls", "stage", "seg1.ts"), []byte("x"), 0o640); err != nil {
		t.Fatal(err)
	}

	bdir := filepath.Join(t.TempDir(), "backup")
	res, err := backup.Backup(ctx, &cfg, bdir, "test")
	if err != nil {
		t.Fatalf("backup of a running node: %v", err)
	}
	if res.Files != len(files) {
		t.Errorf("backup copied %d files, want %d (the database's own files and hls/ excluded)", res.Files, len(files))
	}
	// A write after the snapshot is not in it.
	if _, err := a.Identity.Register(ctx, identity.RegisterInput{Username: "late", Password: "written after the backup"}); err != nil {
		t.Fatal(err)
	}
	a.Close()

	// A second backup into the same directory is refused.
	if _, err := backup.Backup(ctx, &cfg, bdir, "test"); fault.KindOf(err) != fault.Conflict {
		t.Errorf("backup into a non-empty directory: err = %v, want a conflict", err)
	}
	// Restoring over the live data directory is refused.
	if _, err := backup.Restore(ctx, &cfg, bdir); fault.KindOf(err) != fault.Conflict {
		t.Errorf("restore into a non-empty data directory: err = %v, want a conflict", err)
	}

	cfg2 := nodeConfig(filepath.Join(t.TempDir(), "restored"))
	if _, err := backup.Restore(ctx, &cfg2, bdir); err != nil {
		t.Fatalf("restore: %v", err)
	}
	for name, want := range files {
		got, err := os.ReadFile(filepath.Join(cfg2.DataDir, name))
		if err != nil || !bytes.Equal(got, want) {
			t.Errorf("restored %s = %q, %v; want %q", name, got, err, want)
		}
	}
	if _, err := os.Stat(filepath.Join(cfg2.DataDir, "hls")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("hls/ was restored (err = %v); live segments are not part of a backup", err)
	}
	b, err := app.New(ctx, cfg2, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatalf("start on the restored data directory: %v", err)
	}
	defer b.Close()
	got, err := b.Identity.CheckCredentials(ctx, "ada", "correct horse battery", "127.0.0.1")
	if err != nil || got.ID != acc.ID {
		t.Fatalf("sign in on the restored node: %v, %v", got, err)
	}
	members, err := b.Community.Members(ctx, acc.ID, com.ID)
	if err != nil || len(members) != 1 {
		t.Fatalf("restored community members = %v, %v", members, err)
	}
	if _, err := b.Identity.AccountByUsername(ctx, "late"); err == nil {
		t.Error("an account registered after the snapshot is in the backup")
	}
}

func TestRefusals(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pg := nodeConfig(t.TempDir())
	pg.Database = "postgres://u:secret@127.0.0.1:1/db"
	_, err := backup.Backup(ctx, &pg, filepath.Join(t.TempDir(), "b"), "test")
	if err == nil || !strings.Contains(err.Error(), "pg_dump") || strings.Contains(err.Error(), "secret") {
		t.Errorf("backup of a PostgreSQL node: err = %v, want a pointer to pg_dump", err)
	}
	inside := nodeConfig(t.TempDir())
	if _, err := backup.Backup(ctx, &inside, filepath.Join(inside.DataDir, "b"), "test"); fault.KindOf(err) != fault.Invalid {
		t.Errorf("backup into the data directory: err = %v, want invalid", err)
	}
	if _, err := backup.Restore(ctx, &inside, filepath.Join(t.TempDir(), "missing")); fault.KindOf(err) != fault.NotFound {
		t.Errorf("restore of a missing backup: err = %v, want not found", err)
	}
}

// TestCutBackupAndRestore covers what a kill -9 leaves: a backup without its
// MANIFEST is refused, and a restore cut short leaves a data directory a
// node refuses to start on, which the next restore clears and redoes.
func TestCutBackupAndRestore(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	cfg := nodeConfig(t.TempDir())
	a, err := app.New(ctx, cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	acc, err := a.Identity.Register(ctx, identity.RegisterInput{Username: "ada", Password: "correct horse battery"})
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(cfg.DataDir, "uploads"), 0o750); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(cfg.DataDir, "uploads", "photo.png"), []byte("whole file"), 0o640); err != nil {
		t.Fatal(err)
	}
	bdir := filepath.Join(t.TempDir(), "backup")
	if _, err := backup.Backup(ctx, &cfg, bdir, "test"); err != nil {
		t.Fatal(err)
	}
	a.Close()
	if b, err := os.ReadFile(filepath.Join(bdir, "MANIFEST")); err != nil || !strings.HasPrefix(string(b), "hearth backup\n") {
		t.Fatalf("MANIFEST = %q, %v", b, err)
	}

	// A backup cut before its MANIFEST: refused, and nothing is written.
	cut := filepath.Join(t.TempDir(), "cut")
	if err := os.CopyFS(cut, os.DirFS(bdir)); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(filepath.Join(cut, "MANIFEST")); err != nil {
		t.Fatal(err)
	}
	fresh := nodeConfig(filepath.Join(t.TempDir(), "fresh"))
	if _, err := backup.Restore(ctx, &fresh, cut); fault.KindOf(err) != fault.Invalid || !strings.Contains(err.Error(), "MANIFEST") {
		t.Errorf("restore of a backup without MANIFEST: err = %v, want invalid naming the MANIFEST", err)
	}
	if _, err := os.Stat(fresh.DataDir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a refused restore wrote %s (err = %v)", fresh.DataDir, err)
	}

	for _, outside := range []bool{false, true} {
		dst := nodeConfig(filepath.Join(t.TempDir(), "restored"))
		dbFile := filepath.Join(dst.DataDir, "hearth.db")
		if outside {
			dbFile = filepath.Join(t.TempDir(), "elsewhere", "node.db")
			dst.Database = dbFile
			if err := os.MkdirAll(filepath.Dir(dbFile), 0o750); err != nil {
				t.Fatal(err)
			}
		}
		// What a restore killed while moving into place leaves: its stage
		// with a cut database, a file already moved, and (database outside
		// the data directory) the database already renamed into place.
		stage := filepath.Join(dst.DataDir, ".restore-partial")
		if err := os.MkdirAll(filepath.Join(stage, "cut-leftover"), 0o750); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(stage, "hearth.db"), []byte("SQLite format 3\x00cut"), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.MkdirAll(filepath.Join(dst.DataDir, "uploads"), 0o750); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dst.DataDir, "uploads", "photo.png"), []byte("whole"), 0o640); err != nil {
			t.Fatal(err)
		}
		if outside {
			if err := os.WriteFile(dbFile, []byte("SQLite format 3\x00cut"), 0o600); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := app.New(ctx, dst, slog.New(slog.DiscardHandler)); err == nil || !strings.Contains(err.Error(), "did not finish") {
			t.Fatalf("outside=%v: start on a cut restore: err = %v, want a refusal naming it", outside, err)
		}
		if _, err := backup.Restore(ctx, &dst, bdir); err != nil {
			t.Fatalf("outside=%v: restore over a cut restore: %v", outside, err)
		}
		if _, err := os.Stat(stage); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("outside=%v: the stage is still there after a restore (err = %v)", outside, err)
		}
		if _, err := os.Stat(filepath.Join(dst.DataDir, "cut-leftover")); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("outside=%v: the cut restore's leftovers survived (err = %v)", outside, err)
		}
		if got, err := os.ReadFile(filepath.Join(dst.DataDir, "uploads", "photo.png")); err != nil || string(got) != "whole file" {
			t.Errorf("outside=%v: restored upload = %q, %v", outside, got, err)
		}
		b, err := app.New(ctx, dst, slog.New(slog.DiscardHandler))
		if err != nil {
			t.Fatalf("outside=%v: start on the redone restore: %v", outside, err)
		}
		got, err := b.Identity.CheckCredentials(ctx, "ada", "correct horse battery", "127.0.0.1")
		b.Close()
		if err != nil || got.ID != acc.ID {
			t.Errorf("outside=%v: sign in on the restored node: %v, %v", outside, got, err)
		}
	}
}
