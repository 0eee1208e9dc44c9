// Package cli is the hearth command line: serve (the default), migrate,
// backup, restore, admin create-user, admin passwd, token create, version and
// config-docs. main.go only parses and runs it.
package cli

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"runtime"
	"runtime/debug"
	"strings"

	"github.com/hearth-community/hearth/internal/app"
	"github.com/hearth-community/hearth/internal/backup"
	"github.com/hearth-community/hearth/internal/config"
	"github.com/hearth-community/hearth/internal/identity"
)

// Version is the build version, set with -ldflags "-X …/internal/cli.Version=…".
var Version = "dev"

// CLI is the whole command line. Config flags are global, so they work
// before or after the subcommand.
type CLI struct {
	config.Config `embed:""`

	Serve      ServeCmd      `cmd:"" default:"withargs" help:"Run the Hearth server (the default command)."`
	Migrate    MigrateCmd    `cmd:"" help:"Apply database migrations and exit."`
	Backup     BackupCmd     `cmd:"" help:"Copy the database (a consistent snapshot; the server may keep running) and the data directory's files into a new directory."`
	Restore    RestoreCmd    `cmd:"" help:"Put a backup made by 'hearth backup' into an empty data directory."`
	Admin      AdminCmd      `cmd:"" help:"Manage accounts."`
	Token      TokenCmd      `cmd:"" help:"Manage integration tokens."`
	Version    VersionCmd    `cmd:"" help:"Print the version and exit."`
	ConfigDocs ConfigDocsCmd `cmd:"" name:"config-docs" hidden:"" help:"Print docs/configuration.md."`
}

// NewLogger builds the process logger from the config.
func NewLogger(cfg *config.Config) (*slog.Logger, error) {
	lvl, err := cfg.SlogLevel()
	if err != nil {
		return nil, err
	}
	opts := &slog.HandlerOptions{Level: lvl}
	if cfg.LogFormat == "json" {
		return slog.New(slog.NewJSONHandler(os.Stderr, opts)), nil
	}
	return slog.New(slog.NewTextHandler(os.Stderr, opts)), nil
}

func prepare(cfg *config.Config) (*slog.Logger, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return NewLogger(cfg)
}

// ServeCmd runs the server until SIGINT/SIGTERM.
type ServeCmd struct{}

// Run runs the server.
func (ServeCmd) Run(ctx context.Context, cfg *config.Config) error {
	logger, err := prepare(cfg)
	if err != nil {
		return err
	}
	if os.Getenv("GOGC") == "" && cfg.GCPercent > 0 {
		// Measured at 500 Together users (docs/performance.md): 30 keeps
		// the server under 100 MiB at no visible latency cost.
		debug.SetGCPercent(cfg.GCPercent)
	}
	a, err := app.New(ctx, *cfg, logger)
	if err != nil {
		return err
	}
	defer func() { _ = a.Close() }()
	releaseStartupMemory()
	err = a.Run(ctx)
	logger.Info("hearth stopped")
	return err
}

// MigrateCmd applies migrations.
type MigrateCmd struct{}

// Run migrates.
func (MigrateCmd) Run(ctx context.Context, cfg *config.Config) error {
	logger, err := prepare(cfg)
	if err != nil {
		return err
	}
	db, err := app.OpenDB(ctx, cfg, logger)
	if err != nil {
		return err
	}
	fmt.Println("database is up to date")
	return db.Close()
}

// AdminCmd groups account commands.
type AdminCmd struct {
	CreateUser CreateUserCmd `cmd:"" name:"create-user" help:"Create a registered account."`
	Passwd     PasswdCmd     `cmd:"" help:"Set an account's password and sign out its sessions."`
}

// CreateUserCmd creates an account.
type CreateUserCmd struct {
	Username string `arg:"" help:"Username (1-32 letters, digits, '_', '-', '.')."`
	Password string `help:"Password (8-128 characters). Read from HEARTH_NEW_USER_PASSWORD when empty." env:"HEARTH_NEW_USER_PASSWORD"`
	Email    string `help:"Optional email address."`
	IsAdmin  bool   `name:"admin" help:"Make the account an instance admin."`
}

// Run creates the account.
func (c CreateUserCmd) Run(ctx context.Context, cfg *config.Config) error {
	logger, err := prepare(cfg)
	if err != nil {
		return err
	}
	if c.Password == "" {
		return fmt.Errorf("--password (or HEARTH_NEW_USER_PASSWORD) is required")
	}
	db, err := app.OpenDB(ctx, cfg, logger)
	if err != nil {
		return err
	}
	defer func() { _ = db.Close() }()
	ids, err := app.NewIdentity(ctx, cfg, db, nil, logger)
	if err != nil {
		return err
	}
	a, err := ids.Register(ctx, identity.RegisterInput{Username: c.Username, Password: c.Password, Email: c.Email, Admin: c.IsAdmin})
	if err != nil {
		return err
	}
	fmt.Printf("created account %s (%s)\n", a.Username, a.ID)
	return nil
}

// TokenCmd groups token commands.
type TokenCmd struct {
	Create TokenCreateCmd `cmd:"" help:"Create an integration token; it is printed once."`
}

// TokenCreateCmd creates an integration token.
type TokenCreateCmd struct {
	Name   string   `arg:"" help:"A name for the token (who uses it)."`
	Scopes []string `name:"scope" required:"" help:"Scope to grant; repeat or comma-separate: CAN_SEND_MESSAGES, CAN_SEND_SYSTEM_MESSAGES, HAS_ADMIN_ACCESS."`
}

// Run creates the token.
func (c TokenCreateCmd) Run(ctx context.Context, cfg *config.Config) error {
	logger, err := prepare(cfg)
	if err != nil {
		return err
	}
	db, err := app.OpenDB(ctx, cfg, logger)
	if err != nil {
		return err
	}
	defer func() { _ = db.Close() }()
	ids, err := app.NewIdentity(ctx, cfg, db, nil, logger)
	if err != nil {
		return err
	}
	var scopes []string
	for _, s := range c.Scopes {
		for _, p := range strings.Split(s, ",") {
			if p = strings.TrimSpace(p); p != "" {
				scopes = append(scopes, p)
			}
		}
	}
	_, t, raw, err := ids.CreateIntegrationToken(ctx, c.Name, scopes)
	if err != nil {
		return err
	}
	fmt.Printf("token id: %s\nscopes:   %s\ntoken:    %s\n(store it now: it is not shown again)\n", t.ID, strings.Join(t.Scopes, ","), raw)
	return nil
}

// VersionCmd prints the version.
type VersionCmd struct{}

// Run prints the version.
func (VersionCmd) Run() error {
	fmt.Println("hearth", Version)
	return nil
}

// ConfigDocsCmd prints the generated configuration reference.
type ConfigDocsCmd struct{}

// Run prints docs/configuration.md.
func (ConfigDocsCmd) Run() error {
	fmt.Print(config.Markdown())
	return nil
}

// BackupCmd writes a backup directory.
type BackupCmd struct {
	Dir       string `arg:"" help:"Directory to write (must not exist, or be empty; outside the data directory)."`
	FilesOnly bool   `name:"files-only" help:"Copy only the data directory's files (for a PostgreSQL node, whose database pg_dump saves)."`
}

// Run writes the backup.
func (c BackupCmd) Run(ctx context.Context, cfg *config.Config) error {
	if _, err := prepare(cfg); err != nil {
		return err
	}
	var res *backup.Result
	var err error
	if c.FilesOnly {
		res, err = backup.BackupFiles(ctx, cfg, c.Dir, Version)
	} else {
		res, err = backup.Backup(ctx, cfg, c.Dir, Version)
	}
	if err != nil {
		return err
	}
	if res.Database != "" {
		fmt.Printf("database: %s\n", res.Database)
	}
	fmt.Printf("files:    %d (%d bytes)\n", res.Files, res.Bytes)
	for _, s := range res.Skipped {
		fmt.Printf("skipped (not a regular file): %s\n", s)
	}
	fmt.Printf("backup written to %s\n", c.Dir)
	return nil
}

// RestoreCmd restores a backup directory.
type RestoreCmd struct {
	Dir string `arg:"" help:"A directory written by 'hearth backup'."`
}

// Run restores the backup into the configured (empty) data directory.
func (c RestoreCmd) Run(ctx context.Context, cfg *config.Config) error {
	if _, err := prepare(cfg); err != nil {
		return err
	}
	res, err := backup.Restore(ctx, cfg, c.Dir)
	if err != nil {
		return err
	}
	if res.Database != "" {
		fmt.Printf("database: %s\n", res.Database)
	}
	fmt.Printf("files:    %d (%d bytes)\n", res.Files, res.Bytes)
	fmt.Printf("restored into %s; start hearth on it (migrations run at start)\n", cfg.DataDir)
	return nil
}

// PasswdCmd sets an account's password.
type PasswdCmd struct {
	Username string `arg:"" help:"The account's username."`
	Password string `help:"The new password (8-128 characters). Empty: read one line from standard input."`
}

// Run sets the password. On a SQLite node the server must be stopped (it
// holds the database); on PostgreSQL it may run, and with NATS its nodes
// close the account's sockets at once.
func (c PasswdCmd) Run(ctx context.Context, cfg *config.Config) error {
	logger, err := prepare(cfg)
	if err != nil {
		return err
	}
	return setPassword(ctx, cfg, logger, c.Username, c.Password, os.Stdin)
}

func setPassword(ctx context.Context, cfg *config.Config, logger *slog.Logger, username, password string, stdin io.Reader) error {
	if password == "" {
		line, err := bufio.NewReader(stdin).ReadString('\n')
		if err != nil && !errors.Is(err, io.EOF) {
			return fmt.Errorf("read the password from standard input: %w", err)
		}
		password = strings.TrimRight(line, "\r\n")
		if password == "" {
			return errors.New("no password: pass --password or write it on standard input")
		}
	}
	db, err := app.OpenDB(ctx, cfg, logger)
	if err != nil {
		return err
	}
	defer func() { _ = db.Close() }()
	var pub identity.Publisher
	if cfg.Bus != "local" {
		b, err := app.OpenBus(ctx, cfg, db, logger)
		if err != nil {
			return err
		}
		defer func() { _ = b.Close() }()
		pub = b
	}
	ids, err := app.NewIdentity(ctx, cfg, db, pub, logger)
	if err != nil {
		return err
	}
	a, err := ids.AccountByUsername(ctx, username)
	if err != nil {
		return fmt.Errorf("account %q: %w", username, err)
	}
	if err := ids.SetPassword(ctx, a.ID, password); err != nil {
		return err
	}
	fmt.Printf("password changed for %s; its sessions are signed out\n", a.Username)
	return nil
}

// releaseStartupMemory gives back to the OS what starting up used and no
// longer needs: the migration parser (goose) keeps 4 MiB scan buffers in a
// sync.Pool, which the collector empties only over two cycles, and an idle
// server may run no cycle for minutes, so they stayed in the RSS of every
// server (≈ 20 MiB of an idle server's 58 MiB). Two collections drop the
// pool (its victim cache survives one) and FreeOSMemory returns the pages
// at once instead of leaving them to the background scavenger.
func releaseStartupMemory() {
	runtime.GC()
	debug.FreeOSMemory()
}
