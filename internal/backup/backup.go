// Package backup copies a node's state out of and back into a data
// directory: the SQLite database (a consistent snapshot taken with VACUUM
// INTO while the server runs) and the files beside it (uploads, custom
// emoji, logo, public files, anything a later version adds). PostgreSQL is
// refused: its own pg_dump is the right tool.
//
// A backup directory holds:
//
//	hearth.db      the database snapshot
//	files/...      the data directory's files, same layout
//	MANIFEST       what wrote it and when; written last, so a backup without
//	               one did not finish and restore refuses it
//
// A restore is staged: everything is copied under the data directory's
// .restore-partial folder first and moved into place at the end, so a
// restore cut short (kill -9, a full disk) leaves that folder behind. A
// node refuses to start on a data directory that holds it, and the next
// restore into the directory clears what the cut one left and starts over.
package backup

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	_ "modernc.org/sqlite" // the "sqlite" database/sql driver (store registers the same one)

	"github.com/hearth-community/hearth/internal/config"
	"github.com/hearth-community/hearth/internal/fault"
)

// dbName and filesDir name the two parts of a backup directory.
const (
	dbName   = "hearth.db"
	filesDir = "files"
	manifest = "MANIFEST"
	// partial is the staging folder of a restore in progress, in the data
	// directory (so its moves never cross a file system, a mounted volume
	// included); partialSuffix names a database file staged outside it.
	partial       = ".restore-partial"
	partialSuffix = ".restore-partial"
	// manifestHead opens every MANIFEST this package writes.
	manifestHead = "hearth backup\n"
)

// Unfinished says whether dataDir holds what an unfinished restore left,
// with an error that names the fix; a node must not start on it.
func Unfinished(dataDir string) error {
	if _, err := os.Stat(filepath.Join(dataDir, partial)); err == nil {
		return fault.New(fault.Conflict, fmt.Sprintf("a restore into %s did not finish: run 'hearth restore' again with the same --data-dir (it clears what the cut restore left and starts over)", dataDir))
	}
	return nil
}

// skipped are data-directory entries that are not state worth keeping: live
// HLS segments and thumbnails are rewritten by the next broadcast, and the
// node's id (node-id, which names the node that owns a recording in
// progress) is made anew by a restored node, so a copy restored beside a
// running original is never taken for it; the restored node closes the
// original's open recordings from their files.
var skipped = map[string]bool{"hls": true, "node-id": true}

// Result says what a backup or restore copied.
type Result struct {
	Database string // the database file written
	Files    int    // regular files copied
	Bytes    int64  // their total size
	Skipped  []string
}

// Backup writes a consistent copy of cfg's node into dir, which must not
// exist or be empty. It works while the server runs: the database snapshot
// is one read transaction, so it never sees half a write; files are copied
// after it, so every file the snapshot names is already on disk (files are
// written before the row that points to them).
func Backup(ctx context.Context, cfg *config.Config, dir, version string) (*Result, error) {
	dsn := cfg.DatabaseDSN()
	if config.IsPostgres(dsn) {
		return nil, fault.New(fault.Invalid, "the database is PostgreSQL: back it up with pg_dump (e.g. pg_dump -Fc -f hearth.dump \"$HEARTH_DATABASE\"), and the data directory's files with this command's --files-only")
	}
	return backup(ctx, cfg, dir, version, false)
}

// BackupFiles copies only the data directory's files (for a PostgreSQL
// node, whose database pg_dump saves).
func BackupFiles(ctx context.Context, cfg *config.Config, dir, version string) (*Result, error) {
	return backup(ctx, cfg, dir, version, true)
}

func backup(ctx context.Context, cfg *config.Config, dir, version string, filesOnly bool) (*Result, error) {
	dataDir, err := filepath.Abs(cfg.DataDir)
	if err != nil {
		return nil, err
	}
	if st, err := os.Stat(dataDir); err != nil || !st.IsDir() {
		return nil, fault.New(fault.NotFound, fmt.Sprintf("data directory %s does not exist", cfg.DataDir))
	}
	out, err := filepath.Abs(dir)
	if err != nil {
		return nil, err
	}
	if within(out, dataDir) {
		return nil, fault.New(fault.Invalid, fmt.Sprintf("backup directory %s is inside the data directory %s: choose a directory outside it", dir, cfg.DataDir))
	}
	if err := emptyDir(out); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(out, 0o750); err != nil {
		return nil, err
	}
	res := &Result{}
	var dbPath string
	if !filesOnly {
		dbPath, err = filepath.Abs(cfg.DatabaseDSN())
		if err != nil {
			return nil, err
		}
		if _, err := os.Stat(dbPath); err != nil {
			return nil, fault.New(fault.NotFound, fmt.Sprintf("database %s does not exist", dbPath))
		}
		res.Database = filepath.Join(out, dbName)
		if err := snapshot(ctx, dbPath, res.Database); err != nil {
			return nil, err
		}
	}
	// The database's own files are never copied raw, whatever its name.
	own := map[string]bool{}
	if p, err := filepath.Abs(cfg.DatabaseDSN()); err == nil && !config.IsPostgres(cfg.DatabaseDSN()) {
		for _, s := range []string{"", "-wal", "-shm", "-journal", ".lock"} {
			own[p+s] = true
		}
	}
	if err := copyTree(ctx, dataDir, filepath.Join(out, filesDir), func(path string, top bool, name string) bool {
		return own[path] || (top && skipped[name])
	}, res); err != nil {
		return nil, err
	}
	what := "database and files"
	if filesOnly {
		what = "files only (the database is PostgreSQL: use pg_dump)"
	}
	m := fmt.Sprintf(manifestHead+"version: %s\ncreated: %s\ncontents: %s\nfiles: %d (%d bytes)\n",
		version, time.Now().UTC().Format(time.RFC3339), what, res.Files, res.Bytes)
	// The manifest is written last, synced, and only once the rest is on
	// disk: its presence is what tells restore the backup is whole.
	if err := syncDirs(out); err != nil {
		return nil, err
	}
	if err := writeSynced(filepath.Join(out, manifest), []byte(m)); err != nil {
		return nil, err
	}
	if err := syncDirs(out); err != nil {
		return nil, err
	}
	return res, nil
}

// snapshot writes a consistent copy of the SQLite database at src to dst
// with VACUUM INTO, then checks it. It does not take the server's lock file:
// SQLite's own locking lets a reader snapshot a database another process is
// writing (WAL mode), and the copy is one read transaction.
func snapshot(ctx context.Context, src, dst string) error {
	db, err := sql.Open("sqlite", "file:"+src+"?_pragma=busy_timeout(10000)")
	if err != nil {
		return fmt.Errorf("database %s: %w", src, err)
	}
	defer func() { _ = db.Close() }()
	if _, err := db.ExecContext(ctx, "VACUUM INTO $1", dst); err != nil {
		return fmt.Errorf("snapshot of %s: %w", src, err)
	}
	return check(ctx, dst)
}

// check runs SQLite's integrity check on a database file.
func check(ctx context.Context, path string) error {
	db, err := sql.Open("sqlite", "file:"+path+"?mode=ro")
	if err != nil {
		return err
	}
	defer func() { _ = db.Close() }()
	var res string
	if err := db.QueryRowContext(ctx, "PRAGMA integrity_check").Scan(&res); err != nil {
		return fmt.Errorf("database %s: %w", path, err)
	}
	if res != "ok" {
		return fmt.Errorf("database %s fails its integrity check: %s", path, res)
	}
	return nil
}

// Restore puts a backup written by Backup into cfg's data directory, which
// must be empty (or not exist), as must the database file. A PostgreSQL
// node restores only the files; its database comes back with pg_restore.
// A backup without its MANIFEST did not finish and is refused. The copy is
// staged (see the package comment): if an earlier restore into the same
// data directory was cut short, what it left is removed first.
func Restore(ctx context.Context, cfg *config.Config, dir string) (*Result, error) {
	in, err := filepath.Abs(dir)
	if err != nil {
		return nil, err
	}
	if st, err := os.Stat(in); err != nil || !st.IsDir() {
		return nil, fault.New(fault.NotFound, fmt.Sprintf("backup directory %s does not exist", dir))
	}
	if b, err := os.ReadFile(filepath.Join(in, manifest)); err != nil || !strings.HasPrefix(string(b), manifestHead) {
		return nil, fault.New(fault.Invalid, fmt.Sprintf("backup %s has no MANIFEST: the backup did not finish (or this is not a hearth backup); take a new one", dir))
	}
	dataDir, err := filepath.Abs(cfg.DataDir)
	if err != nil {
		return nil, err
	}
	res := &Result{}
	snap := filepath.Join(in, dbName)
	_, statErr := os.Stat(snap)
	hasDB := statErr == nil
	dsn := cfg.DatabaseDSN()
	switch {
	case config.IsPostgres(dsn) && hasDB:
		return nil, fault.New(fault.Invalid, "this backup holds a SQLite database but --database is PostgreSQL: restore with the SQLite default, or load the data with pg_restore")
	case !config.IsPostgres(dsn) && !hasDB:
		return nil, fault.New(fault.Invalid, fmt.Sprintf("backup %s holds no %s (a files-only backup of a PostgreSQL node?)", dir, dbName))
	}
	var dst string // the database file, when the backup has one
	if hasDB {
		if dst, err = filepath.Abs(dsn); err != nil {
			return nil, err
		}
	}
	stage := filepath.Join(dataDir, partial)
	if _, err := os.Stat(stage); err == nil {
		// A cut restore: everything in the data directory (and the database
		// file, which is moved into place before the stage is removed) is
		// what it wrote, since it started on an empty directory.
		if err := clearCut(dataDir, dst); err != nil {
			return nil, err
		}
	}
	if err := emptyDir(dataDir); err != nil {
		return nil, fault.New(fault.Conflict, fmt.Sprintf("restore refuses to overwrite: %v; restore into a new, empty --data-dir", err))
	}
	if dst != "" {
		if _, err := os.Stat(dst); err == nil {
			return nil, fault.New(fault.Conflict, fmt.Sprintf("database %s already exists: restore refuses to overwrite it", dst))
		}
		if err := check(ctx, snap); err != nil {
			return nil, err
		}
	}
	if err := os.MkdirAll(stage, 0o750); err != nil {
		return nil, err
	}
	if err := syncDirs(dataDir, filepath.Dir(dataDir)); err != nil {
		return nil, err
	}
	// The database goes into the stage when it lives in the data directory
	// (the default), else beside its final name.
	var dbStaged string
	if dst != "" {
		if within(dst, dataDir) {
			rel, err := filepath.Rel(dataDir, dst)
			if err != nil {
				return nil, err
			}
			dbStaged = filepath.Join(stage, rel)
		} else {
			dbStaged = dst + partialSuffix
			_ = os.Remove(dbStaged)
		}
		if err := os.MkdirAll(filepath.Dir(dbStaged), 0o750); err != nil {
			return nil, err
		}
		if err := copyFile(snap, dbStaged, 0o600); err != nil {
			return nil, err
		}
		res.Database = dst
	}
	files := filepath.Join(in, filesDir)
	if _, err := os.Stat(files); err == nil {
		if err := copyTree(ctx, files, stage, func(_ string, top bool, name string) bool {
			return top && name == partial
		}, res); err != nil {
			return nil, err
		}
	}
	if dst != "" && !within(dst, dataDir) {
		if err := os.Rename(dbStaged, dst); err != nil {
			return nil, err
		}
		if err := syncDirs(filepath.Dir(dst)); err != nil {
			return nil, err
		}
	}
	ents, err := os.ReadDir(stage)
	if err != nil {
		return nil, err
	}
	for _, e := range ents {
		if err := os.Rename(filepath.Join(stage, e.Name()), filepath.Join(dataDir, e.Name())); err != nil {
			return nil, err
		}
	}
	if err := syncDirs(dataDir); err != nil {
		return nil, err
	}
	if err := os.Remove(stage); err != nil {
		return nil, err
	}
	if err := syncDirs(dataDir); err != nil {
		return nil, err
	}
	return res, nil
}

// clearCut removes what a cut restore left: every entry of dataDir and the
// database file dst (with its staged copy), if given.
func clearCut(dataDir, dst string) error {
	ents, err := os.ReadDir(dataDir)
	if err != nil {
		return err
	}
	for _, e := range ents {
		if err := os.RemoveAll(filepath.Join(dataDir, e.Name())); err != nil {
			return fmt.Errorf("clearing the restore that did not finish: %w", err)
		}
	}
	if dst != "" && !within(dst, dataDir) {
		for _, p := range []string{dst, dst + partialSuffix} {
			if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
				return fmt.Errorf("clearing the restore that did not finish: %w", err)
			}
		}
	}
	return nil
}

// writeSynced writes a new file and syncs it.
func writeSynced(path string, b []byte) error {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
	if err != nil {
		return err
	}
	if _, err := f.Write(b); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// syncDirs syncs directories, so the entries created or renamed in them
// survive a crash of the machine, not only of the process.
func syncDirs(dirs ...string) error {
	for _, d := range dirs {
		f, err := os.Open(d)
		if err != nil {
			return err
		}
		err = f.Sync()
		f.Close()
		if err != nil {
			return fmt.Errorf("sync %s: %w", d, err)
		}
	}
	return nil
}

// emptyDir accepts a directory that does not exist or has no entries.
func emptyDir(dir string) error {
	ents, err := os.ReadDir(dir)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil
	case err != nil:
		return err
	case len(ents) > 0:
		return fault.New(fault.Conflict, fmt.Sprintf("%s is not empty", dir))
	}
	return nil
}

func within(path, dir string) bool {
	rel, err := filepath.Rel(dir, path)
	return err == nil && (rel == "." || (rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator))))
}

// copyTree copies the regular files and directories under src into dst.
// Links and other special files are listed in res.Skipped, not followed.
func copyTree(ctx context.Context, src, dst string, skip func(path string, top bool, name string) bool, res *Result) error {
	return filepath.WalkDir(src, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		rel, err := filepath.Rel(src, path)
		if err != nil {
			return err
		}
		if rel == "." {
			return os.MkdirAll(dst, 0o750)
		}
		if skip != nil && skip(path, filepath.Dir(rel) == ".", d.Name()) {
			if d.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		target := filepath.Join(dst, rel)
		switch {
		case d.IsDir():
			return os.MkdirAll(target, 0o750)
		case d.Type().IsRegular():
			info, err := d.Info()
			if err != nil {
				return err
			}
			if err := copyFile(path, target, info.Mode().Perm()); err != nil {
				return err
			}
			res.Files++
			res.Bytes += info.Size()
		default:
			res.Skipped = append(res.Skipped, rel)
		}
		return nil
	})
}

// copyFile copies one file and syncs it, so a backup that said it finished
// is on disk.
func copyFile(src, dst string, perm fs.FileMode) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_CREATE|os.O_EXCL|os.O_WRONLY, perm)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return fmt.Errorf("copy %s: %w", src, err)
	}
	if err := out.Sync(); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}
