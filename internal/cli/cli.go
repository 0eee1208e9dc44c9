// Package cli is the hearth command line: serve (the default), migrate,
// admin create-user, token create, version and config-docs. main.go only
// parses and runs it.
package cli

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"runtime/debug"
	"strings"

	"github.com/hearth-community/hearth/internal/app"
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
