// Package config holds Hearth's one configuration struct. Every field has a
// flag, a HEARTH_* environment variable, a default and help text, all in the
// struct tags that kong reads; docs/configuration.md is generated from the
// same tags (see Markdown) and a test fails when the two drift.
package config

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"net/url"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// Config is everything an operator can set.
type Config struct {
	Addr            string        `name:"addr" env:"HEARTH_ADDR" default:":8080" help:"HTTP listen address (host:port) for every surface: Together, OpenTogetherTube, Owncast and the web UI."`
	DataDir         string        `name:"data-dir" env:"HEARTH_DATA_DIR" default:"./data" help:"Directory for the SQLite database, uploads, HLS segments and other local state."`
	Database        string        `name:"database" env:"HEARTH_DATABASE" default:"" help:"SQLite file path, or a postgres:// URL to use PostgreSQL. Empty means <data-dir>/hearth.db."`
	Bus             string        `name:"bus" env:"HEARTH_BUS" default:"local" help:"Event bus: 'local' (in-process, single node) or a nats:// URL to scale out across nodes."`
	BusPrefix       string        `name:"bus-prefix" env:"HEARTH_BUS_PREFIX" default:"" help:"Namespace of every bus subject (1-64 letters, digits, '-' or '_'), so deployments sharing one NATS server never see each other's events. Empty: an id made on first start and kept in the database, so every node on one database agrees."`
	NodeURL         string        `name:"node-url" env:"HEARTH_NODE_URL" default:"" help:"The base URL (http(s)://host:port) at which the other nodes of a cluster reach this node's HTTP listener: without S3, a recording's files and a live stream's HLS stay on the node that made them and the others proxy to it there. Empty: http://<listen address> when --addr names a host, none when it listens on every interface (other nodes then answer 503 for this node's recordings, and their offline playlist for its live streams)."`
	AdminUser       string        `name:"admin-user" env:"HEARTH_ADMIN_USER" default:"admin" help:"Username of the instance admin created on first start."`
	AdminPassword   string        `name:"admin-password" env:"HEARTH_ADMIN_PASSWORD" default:"" help:"Password for the instance admin created on first start (any length; the operator chooses, e.g. Owncast's default abc123 for its test suite). Empty: a random one is generated and printed once to the log."`
	JWTSecret       string        `name:"jwt-secret" env:"HEARTH_JWT_SECRET" default:"" help:"Secret (at least 32 characters) that signs access tokens. Empty: one is generated on first start and kept in the database, shared by every node."`
	AccessTokenTTL  time.Duration `name:"access-token-ttl" env:"HEARTH_ACCESS_TOKEN_TTL" default:"15m" help:"Lifetime of short-lived access tokens."`
	RefreshTokenTTL time.Duration `name:"refresh-token-ttl" env:"HEARTH_REFRESH_TOKEN_TTL" default:"168h" help:"Lifetime of refresh tokens (rotated on every use)."`
	LogLevel        string        `name:"log-level" env:"HEARTH_LOG_LEVEL" default:"info" help:"Log level: debug, info, warn or error."`
	LogFormat       string        `name:"log-format" env:"HEARTH_LOG_FORMAT" default:"text" help:"Log format: text or json."`
	MaxBodyBytes    int64         `name:"max-body-bytes" env:"HEARTH_MAX_BODY_BYTES" default:"1048576" help:"Largest request body accepted by JSON endpoints, in bytes (uploads have their own limits)."`
	MaxConnsPerIP   int           `name:"max-conns-per-ip" env:"HEARTH_MAX_CONNS_PER_IP" default:"1024" help:"Most connections one client IP (an IPv6 /64 counting as one) may hold open at once on --addr while they are idle or in a request (a WebSocket stops counting once upgraded); further ones are answered 503 and closed. 0: no bound. Loopback is not bounded, nor is anything with --trust-proxy, where every connection comes from the proxy: bound them there."`
	MaxSocketsPerIP int           `name:"max-sockets-per-ip" env:"HEARTH_MAX_SOCKETS_PER_IP" default:"0" help:"Most WebSockets one client IP (an IPv6 /64 counting as one; with --trust-proxy, the address the proxy appended) may hold open at once on a node, across every surface; further upgrades are answered 429. 0: a sixteenth of the node's socket budget (which is 90% of the open-file limit); -1: only the budget bounds them (a load test run from one host). Loopback is not bounded without --trust-proxy."`
	ShutdownTimeout time.Duration `name:"shutdown-timeout" env:"HEARTH_SHUTDOWN_TIMEOUT" default:"10s" help:"How long a graceful shutdown waits for in-flight requests and sockets."`
	AllowedOrigins  []string      `name:"allowed-origins" env:"HEARTH_ALLOWED_ORIGINS" default:"" sep:"," help:"Extra Origin host patterns allowed to open WebSockets and to call Together's REST API cross-origin (comma separated, e.g. 'app.example.com,*.example.org', 'localhost:5173'). Same-origin is always allowed."`
	TLSDomain       []string      `name:"tls-domain" env:"HEARTH_TLS_DOMAIN" default:"" sep:"," help:"Serve HTTPS on --addr with certificates from an ACME CA (Let's Encrypt) for these domain names (comma separated), for a single binary with no reverse proxy. Set --addr :443; the names must resolve to this host. Certificates are kept in <data-dir>/acme. Empty: plain HTTP."`
	TLSEmail        string        `name:"tls-email" env:"HEARTH_TLS_EMAIL" default:"" help:"Contact email given to the ACME CA with --tls-domain (expiry notices). Optional."`
	TLSHTTPAddr     string        `name:"tls-http-addr" env:"HEARTH_TLS_HTTP_ADDR" default:":80" help:"With --tls-domain: plain-HTTP address answering ACME HTTP-01 challenges and redirecting everything else to HTTPS. Empty: none (TLS-ALPN-01 on --addr is enough)."`
	ACMEDirectory   string        `name:"acme-directory" env:"HEARTH_ACME_DIRECTORY" default:"" help:"ACME directory URL for --tls-domain (e.g. Let's Encrypt's staging, https://acme-staging-v02.api.letsencrypt.org/directory). Empty: Let's Encrypt's production directory."`
	TrustProxy      bool          `name:"trust-proxy" env:"HEARTH_TRUST_PROXY" default:"false" help:"Trust X-Forwarded-For for client IPs (rate limits, bans). Enable only behind a reverse proxy you control."`
	GCPercent       int           `name:"gc-percent" env:"HEARTH_GC_PERCENT" default:"30" help:"Go garbage collector target: the heap may grow this many percent past what is live before a collection. Lower uses less memory and a little more CPU. 0: Go's own default (100). Ignored when GOGC is set."`
	PprofAddr       string        `name:"pprof-addr" env:"HEARTH_PPROF_ADDR" default:"" help:"Serve Go's net/http/pprof profiles on this separate address (e.g. 127.0.0.1:6060) for performance work. Empty: off. Never expose it publicly."`
	WebDir          string        `name:"web-dir" env:"HEARTH_WEB_DIR" default:"" help:"Serve the single-page front end in this directory (e.g. OpenTogetherTube's built client/dist) instead of Hearth's embedded web app; unknown GET paths fall back to its index.html. Empty: the embedded app."`

	// OpenTogetherTube surface and watch rooms.
	OttAPIKey           string   `name:"ott-api-key" env:"HEARTH_OTT_API_KEY" default:"" help:"OpenTogetherTube admin API key (the 'apikey' header of /api/announce, room unload and the full room list). Empty disables those admin calls."`
	OttRateLimit        bool     `name:"ott-rate-limit" env:"HEARTH_OTT_RATE_LIMIT" default:"true" negatable:"" help:"Apply OpenTogetherTube's per-IP rate limit (1000 points per hour, with its per-route costs)."`
	OttTemporaryRooms   bool     `name:"ott-temporary-rooms" env:"HEARTH_OTT_TEMPORARY_ROOMS" default:"true" negatable:"" help:"Allow creating temporary watch rooms (POST /api/room/generate and temporary /api/room/create)."`
	OttSponsorBlock     bool     `name:"ott-sponsorblock" env:"HEARTH_OTT_SPONSORBLOCK" default:"true" negatable:"" help:"Fetch SponsorBlock segments of YouTube videos in watch rooms and skip the categories each room chooses (OpenTogetherTube's video.sponsorblock.enabled)."`
	OttDevRoutes        bool     `name:"ott-dev-routes" env:"HEARTH_OTT_DEV_ROUTES" default:"false" help:"Serve OpenTogetherTube's development routes (/api/dev/*) that its end-to-end tests use. They let any caller sign in as any user: for test instances only, never in production."`
	OttInsecureCookies  bool     `name:"ott-insecure-cookies" env:"HEARTH_OTT_INSECURE_COOKIES" default:"false" help:"Send OpenTogetherTube's token cookie without the Secure flag (for plain-HTTP setups)."`
	DiscordClientID     string   `name:"discord-client-id" env:"HEARTH_DISCORD_CLIENT_ID" default:"" help:"Discord application client id for OpenTogetherTube's 'Log in with Discord' (with --discord-client-secret). Empty: Discord sign-in answers FeatureDisabledException."`
	DiscordClientSecret string   `name:"discord-client-secret" env:"HEARTH_DISCORD_CLIENT_SECRET" default:"" help:"Discord application client secret (with --discord-client-id)."`
	DiscordAuthorizeURL string   `name:"discord-authorize-url" env:"HEARTH_DISCORD_AUTHORIZE_URL" default:"https://discord.com/oauth2/authorize" help:"OAuth2 authorization endpoint that Discord sign-in sends the browser to."`
	DiscordTokenURL     string   `name:"discord-token-url" env:"HEARTH_DISCORD_TOKEN_URL" default:"https://discord.com/api/oauth2/token" help:"OAuth2 token endpoint that Discord sign-in trades its code at (through the outbound-safe client)."`
	DiscordUserURL      string   `name:"discord-user-url" env:"HEARTH_DISCORD_USER_URL" default:"https://discord.com/api/users/@me" help:"Endpoint that returns the signed-in Discord user (id, username, discriminator, global_name)."`
	DiscordCallbackURL  string   `name:"discord-callback-url" env:"HEARTH_DISCORD_CALLBACK_URL" default:"" help:"Redirect URI registered with the Discord application. Empty: <scheme>://<request host>/api/auth/discord/callback."`
	YouTubeAPIKey       string   `name:"youtube-api-key" env:"HEARTH_YOUTUBE_API_KEY" default:"" help:"YouTube Data API v3 key for YouTube videos, playlists and search in watch rooms. Empty disables YouTube with a clear error."`
	PeerTubeInstances   []string `name:"peertube-instances" env:"HEARTH_PEERTUBE_INSTANCES" default:"" sep:"," help:"PeerTube instances (host names, comma separated) whose videos watch rooms may add."`
	MediaAllowPrivate   bool     `name:"media-allow-private" env:"HEARTH_MEDIA_ALLOW_PRIVATE" default:"false" help:"Let video metadata fetches reach private network addresses (10/8, 192.168/16, ...). Loopback and link-local stay refused."`
	WebhookAllowAddrs   []string `name:"webhook-allow-addrs" env:"HEARTH_WEBHOOK_ALLOW_ADDRS" default:"" sep:"," help:"IP:port addresses (comma separated) that outgoing webhooks may reach although they are loopback or private, e.g. a bot on the same host: the Owncast admin webhooks and the webhooks of communities an instance admin owns (any other community's reach public addresses only). Empty: webhooks reach public addresses only."`

	// Owncast stage chat and page. The instance texts seed a fresh data dir:
	// once an admin changes any page setting, the stored settings win.
	StageName              string   `name:"stage-name" env:"HEARTH_STAGE_NAME" default:"Hearth" help:"Instance name on the stream page and in Owncast's /api/config, until an admin changes it (Owncast's default: New Owncast Server)."`
	StageSummary           string   `name:"stage-summary" env:"HEARTH_STAGE_SUMMARY" default:"A live stream on Hearth." help:"Instance summary, until an admin changes it."`
	StagePageContent       string   `name:"stage-page-content" env:"HEARTH_STAGE_PAGE_CONTENT" default:"" help:"Markdown shown below the stream (Owncast's extraPageContent), until an admin changes it."`
	StageTags              []string `name:"stage-tags" env:"HEARTH_STAGE_TAGS" default:"" sep:"," help:"Instance tags, comma separated, until an admin changes them."`
	DirectoryURL           string   `name:"directory-url" env:"HEARTH_DIRECTORY_URL" default:"https://directory.owncast.online" help:"The Owncast directory the stage is listed in while the admin's config/directoryenabled is on (pinged every 4 minutes with the server URL). Empty: none, and directoryenabled is refused."`
	FederationTestLoopback bool     `name:"federation-test-loopback" env:"HEARTH_FEDERATION_TEST_LOOPBACK" default:"false" help:"Testing only: let federation reach loopback addresses and look remote accounts up over plain http, so instances on one machine federate. Never set it on a public server."`
	StageSocialHandles     []string `name:"stage-social-handles" env:"HEARTH_STAGE_SOCIAL_HANDLES" default:"" sep:"," help:"Social links as platform=url, comma separated (e.g. github=https://github.com/owncast/owncast), until an admin changes them."`
	ChatFloodRate          float64  `name:"chat-flood-rate" env:"HEARTH_CHAT_FLOOD_RATE" default:"1.5" help:"Chat messages per second one Owncast chat connection may send, and one account may post into the chat through every connection and surface together (a Together post into a stage channel bound to the default stage too; on a cluster, across its nodes); a faster sender is muted for 10 s with Owncast's notice, or a Together 429 (Owncast: 1.5, per connection). 0 disables the limit."`

	// Live streaming (Owncast-compatible RTMP ingest and HLS).
	RTMPAddr         string `name:"rtmp-addr" env:"HEARTH_RTMP_ADDR" default:":1935" help:"RTMP ingest listen address (host:port); publishers use rtmp://<host>:<port>/live/<stream key>. Empty disables RTMP ingest."`
	StreamKey        string `name:"stream-key" env:"HEARTH_STREAM_KEY" default:"" help:"A temporary stream key for the default stage, accepted in addition to the stored keys while this is set; never stored (Owncast's -streamkey)."`
	DefaultStreamKey string `name:"default-stream-key" env:"HEARTH_DEFAULT_STREAM_KEY" default:"" help:"First start only: the stored stream key of the default stage (e.g. abc123 for Owncast's test suite). Empty: a random key is generated (see it in the admin: streamKeys in /api/admin/serverconfig)."`
	FFmpegPath       string `name:"ffmpeg-path" env:"HEARTH_FFMPEG_PATH" default:"ffmpeg" help:"ffmpeg executable used for transcoded variants and thumbnails, until an admin sets another one (ffmpegpath)."`

	// Recordings of broadcasts (package recording).
	Recording                bool          `name:"recording" env:"HEARTH_RECORDING" default:"false" help:"Record every broadcast of stages whose own recording setting is unset (the instance default; each stage may turn it on or off through /api/recording-settings)."`
	RecordingReconnectWindow time.Duration `name:"recording-reconnect-window" env:"HEARTH_RECORDING_RECONNECT_WINDOW" default:"30s" help:"A publisher that comes back this soon after a broadcast ended continues that broadcast's recording. 0: every broadcast is its own recording."`
	RecordingMaxClip         time.Duration `name:"recording-max-clip" env:"HEARTH_RECORDING_MAX_CLIP" default:"60s" help:"The longest clip viewers may cut from a recording."`
	RecordingMinFree         int64         `name:"recording-min-free-bytes" env:"HEARTH_RECORDING_MIN_FREE_BYTES" default:"1073741824" help:"Recording stops (with a logged warning; the live stream goes on) when the disk holding the recordings has less free space than this. 0: no check."`
	RecordingDownloadKeep    time.Duration `name:"recording-download-keep" env:"HEARTH_RECORDING_DOWNLOAD_KEEP" default:"24h" help:"A recording's MP4 download is made on its first download and kept beside it (about the recording's size again on disk): removed once no one downloaded it for this long (the next download makes it again). It also counts in a stage's maxBytes, where MP4s go first."`

	// Together surface (communities, chat, voice signalling).
	TogetherAuthRate    float64 `name:"together-auth-rate" env:"HEARTH_TOGETHER_AUTH_RATE" default:"2" help:"Together sign-in requests (/auth/*) per second per client IP, burst 5 (Together's production limit). 0 disables the limit."`
	TogetherBotRate     float64 `name:"together-bot-rate" env:"HEARTH_TOGETHER_BOT_RATE" default:"50" help:"Together API requests per second per bot (Together: 50). 0 disables the limit."`
	TogetherSockets     int     `name:"together-sockets-per-account" env:"HEARTH_TOGETHER_SOCKETS_PER_ACCOUNT" default:"100" help:"Together gateway sockets one account may hold on a node; past it the upgrade is refused (429). The node's sockets share one budget, which one account could otherwise take whole. 0: no bound."`
	TogetherMessageRate float64 `name:"together-message-rate" env:"HEARTH_TOGETHER_MESSAGE_RATE" default:"10" help:"Together messages (posts, thread replies, DMs, polls, events; edits, reactions added or removed and poll votes count too) per second per account, burst five times that; bots have --together-bot-rate instead. Together limits every route to 10 requests a second per address; Hearth does not, so that load tools can run many accounts from one. 0 disables the limit."`
	UploadMinFree       int64   `name:"upload-min-free-bytes" env:"HEARTH_UPLOAD_MIN_FREE_BYTES" default:"1073741824" help:"Together attachment and emoji uploads are refused (507) while the disk holding the data directory's uploads has less free space than this. 0: no check."`
	UploadQuota         int64   `name:"upload-quota-bytes" env:"HEARTH_UPLOAD_QUOTA_BYTES" default:"2147483648" help:"How much one account's Together attachments and custom emoji may hold in all (deleting them frees it); past it uploads are refused (507). Instance admins have no quota. 0: no quota."`
	TurnURL             string  `name:"turn-url" env:"HEARTH_TURN_URL" default:"" help:"An external TURN server's URL handed to voice clients by /ice-servers (e.g. turn:turn.example.org:3478). Needs --turn-secret."`
	TurnSecret          string  `name:"turn-secret" env:"HEARTH_TURN_SECRET" default:"" help:"Shared secret (at least 32 characters) for TURN REST credentials (coturn use-auth-secret); the external server's with --turn-url, which needs it. Empty with --turn-listen alone: one is generated and shared by every node."`
	TurnListen          string  `name:"turn-listen" env:"HEARTH_TURN_LISTEN" default:"" help:"Run Hearth's own TURN server on this host:port, UDP and TCP (e.g. :3478); /ice-servers then hands out its address with REST credentials. Empty: no embedded TURN."`
	TurnPublicIP        string  `name:"turn-public-ip" env:"HEARTH_TURN_PUBLIC_IP" default:"" help:"The IP voice clients reach this host at, used in the embedded TURN server's URLs and relayed addresses. Empty: --turn-listen's host, which must then be a specific address."`
	TurnRelayPorts      string  `name:"turn-relay-ports" env:"HEARTH_TURN_RELAY_PORTS" default:"49152-65535" help:"UDP/TCP port range (min-max) of the embedded TURN server's relayed addresses."`
	TurnPrivatePeers    bool    `name:"turn-allow-private-peers" env:"HEARTH_TURN_ALLOW_PRIVATE_PEERS" default:"false" help:"Let the embedded TURN server relay to loopback, private and link-local addresses (a LAN-only instance). Off: a relay into the server's own network would reach services not meant to be public."`
	// WebRTC media plane (package rtc): the voice SFU and WebRTC live
	// (WHIP ingest, WHEP playback) carry media on these sockets.
	RTCUDPAddr  string   `name:"rtc-udp-addr" env:"HEARTH_RTC_UDP_ADDR" default:":7882" help:"The one UDP host:port all WebRTC media uses (ICE UDP mux): open this port for voice and WebRTC live. Empty: no WebRTC media plane (the voice SFU and WHIP/WHEP are refused; Together's mesh voice still works)."`
	RTCTCPAddr  string   `name:"rtc-tcp-addr" env:"HEARTH_RTC_TCP_ADDR" default:":7881" help:"ICE-TCP host:port, for WebRTC clients whose network lets only TCP out (TURN over TCP, --turn-listen, is the other way). Empty: no ICE-TCP."`
	RTCPublicIP []string `name:"rtc-public-ip" env:"HEARTH_RTC_PUBLIC_IP" default:"" sep:"," help:"The IPs WebRTC clients reach this host at (comma separated; a server behind 1:1 NAT or in a container). Empty: the interfaces' own addresses."`
	GiphyAPIKey string   `name:"giphy-api-key" env:"HEARTH_GIPHY_API_KEY" default:"" help:"Giphy API key for Together's GIF search (/giphy/search). Empty: GIF search answers 503."`
}

// Validate checks every field and returns an error naming the first bad one.
func (c *Config) Validate() error {
	if _, port, err := net.SplitHostPort(c.Addr); err != nil {
		return fmt.Errorf("--addr %q: must be host:port: %w", c.Addr, err)
	} else if n, err := strconv.Atoi(port); err != nil || n < 0 || n > 65535 {
		return fmt.Errorf("--addr %q: port must be 0-65535", c.Addr)
	}
	if strings.TrimSpace(c.DataDir) == "" {
		return errors.New("--data-dir: must not be empty")
	}
	if IsPostgres(c.Database) {
		if _, err := url.Parse(c.Database); err != nil {
			return fmt.Errorf("--database: invalid PostgreSQL URL: %w", err)
		}
	}
	if c.Bus != "local" {
		u, err := url.Parse(c.Bus)
		if err != nil || (u.Scheme != "nats" && u.Scheme != "tls") || u.Host == "" {
			return fmt.Errorf("--bus %q: must be 'local' or a nats:// URL", c.Bus)
		}
	}
	if c.BusPrefix != "" && !busPrefix.MatchString(c.BusPrefix) {
		return fmt.Errorf("--bus-prefix %q: must be 1-64 letters, digits, '-' or '_'", c.BusPrefix)
	}
	for _, a := range c.WebhookAllowAddrs {
		if _, err := netip.ParseAddrPort(a); err != nil {
			return fmt.Errorf("--webhook-allow-addrs %q: must be IP:port: %w", a, err)
		}
	}
	if c.JWTSecret != "" && len(c.JWTSecret) < 32 {
		return errors.New("--jwt-secret: must be at least 32 characters")
	}
	if len(c.AdminPassword) > 128 {
		return errors.New("--admin-password: must be at most 128 characters")
	}
	if len(c.TLSDomain) > 0 {
		for _, d := range c.TLSDomain {
			if d == "" || !strings.Contains(d, ".") || strings.ContainsAny(d, " /:") {
				return fmt.Errorf("--tls-domain %q: must be a domain name such as hearth.example.org", d)
			}
		}
		if c.TLSHTTPAddr != "" {
			if _, _, err := net.SplitHostPort(c.TLSHTTPAddr); err != nil {
				return fmt.Errorf("--tls-http-addr %q: must be host:port: %w", c.TLSHTTPAddr, err)
			}
		}
		if c.ACMEDirectory != "" && !strings.HasPrefix(c.ACMEDirectory, "https://") {
			return fmt.Errorf("--acme-directory %q: must be an https:// URL", c.ACMEDirectory)
		}
	}
	if c.AdminUser == "" {
		return errors.New("--admin-user: must not be empty")
	}
	if c.AccessTokenTTL < time.Minute {
		return fmt.Errorf("--access-token-ttl %s: must be at least 1m", c.AccessTokenTTL)
	}
	if c.RefreshTokenTTL <= c.AccessTokenTTL {
		return fmt.Errorf("--refresh-token-ttl %s: must be longer than --access-token-ttl", c.RefreshTokenTTL)
	}
	if _, err := c.SlogLevel(); err != nil {
		return err
	}
	if c.LogFormat != "text" && c.LogFormat != "json" {
		return fmt.Errorf("--log-format %q: must be text or json", c.LogFormat)
	}
	if c.MaxBodyBytes < 1024 {
		return fmt.Errorf("--max-body-bytes %d: must be at least 1024", c.MaxBodyBytes)
	}
	if c.MaxConnsPerIP < 0 {
		return fmt.Errorf("--max-conns-per-ip %d: must not be negative", c.MaxConnsPerIP)
	}
	if c.GCPercent < 0 {
		return fmt.Errorf("--gc-percent %d: must not be negative", c.GCPercent)
	}
	if u, err := url.Parse(c.DirectoryURL); c.DirectoryURL != "" && (err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "") {
		return fmt.Errorf("--directory-url %q: must be an http(s) URL", c.DirectoryURL)
	}
	if u, err := url.Parse(c.NodeURL); c.NodeURL != "" && (err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || (u.Path != "" && u.Path != "/")) {
		return fmt.Errorf("--node-url %q: must be an http(s) URL with no path", c.NodeURL)
	}
	if c.PprofAddr != "" {
		if _, _, err := net.SplitHostPort(c.PprofAddr); err != nil {
			return fmt.Errorf("--pprof-addr %q: must be host:port: %w", c.PprofAddr, err)
		}
	}
	if c.RTMPAddr != "" {
		if _, port, err := net.SplitHostPort(c.RTMPAddr); err != nil {
			return fmt.Errorf("--rtmp-addr %q: must be host:port: %w", c.RTMPAddr, err)
		} else if n, err := strconv.Atoi(port); err != nil || n < 0 || n > 65535 {
			return fmt.Errorf("--rtmp-addr %q: port must be 0-65535", c.RTMPAddr)
		}
	}
	for name, k := range map[string]string{"--stream-key": c.StreamKey, "--default-stream-key": c.DefaultStreamKey} {
		if len(k) > 128 || strings.ContainsAny(k, "/?# \t\r\n") {
			return fmt.Errorf("%s: at most 128 characters, without spaces, '/', '?' or '#'", name)
		}
	}
	for _, h := range c.StageSocialHandles {
		platform, u, ok := strings.Cut(h, "=")
		pu, err := url.Parse(u)
		if !ok || platform == "" || err != nil || (pu.Scheme != "http" && pu.Scheme != "https") || pu.Host == "" {
			return fmt.Errorf("--stage-social-handles %q: must be platform=http(s) URL", h)
		}
	}
	if c.ChatFloodRate < 0 || c.ChatFloodRate > 1000 {
		return fmt.Errorf("--chat-flood-rate %v: must be 0-1000", c.ChatFloodRate)
	}
	if c.RecordingDownloadKeep < time.Minute {
		// A download notes that it was served once a minute at most.
		return fmt.Errorf("--recording-download-keep %s: must be at least 1m", c.RecordingDownloadKeep)
	}
	if c.ShutdownTimeout <= 0 {
		return fmt.Errorf("--shutdown-timeout %s: must be positive", c.ShutdownTimeout)
	}
	for _, a := range []struct{ flag, v string }{{"--rtc-udp-addr", c.RTCUDPAddr}, {"--rtc-tcp-addr", c.RTCTCPAddr}} {
		if a.v != "" {
			if _, _, err := net.SplitHostPort(a.v); err != nil {
				return fmt.Errorf("%s %q: must be host:port: %w", a.flag, a.v, err)
			}
		}
	}
	for _, ip := range c.RTCPublicIP {
		if _, err := netip.ParseAddr(ip); err != nil {
			return fmt.Errorf("--rtc-public-ip %q: must be an IP address", ip)
		}
	}
	// /ice-servers hands out TURN only with credentials made from a secret of
	// 32 characters or more: a shorter one, or an external TURN server
	// without one, would be left out of every answer without a word.
	if c.TurnSecret != "" && len(c.TurnSecret) < 32 {
		return errors.New("--turn-secret: must be at least 32 characters")
	}
	if c.TurnURL != "" {
		if !strings.HasPrefix(c.TurnURL, "turn:") && !strings.HasPrefix(c.TurnURL, "turns:") {
			return fmt.Errorf("--turn-url %q: must be a turn: or turns: URL", c.TurnURL)
		}
		if c.TurnSecret == "" {
			return errors.New("--turn-url: needs --turn-secret, the external TURN server's shared secret (coturn static-auth-secret)")
		}
	}
	if c.TurnListen != "" {
		if _, _, err := net.SplitHostPort(c.TurnListen); err != nil {
			return fmt.Errorf("--turn-listen %q: must be host:port: %w", c.TurnListen, err)
		}
		if c.TurnPublicIP != "" {
			if _, err := netip.ParseAddr(c.TurnPublicIP); err != nil {
				return fmt.Errorf("--turn-public-ip %q: must be an IP address", c.TurnPublicIP)
			}
		}
		if _, _, err := c.TurnPorts(); err != nil {
			return err
		}
	}
	if (c.DiscordClientID == "") != (c.DiscordClientSecret == "") {
		return errors.New("--discord-client-id and --discord-client-secret: set both or neither")
	}
	for _, f := range []struct{ name, v string }{{"discord-authorize-url", c.DiscordAuthorizeURL}, {"discord-token-url", c.DiscordTokenURL},
		{"discord-user-url", c.DiscordUserURL}, {"discord-callback-url", c.DiscordCallbackURL}} {
		if c.DiscordClientID == "" || (f.v == "" && f.name == "discord-callback-url") {
			continue
		}
		if u, err := url.Parse(f.v); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
			return fmt.Errorf("--%s %q: must be an http(s) URL", f.name, f.v)
		}
	}
	return nil
}

// SlogLevel parses LogLevel.
func (c *Config) SlogLevel() (slog.Level, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(c.LogLevel)); err != nil {
		return 0, fmt.Errorf("--log-level %q: must be debug, info, warn or error", c.LogLevel)
	}
	return l, nil
}

// NoNodeURL reports whether this node is one of a cluster (a bus other than
// the in-process one) and yet has no URL the other nodes reach it at: no
// --node-url, and an --addr that listens on every interface. The others
// then answer 503 for its recordings and serve their offline clip for its
// live streams (docs/scaling.md), which nothing else at start says.
func (c *Config) NoNodeURL() bool {
	if c.Bus == "" || c.Bus == "local" || c.NodeURL != "" {
		return false
	}
	host, _, err := net.SplitHostPort(c.Addr)
	if err != nil {
		return false
	}
	if host == "" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsUnspecified()
}

// DatabaseDSN is the database to open: Database, or the SQLite file in DataDir.
func (c *Config) DatabaseDSN() string {
	if c.Database != "" {
		return c.Database
	}
	return filepath.Join(c.DataDir, "hearth.db")
}

// IsPostgres reports whether dsn names a PostgreSQL database.
func IsPostgres(dsn string) bool {
	return strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://")
}

// TurnPorts parses --turn-relay-ports.
func (c *Config) TurnPorts() (lo, hi uint16, err error) {
	a, b, ok := strings.Cut(c.TurnRelayPorts, "-")
	x, err1 := strconv.ParseUint(strings.TrimSpace(a), 10, 16)
	y, err2 := strconv.ParseUint(strings.TrimSpace(b), 10, 16)
	if !ok || err1 != nil || err2 != nil || x == 0 || y < x {
		return 0, 0, fmt.Errorf("--turn-relay-ports %q: must be min-max, 1-65535", c.TurnRelayPorts)
	}
	return uint16(x), uint16(y), nil
}

// busPrefix is what --bus-prefix may be: one bus subject token.
var busPrefix = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)
