package config

import (
	"os"
	"reflect"
	"strings"
	"testing"
	"time"
)

func valid() Config {
	return Config{Addr: ":8080", DataDir: "./data", Bus: "local", AdminUser: "admin", AccessTokenTTL: 15 * time.Minute,
		RefreshTokenTTL: 168 * time.Hour, LogLevel: "info", LogFormat: "text", MaxBodyBytes: 1 << 20, ShutdownTimeout: 10 * time.Second,
		RecordingDownloadKeep: 24 * time.Hour,
		TurnRelayPorts:        "49152-65535", DiscordAuthorizeURL: "https://discord.com/oauth2/authorize",
		DiscordTokenURL: "https://discord.com/api/oauth2/token", DiscordUserURL: "https://discord.com/api/users/@me"}
}

func TestValidate(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		edit  func(*Config)
		field string // "" = valid
	}{
		{"defaults", func(*Config) {}, ""},
		{"nats bus", func(c *Config) { c.Bus = "nats://127.0.0.1:4222" }, ""},
		{"postgres", func(c *Config) { c.Database = "postgres://u@h/db" }, ""},
		{"addr no port", func(c *Config) { c.Addr = "localhost" }, "--addr"},
		{"addr bad port", func(c *Config) { c.Addr = ":99999" }, "--addr"},
		{"empty data dir", func(c *Config) { c.DataDir = " " }, "--data-dir"},
		{"bus scheme", func(c *Config) { c.Bus = "redis://x" }, "--bus"},
		{"tls domain", func(c *Config) { c.TLSDomain = []string{"hearth.example.org"} }, ""},
		{"tls domain without a dot", func(c *Config) { c.TLSDomain = []string{"localhost"} }, "--tls-domain"},
		{"tls domain a URL", func(c *Config) { c.TLSDomain = []string{"https://hearth.example.org"} }, "--tls-domain"},
		{"tls http addr", func(c *Config) { c.TLSDomain = []string{"a.example"}; c.TLSHTTPAddr = "80" }, "--tls-http-addr"},
		{"acme directory http", func(c *Config) { c.TLSDomain = []string{"a.example"}; c.ACMEDirectory = "http://x/dir" }, "--acme-directory"},
		{"short secret", func(c *Config) { c.JWTSecret = "short" }, "--jwt-secret"},
		{"short admin password is the operator's choice", func(c *Config) { c.AdminPassword = "abc123" }, ""},
		{"long admin password", func(c *Config) { c.AdminPassword = strings.Repeat("x", 129) }, "--admin-password"},
		{"ttl order", func(c *Config) { c.RefreshTokenTTL = time.Minute }, "--refresh-token-ttl"},
		{"log level", func(c *Config) { c.LogLevel = "loud" }, "--log-level"},
		{"log format", func(c *Config) { c.LogFormat = "xml" }, "--log-format"},
		{"body", func(c *Config) { c.MaxBodyBytes = 1 }, "--max-body-bytes"},
		{"gc percent", func(c *Config) { c.GCPercent = -5 }, "--gc-percent"},
		{"download keep", func(c *Config) { c.RecordingDownloadKeep = 0 }, "--recording-download-keep"},
		{"turn", func(c *Config) { c.TurnListen, c.TurnPublicIP = ":3478", "203.0.113.7" }, ""},
		{"turn listen", func(c *Config) { c.TurnListen = "3478" }, "--turn-listen"},
		{"turn secret", func(c *Config) { c.TurnListen, c.TurnSecret = ":3478", "short" }, "--turn-secret"},
		{"turn url", func(c *Config) { c.TurnURL, c.TurnSecret = "turn:turn.example.org:3478", strings.Repeat("s", 32) }, ""},
		{"turn url without a secret", func(c *Config) { c.TurnURL = "turn:turn.example.org:3478" }, "--turn-url"},
		{"turn url and listen share no secret", func(c *Config) {
			c.TurnURL, c.TurnListen, c.TurnPublicIP = "turn:turn.example.org:3478", ":3478", "203.0.113.7"
		}, "--turn-url"},
		{"turn url scheme", func(c *Config) { c.TurnURL, c.TurnSecret = "turn.example.org:3478", strings.Repeat("s", 32) }, "--turn-url"},
		{"short turn secret for an external server", func(c *Config) { c.TurnURL, c.TurnSecret = "turns:turn.example.org", "short" }, "--turn-secret"},
		{"turn public ip", func(c *Config) { c.TurnListen, c.TurnPublicIP = ":3478", "turn.example.org" }, "--turn-public-ip"},
		{"turn ports", func(c *Config) { c.TurnListen, c.TurnRelayPorts = ":3478", "60000-50000" }, "--turn-relay-ports"},
		{"discord", func(c *Config) { c.DiscordClientID, c.DiscordClientSecret = "id", "secret" }, ""},
		{"discord id without secret", func(c *Config) { c.DiscordClientID = "id" }, "--discord-client-id"},
		{"discord token url", func(c *Config) {
			c.DiscordClientID, c.DiscordClientSecret, c.DiscordTokenURL = "id", "secret", "discord.com/token"
		}, "--discord-token-url"},
		{"discord callback url", func(c *Config) {
			c.DiscordClientID, c.DiscordClientSecret, c.DiscordCallbackURL = "id", "secret", "javascript:x"
		}, "--discord-callback-url"},
		{"turn ports shape", func(c *Config) { c.TurnListen, c.TurnRelayPorts = ":3478", "5000" }, "--turn-relay-ports"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c := valid()
			tt.edit(&c)
			err := c.Validate()
			if tt.field == "" {
				if err != nil {
					t.Fatalf("unexpected error: %v", err)
				}
				return
			}
			if err == nil || !strings.HasPrefix(err.Error(), tt.field) || strings.Contains(err.Error(), "\n") {
				t.Fatalf("got %v, want a one-line error naming %s", err, tt.field)
			}
		})
	}
}

// TestEveryFieldDocumented: each field has a flag name, a HEARTH_ env var,
// a default tag and help text.
func TestEveryFieldDocumented(t *testing.T) {
	t.Parallel()
	ty := reflect.TypeFor[Config]()
	for i := range ty.NumField() {
		f := ty.Field(i)
		if f.Tag.Get("name") == "" || !strings.HasPrefix(f.Tag.Get("env"), "HEARTH_") || f.Tag.Get("help") == "" {
			t.Errorf("field %s lacks name/env/help", f.Name)
		}
		if _, ok := f.Tag.Lookup("default"); !ok {
			t.Errorf("field %s lacks a default", f.Name)
		}
	}
}

// TestConfigurationDocUpToDate fails when docs/configuration.md drifts from
// the struct; fix with `make docs`.
func TestConfigurationDocUpToDate(t *testing.T) {
	t.Parallel()
	b, err := os.ReadFile("../../docs/configuration.md")
	if err != nil {
		t.Fatal(err)
	}
	if string(b) != Markdown() {
		t.Fatal("docs/configuration.md is stale: run `make docs`")
	}
}

// TestDocNamesNegatableForm: a setting on by default is turned off with its
// --no- form, which `hearth --help` shows as --[no-]name; the reference an
// operator reads must name it too, or nothing there says how to turn it off.
func TestDocNamesNegatableForm(t *testing.T) {
	t.Parallel()
	md := Markdown()
	ty := reflect.TypeFor[Config]()
	n := 0
	for i := range ty.NumField() {
		f := ty.Field(i)
		if _, ok := f.Tag.Lookup("negatable"); !ok {
			continue
		}
		n++
		if want := "| `--[no-]" + f.Tag.Get("name") + "` |"; !strings.Contains(md, want) {
			t.Errorf("configuration.md lacks %s", want)
		}
	}
	if n == 0 {
		t.Fatal("no negatable settings: the test checks nothing")
	}
	if !strings.Contains(md, "`--no-flag`") {
		t.Error("configuration.md does not say how to turn a boolean off")
	}
}

// TestNoNodeURL: a cluster node listening on every interface with no
// --node-url has no address the others reach (scaling.md's example did
// this); one that names its host, sets --node-url or runs alone is fine.
func TestNoNodeURL(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		bus, addr, nodeURL string
		want               bool
	}{
		{"nats://nats:4222", ":8080", "", true},
		{"nats://nats:4222", "0.0.0.0:8080", "", true},
		{"nats://nats:4222", "[::]:8080", "", true},
		{"nats://nats:4222", ":8080", "http://node1.internal:8080", false},
		{"nats://nats:4222", "10.0.0.5:8080", "", false},
		{"nats://nats:4222", "node1.internal:8080", "", false},
		{"local", ":8080", "", false},
	} {
		c := Config{Bus: tc.bus, Addr: tc.addr, NodeURL: tc.nodeURL}
		if got := c.NoNodeURL(); got != tc.want {
			t.Errorf("bus %s addr %s node-url %q: NoNodeURL() = %v, want %v", tc.bus, tc.addr, tc.nodeURL, got, tc.want)
		}
	}
}
