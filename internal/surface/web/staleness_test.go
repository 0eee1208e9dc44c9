package web

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

// sourceHash mirrors web/scripts/source-hash.mjs: the hash of the web app's
// build inputs that `npm run build` records in dist/source-hash.txt.
func sourceHash(webDir string) (string, error) {
	top := []string{"index.html", "package.json", "package-lock.json", "vite.config.ts", "tsconfig.json", "svelte.config.js"}
	var rel []string
	for _, f := range top {
		if st, err := os.Stat(filepath.Join(webDir, f)); err == nil && st.Mode().IsRegular() {
			rel = append(rel, f)
		}
	}
	for _, d := range []string{"src", "scripts", "public"} {
		err := filepath.WalkDir(filepath.Join(webDir, d), func(p string, e fs.DirEntry, err error) error {
			if err != nil {
				if errors.Is(err, fs.ErrNotExist) {
					return nil
				}
				return err
			}
			if e.Type().IsRegular() {
				r, err := filepath.Rel(webDir, p)
				if err != nil {
					return err
				}
				rel = append(rel, filepath.ToSlash(r))
			}
			return nil
		})
		if err != nil {
			return "", err
		}
	}
	sort.Strings(rel)
	h := sha256.New()
	for _, r := range rel {
		b, err := os.ReadFile(filepath.Join(webDir, filepath.FromSlash(r)))
		if err != nil {
			return "", err
		}
		c := sha256.Sum256(b)
		fmt.Fprintf(h, "%s\x00%s\n", r, hex.EncodeToString(c[:]))
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// TestBuildIsCurrent fails when web/ changed after the committed build was
// made: run `make web` and commit internal/surface/web/dist.
func TestBuildIsCurrent(t *testing.T) {
	t.Parallel()
	webDir := filepath.Join("..", "..", "..", "web")
	if _, err := os.Stat(filepath.Join(webDir, "package.json")); err != nil {
		t.Skipf("no web/ sources beside this package (%v)", err)
	}
	want, err := sourceHash(webDir)
	if err != nil {
		t.Fatal(err)
	}
	got, err := embedded.ReadFile("dist/source-hash.txt")
	if err != nil {
		t.Fatalf("the embedded build records no source hash (run make web): %v", err)
	}
	if g := string(bytes.TrimSpace(got)); g != want {
		t.Fatalf("the embedded web build is stale: built from %s, web/ is now %s; run `make web` and commit internal/surface/web/dist", g, want)
	}
	if _, err := embedded.ReadFile("dist/index.html"); err != nil {
		t.Fatalf("the embedded build has no index.html: %v", err)
	}
}

// TestSourceHashSeesEdits proves the staleness check can fail: any change to
// an input changes the hash.
func TestSourceHashSeesEdits(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		edit func(dir string) error
	}{
		{"source edited", func(d string) error { return os.WriteFile(filepath.Join(d, "src", "main.ts"), []byte("x2"), 0o600) }},
		{"file added", func(d string) error { return os.WriteFile(filepath.Join(d, "src", "new.ts"), []byte(""), 0o600) }},
		{"lockfile edited", func(d string) error { return os.WriteFile(filepath.Join(d, "package-lock.json"), []byte("{}"), 0o600) }},
		{"file renamed", func(d string) error {
			return os.Rename(filepath.Join(d, "src", "main.ts"), filepath.Join(d, "src", "Main.ts"))
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			d := t.TempDir()
			must(t, os.MkdirAll(filepath.Join(d, "src"), 0o750))
			must(t, os.WriteFile(filepath.Join(d, "package.json"), []byte("{}"), 0o600))
			must(t, os.WriteFile(filepath.Join(d, "src", "main.ts"), []byte("x"), 0o600))
			before, err := sourceHash(d)
			must(t, err)
			must(t, tt.edit(d))
			after, err := sourceHash(d)
			must(t, err)
			if before == after || !strings.EqualFold(before, strings.ToLower(before)) {
				t.Fatalf("hash did not change: %s", before)
			}
		})
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
