package app_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"image"
	"image/png"
	"io"
	"mime/multipart"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3"

	"github.com/hearth-community/hearth/internal/config"
	"github.com/hearth-community/hearth/internal/identity"
	"github.com/hearth-community/hearth/internal/openapitest"
	"github.com/hearth-community/hearth/internal/recording"
	"github.com/hearth-community/hearth/internal/store/storetest"
	"github.com/hearth-community/hearth/internal/watch"
)

// sweepAllowed lists, per principal, the operations with a path parameter
// naming owner A's objects that the principal may legitimately take, each
// with why. They are not called (a write would change what the final check
// compares), except those marked call: they run, and the final re-read
// proves that they touched nothing of A's. Every other such operation is
// called and must be refused. "B" is a registered account that is not a
// member (its bot, "Bot", is held to the same list); "D" an account banned
// from A's server; "M" a plain member (default permissions only); "X" is B
// on mixed-tenant paths (B's server X in the container slot, A's object in
// the other); "*" applies to everyone.
var sweepAllowed = map[string]map[string]string{
	"*": {
		"whepPreflight":        "call: CORS preflight, no action",
		"whepSessionPreflight": "call: CORS preflight, no action",
		"whipPreflight":        "call: CORS preflight, no action",
		"whipSessionPreflight": "call: CORS preflight, no action",
	},
	"B": {
		"joinServer":   "A's server is public: anyone signed in may join it (Together: 404 only when not public)",
		"acceptInvite": "an invite is an offer to whoever holds its code",
		"previewInvite": "call: an invite's preview (server name, member count) is shown to whoever holds its code, " +
			"signed in or not (Together)",
		"getUser":    "call: a user's public profile is served to any signed-in account (Together)",
		"serveEmoji": "call: custom emoji images are public (security: [] in the spec, as Together)",
	},
	// D was banned from A's server: an outsider who may not come back by
	// joining or by invite (both are called and must be refused).
	"D": {
		"previewInvite": "call: an invite's preview is shown to whoever holds its code (Together)",
		"getUser":       "call: a user's public profile is served to any signed-in account (Together)",
		"serveEmoji":    "call: custom emoji images are public (security: [] in the spec, as Together)",
	},
	"M": {
		// reads a member may make
		"getServer":       "call: a member reads the server",
		"listMembers":     "call: a member lists the members",
		"search":          "call: a member searches the channels they may view",
		"listChannels":    "call: a member lists the channels",
		"getChannel":      "call: a member reads a channel they may view",
		"listRoles":       "call: a member lists the roles (Together: require_member)",
		"listOverrides":   "call: a member reads a visible channel's overrides (Together: require_member)",
		"listEvents":      "call: a member lists the server's events",
		"listEmojis":      "call: a member lists the server's emoji",
		"listMessages":    "call: a member reads a channel they may view",
		"getMessage":      "call: a member reads a message in a channel they may view",
		"listThread":      "call: a member reads a thread in a channel they may view",
		"listReactions":   "call: a member reads reactions in a channel they may view",
		"listPins":        "call: a member reads the pins of a channel they may view",
		"listAttachments": "call: a member reads a visible message's attachments",
		"listVoice":       "call: a member sees who is in a voice channel they may view",
		"getGoLive":       "call: a member sees a voice channel's Go Live session",
		"getPoll":         "call: a member reads a poll in a channel they may view",
		"getUser":         "call: a user's public profile is served to any signed-in account (Together)",
		"serveEmoji":      "call: custom emoji images are public (security: [] in the spec, as Together)",
		"serveFile": "call: a member who may view the message reads its attachment with the Authorization header " +
			"(docs/compatibility.md; B without a signature gets 404)",
		"previewInvite": "call: an invite's preview is shown to whoever holds its code",
		"getRecording":  "call: a stage channel's recordings are visible to the members who may view it",
		"recordingFile": "call: a viewer of the stage plays its recordings",
		"recordingChat": "call: a viewer of the stage replays its chat",
		"downloadRecording": "call: a viewer of the stage downloads its recordings (answers 404 here: the seeded " +
			"recording has no segment)",
		"recordingDownloadURL": "call: a viewer of the stage gets a signed URL to download its recordings with " +
			"(each use re-checks that account's access)",
		"getClip":  "call: a viewer of the stage sees its clips",
		"clipFile": "call: a viewer of the stage plays its clips",
		"clipFileURL": "call: a viewer of the stage gets a signed URL to play its clips with (each use re-checks " +
			"that account's access)",
		// writes a member may make with the default permissions
		"postMessage":    "SEND_MESSAGES is a default permission",
		"postThread":     "SEND_MESSAGES is a default permission",
		"addReaction":    "ADD_REACTIONS is a default permission",
		"removeReaction": "call: removes only the caller's own reaction (A's stays: the final re-read)",
		"ackChannel":     "marks the caller's own read state",
		"createPoll":     "SEND_MESSAGES is a default permission",
		"votePoll":       "a member votes on a poll in a channel they may view",
		"createEvent":    "Together lets any member create an event in a channel they may post in",
		"joinVoice":      "CONNECT_VOICE is a default permission",
		"leaveVoice":     "call: leaves the caller's own voice state only",
		"updateVoice":    "changes the caller's own voice state only",
		"startGoLive":    "a member in the voice channel may go live (Together)",
		"leaveServer":    "a member may leave (done last would end the sweep's member)",
		"createClip":     "any signed-in viewer of the stage may clip (hearth.yaml); needs ffmpeg",
		"whepPlay":       "a viewer of the stage may play it",
	},
	"X": {
		// B acting in his own server X on an account of A's server: it
		// acts on X alone (the final re-read proves S untouched).
		"ban":           "call: bans the account from X, B's own server; S's bans are unchanged",
		"unban":         "call: lifts a ban in X only",
		"timeoutMember": "call: a timeout in X only",
		"removeTimeout": "call: lifts a timeout in X only",
		"removeWord":    "call: {word} is a value, not an id: removes it from X's filter only",
	},
}

// sweepNotSwept: operations with path parameters that the sweep does not
// call, and why.
var sweepNotSwept = map[string]string{
	"recordingPeerFile": "between nodes: signed URLs only; an unsigned call is 403 whoever asks (checked below for B and M)",
	"clipPeerFile":      "between nodes: signed URLs only; an unsigned call is 403 whoever asks (checked below for B and M)",
	"peerFile":          "between nodes: signed URLs only; an unsigned call is 403 whoever asks (checked below for B and M)",
	"peerEmoji":         "between nodes: signed URLs only; an unsigned call is 403 whoever asks (checked below for B and M)",
}

// TestCrossTenantSweep: owner A's server holds one of every object the
// specs' path parameters name. Every operation of api/together.yaml and
// api/hearth.yaml with such a parameter is called as B (signed in, not a
// member), B's bot, D (banned), M (a plain member; also on channels and a
// stage hidden from M), and on mixed-tenant paths (B's own server X with
// A's object); B's (also through X) on the voice, watch and stage channels too.
// Each is refused in the surface's error shape with no 5xx, unless
// sweepAllowed says why not; an operation neither swept nor listed fails
// the test. Cross-tenant ids in bodies and queries, the stage key and
// status routes and the watch channel's OTT room are tried as well, and
// A's objects read the same afterwards. It runs on both engines: each has
// its own SQL.
func TestCrossTenantSweep(t *testing.T) {
	t.Parallel()
	for _, engine := range []string{"sqlite+local", "postgres+nats"} {
		t.Run(engine, func(t *testing.T) {
			t.Parallel()
			cfg := testConfig(t)
			if engine == "postgres+nats" {
				cfg.Database = storetest.PostgresDSN(t)
				if u := natsURL(); u != "" {
					cfg.Bus = u
				}
			}
			crossTenantSweep(t, cfg)
		})
	}
}

func crossTenantSweep(t *testing.T, cfg config.Config) {
	cfg.RTCUDPAddr = "127.0.0.1:0"
	a, _ := start(t, cfg, nil)
	base := a.HTTP.URL()
	tdoc, hdoc := openapitest.Load(t, "together.yaml"), openapitest.Load(t, "hearth.yaml")
	ttr, htr := openapitest.NewTransport(t, tdoc, nil), openapitest.NewTransport(t, hdoc, nil)

	A, B, M, C, D := register(t, base, "owner_a"), register(t, base, "outsider_b"), register(t, base, "member_m"),
		register(t, base, "member_c"), register(t, base, "banned_d")

	// do sends one request; body is JSON unless it is a rawBody.
	do := func(tr *openapitest.Transport, method, path, token string, body any) (int, []byte) {
		t.Helper()
		var rd io.Reader
		ct := ""
		switch b := body.(type) {
		case nil:
		case rawBody:
			rd, ct = bytes.NewReader(b.data), b.ct
		default:
			raw, _ := json.Marshal(b)
			rd, ct = bytes.NewReader(raw), "application/json"
		}
		req, err := http.NewRequest(method, base+path, rd)
		if err != nil {
			t.Fatal(err)
		}
		if ct != "" {
			req.Header.Set("Content-Type", ct)
		}
		switch {
		case strings.HasPrefix(token, "Bot "):
			req.Header.Set("Authorization", token)
		case token != "":
			req.Header.Set("Authorization", "Bearer "+token)
		}
		if _, isRaw := body.(rawBody); isRaw || strings.HasPrefix(token, "Bot ") {
			// SDP and multipart bodies; bot tokens where the spec names
			// bearer tokens only
			req.Header.Set(openapitest.SkipRequestHeader, "1")
		}
		client := http.DefaultClient
		if tr != nil {
			client = tr.Client()
		}
		res, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		raw, _ := io.ReadAll(res.Body)
		return res.StatusCode, raw
	}
	must := func(want int, method, path, token string, body any) map[string]any {
		t.Helper()
		tr := ttr
		if strings.HasPrefix(path, "/api/") {
			tr = htr
		}
		code, raw := do(tr, method, path, token, body)
		if code != want {
			t.Fatalf("setup %s %s: %d, want %d: %s", method, path, code, want, raw)
		}
		var m map[string]any
		_ = json.Unmarshal(raw, &m)
		return m
	}
	str := func(m map[string]any, k string) string { s, _ := m[k].(string); return s }

	// A stays connected: an account connected nowhere is taken out of
	// its call and its Go Live ended, which the final re-read would see.
	gw := dialSocket(t, "ws"+strings.TrimPrefix(base, "http")+"/ws?token="+A.AccessToken)
	go func() {
		for range gw.frames { // drained so the socket never backs up
		}
	}()

	// A's server S and one of everything in it.
	sid := newServer(t, base, A.AccessToken)
	for _, u := range []login{M, C, D} {
		must(201, "POST", "/servers/"+sid+"/join", u.AccessToken, nil)
	}
	ch := map[string]string{}
	for _, kind := range []string{"text", "voice", "watch", "stage"} {
		ch[kind] = str(must(201, "POST", "/servers/"+sid+"/channels", A.AccessToken, map[string]any{"name": "a-" + kind, "type": kind}), "id")
	}
	ch["hidden"] = str(must(201, "POST", "/servers/"+sid+"/channels", A.AccessToken, map[string]any{"name": "a-hidden", "type": "text"}), "id")
	ch["hiddenstage"] = str(must(201, "POST", "/servers/"+sid+"/channels", A.AccessToken, map[string]any{"name": "a-hidden-stage", "type": "stage"}), "id")
	ch["hiddenvoice"] = str(must(201, "POST", "/servers/"+sid+"/channels", A.AccessToken, map[string]any{"name": "a-hidden-voice", "type": "voice"}), "id")
	ch["hiddenwatch"] = str(must(201, "POST", "/servers/"+sid+"/channels", A.AccessToken, map[string]any{"name": "a-hidden-watch", "type": "watch"}), "id")
	// A channel M sees but may not write, react or attach in.
	ch["readonly"] = str(must(201, "POST", "/servers/"+sid+"/channels", A.AccessToken, map[string]any{"name": "a-readonly", "type": "text"}), "id")
	must(200, "PUT", "/channels/"+ch["readonly"]+"/overrides", A.AccessToken, map[string]any{"user_id": M.User.ID, "allow": 0, "deny": 2 | 8 | 16})
	rmsg := str(must(201, "POST", "/channels/"+ch["readonly"]+"/messages", A.AccessToken, map[string]any{"content": "a-readonly-message"}), "id")
	for _, k := range []string{"hiddenstage", "hiddenvoice", "hiddenwatch"} {
		must(200, "PUT", "/channels/"+ch[k]+"/overrides", A.AccessToken, map[string]any{"user_id": M.User.ID, "allow": 0, "deny": 1})
	}
	role := str(must(201, "POST", "/servers/"+sid+"/roles", A.AccessToken, map[string]any{"name": "a-role", "permissions": 4}), "id")
	must(204, "PUT", "/servers/"+sid+"/members/"+C.User.ID+"/roles/"+role, A.AccessToken, nil)
	override := str(must(200, "PUT", "/channels/"+ch["text"]+"/overrides", A.AccessToken, map[string]any{"role_id": role, "allow": 16, "deny": 0}), "id")
	must(200, "PUT", "/channels/"+ch["hidden"]+"/overrides", A.AccessToken, map[string]any{"user_id": M.User.ID, "allow": 0, "deny": 1})
	msg := str(must(201, "POST", "/channels/"+ch["text"]+"/messages", A.AccessToken, map[string]any{"content": "a-message"}), "id")
	must(201, "POST", "/channels/"+ch["stage"]+"/messages", A.AccessToken, map[string]any{"content": "a-stage-message"})
	must(201, "POST", "/channels/"+ch["watch"]+"/messages", A.AccessToken, map[string]any{"content": "a-watch-message"})
	hmsg := str(must(201, "POST", "/channels/"+ch["hidden"]+"/messages", A.AccessToken, map[string]any{"content": "a-hidden-message"}), "id")
	must(201, "POST", "/channels/"+ch["text"]+"/messages/"+msg+"/thread", A.AccessToken, map[string]any{"content": "a-thread-reply"})
	const thumbs = "%F0%9F%91%8D"
	must(204, "PUT", "/channels/"+ch["text"]+"/messages/"+msg+"/reactions/"+thumbs, A.AccessToken, nil)
	must(204, "PUT", "/channels/"+ch["hidden"]+"/messages/"+hmsg+"/reactions/"+thumbs, A.AccessToken, nil)
	must(204, "POST", "/channels/"+ch["text"]+"/messages/"+msg+"/pin", A.AccessToken, nil)
	must(204, "POST", "/channels/"+ch["hidden"]+"/messages/"+hmsg+"/pin", A.AccessToken, nil)
	must(201, "POST", "/messages/"+msg+"/attachments", A.AccessToken, multipartBody(t, "files", "a.png", pngBytes(t)))
	var atts []struct{ URL string }
	if code := call(t, "GET", base+"/messages/"+msg+"/attachments", A.AccessToken, nil, &atts); code != 200 || len(atts) != 1 {
		t.Fatalf("attachments: %d %v", code, atts)
	}
	fileURL := atts[0].URL
	filePath := "a.png"
	if u, err := url.Parse(fileURL); err == nil && strings.Count(u.Path, "/") == 3 {
		filePath = u.Path[strings.LastIndex(u.Path, "/")+1:]
	} else {
		t.Fatalf("attachment url %q", fileURL)
	}
	pollMsg := must(201, "POST", "/channels/"+ch["text"]+"/polls", A.AccessToken, map[string]any{"question": "a-poll", "options": []string{"one", "two"}})
	pollID, optionID := pollOf(t, pollMsg)
	hpollID, hoptionID := pollOf(t, must(201, "POST", "/channels/"+ch["hidden"]+"/polls", A.AccessToken, map[string]any{"question": "a-hidden-poll", "options": []string{"one", "two"}}))
	must(201, "POST", "/channels/"+ch["text"]+"/events", A.AccessToken, map[string]any{"name": "a-event", "starts_at": time.Now().Add(48 * time.Hour).UTC().Format(time.RFC3339)})
	invite := must(201, "POST", "/servers/"+sid+"/invites", A.AccessToken, map[string]any{"max_uses": 5})
	webhook := str(must(201, "POST", "/servers/"+sid+"/webhooks", A.AccessToken, map[string]any{"name": "a-hook", "url": "https://hooks.example.com/a", "event_types": []string{"message.created"}})["webhook"].(map[string]any), "id")
	emoji := str(must(201, "POST", "/servers/"+sid+"/emojis", A.AccessToken, multipartEmoji(t, "a_emoji")), "id")
	bot := str(must(201, "POST", "/bots", A.AccessToken, map[string]any{"name": "a-bot"})["bot"].(map[string]any), "id")
	must(201, "POST", "/servers/"+sid+"/automod/words", A.AccessToken, map[string]any{"word": "a-word"})
	must(200, "PATCH", "/servers/"+sid+"/automod", A.AccessToken, map[string]any{"enabled": true})
	must(204, "POST", "/servers/"+sid+"/members/"+D.User.ID+"/ban", A.AccessToken, map[string]any{"reason": "a-ban"})
	must(200, "POST", "/servers/"+sid+"/members/"+C.User.ID+"/timeout", A.AccessToken, map[string]any{"duration_minutes": 60})
	dm := str(must(201, "POST", "/dm-channels", A.AccessToken, map[string]any{"user_id": C.User.ID}), "id")
	must(201, "POST", "/dm-channels/"+dm+"/messages", A.AccessToken, map[string]any{"content": "a-dm"})
	must(201, "POST", "/channels/"+ch["voice"]+"/voice", A.AccessToken, nil)
	must(201, "POST", "/channels/"+ch["voice"]+"/go-live", A.AccessToken, map[string]any{"quality": "720p"})
	must(200, "PUT", "/api/recording-settings/"+ch["stage"], A.AccessToken, map[string]any{"maxCount": 7})
	// A recording and a clip of each stage channel, written as the
	// recorder leaves them (no ffmpeg here).
	record := func(stage string) (*recording.Recording, *recording.Clip) {
		ctx := context.Background()
		now := time.Now().UTC().Truncate(time.Second)
		end := now.Add(10 * time.Second)
		rec := &recording.Recording{ID: identity.NewID(), StageID: stage, Title: "a-recording", StartedAt: now, EndedAt: &end,
			Duration: 10 * time.Second, NodeID: "gone"}
		if err := a.DB.Recordings().CreateRecording(ctx, rec); err != nil {
			t.Fatal(err)
		}
		recDir := filepath.Join(cfg.DataDir, "recordings", rec.ID)
		if err := os.MkdirAll(recDir, 0o750); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(recDir, recording.PlaylistName), []byte("#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:6\n#EXT-X-PLAYLIST-TYPE:VOD\n#EXT-X-ENDLIST\n"), 0o640); err != nil {
			t.Fatal(err)
		}
		clip := &recording.Clip{ID: identity.NewID(), StageID: stage, RecordingID: rec.ID, Title: "a-clip", Duration: 2 * time.Second,
			Size: 4, CreatedBy: A.User.ID, CreatedAt: now}
		if err := a.DB.Recordings().CreateClip(ctx, clip); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(cfg.DataDir, "recordings", "clips", clip.ID+".mp4"), []byte("mp4!"), 0o640); err != nil {
			t.Fatal(err)
		}
		return rec, clip
	}
	rec, clip := record(ch["stage"])
	hrec, hclip := record(ch["hiddenstage"])
	must(200, "PUT", "/api/recording-settings/"+ch["hiddenstage"], A.AccessToken, map[string]any{"maxCount": 8})

	// B's own server X, with one of each object a mixed path names.
	xid := str(must(201, "POST", "/servers", B.AccessToken, map[string]any{"name": "b-server"}), "id")
	xch := str(must(201, "POST", "/servers/"+xid+"/channels", B.AccessToken, map[string]any{"name": "b-text", "type": "text"}), "id")
	xvoice := str(must(201, "POST", "/servers/"+xid+"/channels", B.AccessToken, map[string]any{"name": "b-voice", "type": "voice"}), "id")
	xstage := str(must(201, "POST", "/servers/"+xid+"/channels", B.AccessToken, map[string]any{"name": "b-stage", "type": "stage"}), "id")
	// B's bot, an account of its own that is in no server.
	bbot := must(201, "POST", "/bots", B.AccessToken, map[string]any{"name": "b-bot"})
	botAuth := "Bot " + str(bbot, "token")

	// What A reads before and after.
	snapshot := []string{
		"/servers/" + sid, "/servers/" + sid + "/channels", "/servers/" + sid + "/members", "/servers/" + sid + "/roles",
		"/channels/" + ch["text"] + "/overrides", "/channels/" + ch["hidden"] + "/overrides",
		"/channels/" + ch["text"] + "/messages", "/channels/" + ch["hidden"] + "/messages",
		"/channels/" + ch["text"] + "/messages/" + msg, "/channels/" + ch["text"] + "/messages/" + msg + "/thread",
		"/channels/" + ch["text"] + "/messages/" + msg + "/reactions", "/channels/" + ch["hidden"] + "/messages/" + hmsg + "/reactions",
		"/channels/" + ch["text"] + "/pinned-messages", "/channels/" + ch["hidden"] + "/pinned-messages",
		"/messages/" + msg + "/attachments", "/polls/" + pollID, "/polls/" + hpollID, "/servers/" + sid + "/events",
		"/servers/" + sid + "/invites", "/servers/" + sid + "/webhooks", "/servers/" + sid + "/emojis", "/servers/" + sid + "/bans",
		"/servers/" + sid + "/automod", "/servers/" + sid + "/automod/words", "/bots/" + bot, "/dm-channels/" + dm + "/messages",
		"/channels/" + ch["voice"] + "/voice", "/channels/" + ch["voice"] + "/go-live",
		"/api/recordings/" + rec.ID, "/api/clips/" + clip.ID, "/api/recording-settings/" + ch["stage"],
		"/api/recordings?stage=" + ch["stage"], "/api/clips?stage=" + ch["stage"],
		"/api/recordings/" + hrec.ID, "/api/clips/" + hclip.ID, "/api/recording-settings/" + ch["hiddenstage"],
		"/channels/" + ch["hiddenstage"] + "/overrides",
		"/channels/" + ch["stage"] + "/messages", "/channels/" + ch["watch"] + "/messages", "/channels/" + ch["readonly"] + "/messages",
		"/channels/" + ch["readonly"] + "/messages/" + rmsg + "/thread", "/channels/" + ch["readonly"] + "/messages/" + rmsg + "/reactions",
	}
	for _, kind := range []string{"text", "voice", "watch", "stage", "hidden", "hiddenstage", "hiddenvoice", "hiddenwatch"} {
		snapshot = append(snapshot, "/servers/"+sid+"/channels/"+ch[kind])
	}
	signature := regexp.MustCompile(`\?exp=[0-9]+(\\u0026|&)sig=[0-9a-f]+`)
	status := regexp.MustCompile(`"status":"[a-z]*"`)
	read := func() map[string]string {
		out := map[string]string{}
		for _, p := range snapshot {
			code, raw := do(nil, "GET", p, A.AccessToken, nil)
			// Attachment URLs are signed anew; presence comes and goes
			// (a sign-in shows an account online until its grace ends).
			raw = status.ReplaceAll(signature.ReplaceAll(raw, nil), []byte(`"status":""`))
			out[p] = fmt.Sprintf("%d %s", code, raw)
		}
		return out
	}
	before := read()
	for p, v := range before {
		if !strings.HasPrefix(v, "200 ") {
			t.Fatalf("A reads %s: %s", p, v)
		}
	}

	// Each principal's view of a path parameter.
	type principal struct {
		name, token string
		// ids names the object each path parameter takes; "" leaves
		// the operation out for this principal.
		ids func(op, path, param string) string
	}
	objects := func(hidden bool) func(op, path, param string) string {
		return func(op, path, param string) string {
			text, message, poll, stage, rec, clip := ch["text"], msg, pollID, ch["stage"], rec, clip
			if hidden {
				text, message, poll, stage, rec, clip = ch["hidden"], hmsg, hpollID, ch["hiddenstage"], hrec, hclip
			}
			switch param {
			case "id":
				switch {
				case strings.HasPrefix(path, "/dm-channels/"):
					return dm
				case strings.HasPrefix(path, "/api/recordings/"):
					return rec.ID
				case strings.HasPrefix(path, "/api/clips/"):
					return clip.ID
				}
				return sid
			case "server_id":
				return sid
			case "channel_id":
				if strings.Contains(path, "/voice") || strings.Contains(path, "/go-live") {
					if hidden {
						return ch["hiddenvoice"]
					}
					return ch["voice"]
				}
				return text
			case "message_id":
				return message
			case "filepath":
				return filePath
			case "poll_id":
				return poll
			case "role_id":
				return role
			case "user_id":
				switch {
				case strings.HasPrefix(path, "/servers/{id}/bans/"):
					return D.User.ID
				case strings.HasPrefix(path, "/servers/"):
					return C.User.ID
				}
				return A.User.ID
			case "override_id":
				return override
			case "word":
				return "a-word"
			case "webhook_id":
				return webhook
			case "invite_id":
				return str(invite, "id")
			case "code":
				return str(invite, "code")
			case "emoji":
				return thumbs
			case "emoji_id":
				return emoji
			case "bot_id":
				return bot
			case "stage":
				return stage
			case "session":
				return identity.NewID()
			case "name":
				return recording.PlaylistName
			}
			return "?" + param
		}
	}
	all, hidden := objects(false), objects(true)
	principals := []principal{
		{"B", B.AccessToken, all},
		{"Bot", botAuth, all},
		{"D", D.AccessToken, all},
		{"M", M.AccessToken, all},
		// M on the channel hidden from M: only channel and message
		// operations, all refused.
		{"M/hidden", M.AccessToken, func(op, path, param string) string {
			if !strings.Contains(path, "{channel_id}") && !strings.Contains(path, "{message_id}") && !strings.Contains(path, "{poll_id}") &&
				!strings.HasPrefix(path, "/api/") {
				return ""
			}
			return hidden(op, path, param)
		}},
		// B with his own server X in the container slot of a path with
		// two ids.
		{"X", B.AccessToken, func(op, path, param string) string {
			if strings.Count(path, "{") < 2 || strings.HasPrefix(path, "/files/") || strings.HasPrefix(path, "/api/") {
				return ""
			}
			first := path[strings.Index(path, "{")+1 : strings.Index(path, "}")]
			switch {
			case param == first && param == "id":
				return xid
			case param == first && param == "channel_id":
				if strings.Contains(path, "/voice") || strings.Contains(path, "/go-live") {
					return xvoice
				}
				return xch
			case param == "user_id":
				if strings.Contains(path, "/roles/") {
					return B.User.ID // B gives himself A's role through X
				}
			}
			return all(op, path, param)
		}},
	}
	// B, and B through X, on A's voice, watch and stage channels: the
	// channel operations that name no message.
	for _, kind := range []string{"voice", "watch", "stage"} {
		for _, p := range []principal{principals[0], principals[len(principals)-1]} {
			ids := p.ids
			principals = append(principals, principal{p.name + "/" + kind, p.token, func(op, path, param string) string {
				if !strings.Contains(path, "{channel_id}") || strings.Contains(path, "{message_id}") {
					return ""
				}
				v := ids(op, path, param)
				if param == "channel_id" && (v == ch["text"] || v == ch["voice"]) {
					return ch[kind]
				}
				return v
			}})
		}
	}

	bodies := map[string]any{
		"updateServer": map[string]any{"name": "pwned"}, "createChannel": map[string]any{"name": "pwned", "type": "text"},
		"updateChannel": map[string]any{"name": "pwned"}, "createRole": map[string]any{"name": "pwned", "permissions": 8192},
		"updateRole": map[string]any{"name": "pwned", "permissions": 8192}, "putOverride": map[string]any{"user_id": B.User.ID, "allow": 8191, "deny": 0},
		"kick": map[string]any{"reason": "pwned"}, "ban": map[string]any{"reason": "pwned"}, "timeoutMember": map[string]any{"duration_minutes": 5},
		"updateAutomod": map[string]any{"enabled": false}, "addWord": map[string]any{"word": "pwned"},
		"createWebhook": map[string]any{"name": "pwned", "url": "https://hooks.example.com/b", "event_types": []string{"message.created"}},
		"updateWebhook": map[string]any{"name": "pwned"}, "createInvite": map[string]any{"max_uses": 1},
		"postMessage": map[string]any{"content": "pwned"}, "editMessage": map[string]any{"content": "pwned"}, "postThread": map[string]any{"content": "pwned"},
		"updateVoice": map[string]any{"self_mute": true}, "startGoLive": map[string]any{"quality": "480p"},
		"createPoll": map[string]any{"question": "pwned", "options": []string{"a", "b"}}, "votePoll": map[string]any{"option_id": optionID},
		"createEvent": map[string]any{"name": "pwned", "starts_at": time.Now().Add(time.Hour).UTC().Format(time.RFC3339)},
		"updateBot":   map[string]any{"name": "pwned"}, "adminUpdateUser": map[string]any{"disabled": true},
		"adminSetPassword": map[string]any{"new_password": "pwnedpassword"}, "postDM": map[string]any{"content": "pwned"},
		"updateRecording": map[string]any{"title": "pwned"}, "createClip": map[string]any{"start": 0, "end": 1},
		"putRecordingSettings": map[string]any{"maxCount": 1},
		"whipPublish":          rawBody{[]byte("v=0\r\n"), "application/sdp"}, "whepPlay": rawBody{[]byte("v=0\r\n"), "application/sdp"},
		"whipPatch": rawBody{[]byte("a=ice-ufrag:x\r\n"), "application/trickle-ice-sdpfrag"}, "whepPatch": rawBody{[]byte("a=ice-ufrag:x\r\n"), "application/trickle-ice-sdpfrag"},
	}
	bodyFor := func(p principal, op string) any {
		switch op {
		case "uploadAttachments":
			return multipartBody(t, "files", "b.png", pngBytes(t))
		case "createEmoji":
			return multipartEmoji(t, "pwned")
		case "votePoll":
			if p.name == "M/hidden" {
				return map[string]any{"option_id": hoptionID}
			}
		}
		return bodies[op]
	}

	type op struct {
		id, method, path string
		doc              *openapi3.T
	}
	var ops []op
	for _, d := range []*openapi3.T{tdoc, hdoc} {
		for path, item := range d.Paths.Map() {
			if !strings.Contains(path, "{") {
				continue
			}
			for method, o := range item.Operations() {
				ops = append(ops, op{o.OperationID, method, path, d})
			}
		}
	}
	slices.SortFunc(ops, func(x, y op) int { return strings.Compare(x.path+x.method, y.path+y.method) })
	param := regexp.MustCompile(`\{([a-z_]+)\}`)
	called := map[string]bool{}
	for _, o := range ops {
		if why, ok := sweepNotSwept[o.id]; ok {
			t.Logf("not swept: %s: %s", o.id, why)
			continue
		}
		for _, p := range principals {
			missing := false
			path := param.ReplaceAllStringFunc(o.path, func(m string) string {
				v := p.ids(o.id, o.path, m[1:len(m)-1])
				if v == "" {
					missing = true
				}
				if strings.Contains(v, "%") {
					return v // already escaped
				}
				return url.PathEscape(v)
			})
			if missing {
				continue
			}
			who, _, _ := strings.Cut(p.name, "/")
			if who == "Bot" {
				who = "B" // a bot of B's is an outsider too
			}
			why, allowed := sweepAllowed[who][o.id]
			if p.name == "M/hidden" {
				allowed = false // nothing on a channel M may not view
			}
			if w, ok := sweepAllowed["*"][o.id]; ok {
				why, allowed = w, true
			}
			if allowed && !strings.HasPrefix(why, "call:") {
				continue
			}
			called[o.id] = true
			tr, prefix := ttr, ""
			if o.doc == hdoc {
				tr = htr
			}
			if strings.HasPrefix(o.path, "/admin/") {
				tr, prefix = nil, "/api" // bare /admin/* is the web UI's
			}
			if o.id == "search" {
				path += "?q=message"
			}
			code, raw := do(tr, o.method, prefix+path, p.token, bodyFor(p, o.id))
			what := fmt.Sprintf("%s as %s: %s %s", o.id, p.name, o.method, prefix+path)
			if code >= 500 {
				t.Errorf("%s: %d %s", what, code, raw)
				continue
			}
			if allowed {
				continue
			}
			if code < 400 {
				t.Errorf("%s: %d, want a refusal: %s", what, code, raw)
				continue
			}
			var e map[string]any
			_ = json.Unmarshal(raw, &e)
			field := "error"
			if o.doc == hdoc {
				field = "message"
			}
			if s, _ := e[field].(string); s == "" {
				t.Errorf("%s: %d not in the surface's error shape: %s", what, code, raw)
			}
			// A refusal names nothing of A's private content.
			for _, secret := range []string{"a-message", "a-hidden", "a-thread-reply", "a-poll", "a-dm", "a-recording", "a-clip", "a-hook"} {
				if strings.Contains(string(raw), secret) {
					t.Errorf("%s: refusal leaks %q: %s", what, secret, raw)
				}
			}
		}
	}
	// Cross-tenant references in bodies and queries, and the stage
	// routes of owncast.yaml that name a stage channel.
	type extra struct {
		name, method, path, token string
		body                      any
		// leak, when set, is text that must not appear in a 2xx answer
		// (searches answer 200 with what the caller may see).
		leak string
	}
	for _, x := range []extra{
		{"B lists the recordings of A's stage", "GET", "/api/recordings?stage=" + ch["stage"], B.AccessToken, nil, ""},
		{"B lists the clips of A's stage", "GET", "/api/clips?stage=" + ch["stage"], B.AccessToken, nil, ""},
		{"M lists the recordings of a stage hidden from M", "GET", "/api/recordings?stage=" + ch["hiddenstage"], M.AccessToken, nil, ""},
		{"M lists the clips of a stage hidden from M", "GET", "/api/clips?stage=" + ch["hiddenstage"], M.AccessToken, nil, ""},
		{"B clips A's stage live", "POST", "/api/clips", B.AccessToken, map[string]any{"stage": ch["stage"], "seconds": 5}, ""},
		{"M clips a stage hidden from M", "POST", "/api/clips", M.AccessToken, map[string]any{"stage": ch["hiddenstage"], "seconds": 5}, ""},
		{"B reads A's stage key", "GET", "/api/stages/" + ch["stage"] + "/key", B.AccessToken, nil, ""},
		{"M reads A's stage key", "GET", "/api/stages/" + ch["stage"] + "/key", M.AccessToken, nil, ""},
		{"B rotates A's stage key", "POST", "/api/stages/" + ch["stage"] + "/key", B.AccessToken, nil, ""},
		{"M rotates A's stage key", "POST", "/api/stages/" + ch["stage"] + "/key", M.AccessToken, nil, ""},
		{"B binds X's stage channel to the instance's default stage", "PATCH", "/servers/" + xid + "/channels/" + xstage, B.AccessToken, map[string]any{"stage_id": "default"}, ""},
		{"B makes a channel of X on the instance's default stage", "POST", "/servers/" + xid + "/channels", B.AccessToken, map[string]any{"name": "b-default", "type": "stage", "stage_id": "default"}, ""},
		{"B reads A's stage status", "GET", "/api/stages/" + ch["stage"] + "/status", B.AccessToken, nil, ""},
		{"M reads the status of a stage hidden from M", "GET", "/api/stages/" + ch["hiddenstage"] + "/status", M.AccessToken, nil, ""},
		{"B overrides X's channel for A's role", "PUT", "/channels/" + xch + "/overrides", B.AccessToken, map[string]any{"role_id": role, "allow": 1, "deny": 0}, ""},
		{"B overrides X's channel for A, no member of X", "PUT", "/channels/" + xch + "/overrides", B.AccessToken, map[string]any{"user_id": A.User.ID, "allow": 1, "deny": 0}, ""},
		{"B replies in X to A's message", "POST", "/channels/" + xch + "/messages", B.AccessToken, map[string]any{"content": "re", "reply_to": msg}, ""},
		{"M replies to a message of a channel hidden from M", "POST", "/channels/" + ch["text"] + "/messages", M.AccessToken, map[string]any{"content": "re", "reply_to": hmsg}, ""},
		{"B votes in A's poll with an option of another poll", "POST", "/polls/" + hpollID + "/vote", B.AccessToken, map[string]any{"option_id": optionID}, ""},
		{"B gives X's role to A, no member of X", "PUT", "/servers/" + xid + "/members/" + A.User.ID + "/roles/" + role, B.AccessToken, nil, ""},
		{"M posts in a channel M may not send in", "POST", "/channels/" + ch["readonly"] + "/messages", M.AccessToken, map[string]any{"content": "x"}, ""},
		{"M replies in a thread of a channel M may not send in", "POST", "/channels/" + ch["readonly"] + "/messages/" + rmsg + "/thread", M.AccessToken, map[string]any{"content": "x"}, ""},
		{"M makes a poll in a channel M may not send in", "POST", "/channels/" + ch["readonly"] + "/polls", M.AccessToken, map[string]any{"question": "q", "options": []string{"a", "b"}}, ""},
		{"M makes an event in a channel M may not send in", "POST", "/channels/" + ch["readonly"] + "/events", M.AccessToken, map[string]any{"name": "e", "starts_at": time.Now().Add(time.Hour).UTC().Format(time.RFC3339)}, ""},
		{"M reacts in a channel M may not react in", "PUT", "/channels/" + ch["readonly"] + "/messages/" + rmsg + "/reactions/" + thumbs, M.AccessToken, nil, ""},
		{"B searches X for A's messages", "GET", "/servers/" + xid + "/search?q=message", B.AccessToken, nil, "a-message"},
		{"M searches S for the hidden channel's message", "GET", "/servers/" + sid + "/search?q=message", M.AccessToken, nil, "a-hidden-message"},
	} {
		code, raw := do(nil, x.method, x.path, x.token, x.body)
		switch {
		case code >= 500:
			t.Errorf("%s: %d %s", x.name, code, raw)
		case x.leak != "":
			if strings.Contains(string(raw), x.leak) {
				t.Errorf("%s: %d leaks %q: %s", x.name, code, x.leak, raw)
			}
		case code < 400:
			t.Errorf("%s: %d, want a refusal: %s", x.name, code, raw)
		}
	}
	// The OTT room of A's watch channel (ott.yaml's {name}): B sees and
	// changes nothing; M plays along but does not configure or delete it.
	room := "/api/room/" + watch.RoomName(ch["watch"])
	ottA, ottB, ottM := ottLogin(t, base, "owner_a"), ottLogin(t, base, "outsider_b"), ottLogin(t, base, "member_m")
	video := map[string]any{"service": "youtube", "id": "dQw4w9WgXcQ"}
	for _, x := range []struct {
		who, tok, method, path string
		body                   any
	}{
		{"B", ottB, "GET", room, nil},
		{"B", ottB, "PATCH", room, map[string]any{"title": "pwned"}},
		{"B", ottB, "DELETE", room, nil},
		{"B", ottB, "DELETE", room, map[string]any{"permanent": true}},
		{"B", ottB, "POST", room + "/queue", video},
		{"B", ottB, "POST", room + "/vote", video},
		{"B", ottB, "POST", room + "/undo", map[string]any{"data": map[string]any{}}},
		{"M", ottM, "PATCH", room, map[string]any{"title": "pwned"}},
		{"M", ottM, "PATCH", room, map[string]any{"claim": true}},
		{"M", ottM, "DELETE", room, nil},
		{"M", ottM, "GET", "/api/room/" + watch.RoomName(ch["hiddenwatch"]), nil},
		{"M", ottM, "POST", "/api/room/" + watch.RoomName(ch["hiddenwatch"]) + "/queue", video},
	} {
		code, raw := do(nil, x.method, x.path, x.tok, x.body)
		var e struct {
			Success *bool
			Error   struct{ Name string }
		}
		_ = json.Unmarshal(raw, &e)
		if code < 400 || code >= 500 || e.Success == nil || *e.Success || e.Error.Name == "" {
			t.Errorf("OTT %s %s as %s: %d, want a refusal in OTT's shape: %s", x.method, x.path, x.who, code, raw)
		}
		// B's answer, and M's for a room hidden from M, is the one for
		// a room that does not exist
		// (docs/compatibility.md): the room's existence does not leak.
		// (An answer may name the room as the path does, as OTT's
		// ClientNotFoundInRoomException to a vote or undo does: that
		// echoes the caller's own path, so the names are set alike.)
		if x.who == "B" || !strings.HasPrefix(x.path, room) {
			asked := strings.SplitN(strings.TrimPrefix(x.path, "/api/room/"), "/", 2)[0]
			other := watch.RoomName(identity.NewID())
			nc, nraw := do(nil, x.method, "/api/room/"+other+x.path[len("/api/room/")+len(asked):], x.tok, x.body)
			nraw = bytes.ReplaceAll(nraw, []byte(other), []byte(asked))
			if nc != code || string(nraw) != string(raw) {
				t.Errorf("OTT %s %s as B: %d %s; for no room: %d %s", x.method, x.path, code, raw, nc, nraw)
			}
		}
	}
	var rm struct{ Title string }
	if code := call(t, "GET", base+room, ottA, nil, &rm); code != 200 || rm.Title != "a-watch" {
		t.Errorf("A's room after the sweep: %d %+v", code, rm)
	}

	// The peer routes need a node's signature, whoever asks.
	for _, tok := range []string{B.AccessToken, M.AccessToken} {
		if code, raw := do(htr, "GET", "/api/recordings/"+rec.ID+"/peer/"+recording.PlaylistName+"?exp=1&sig=00", tok, nil); code != 403 {
			t.Errorf("unsigned peer file: %d %s", code, raw)
		}
		if code, raw := do(htr, "GET", "/api/clips/"+clip.ID+"/peer?exp=1&sig=00", tok, nil); code != 403 {
			t.Errorf("unsigned clip peer file: %d %s", code, raw)
		}
		if code, raw := do(htr, "POST", "/api/clips/peer?exp=1&sig=00", tok, map[string]any{"id": identity.NewID(), "recordingId": rec.ID, "start": 0, "end": 1e9, "by": M.User.ID}); code != 403 {
			t.Errorf("unsigned clip cut: %d %s", code, raw)
		}
		if code, raw := do(ttr, "GET", "/files/"+msg+"/"+filePath+"/peer?exp=1&sig=00", tok, nil); code != 403 {
			t.Errorf("unsigned attachment peer file: %d %s", code, raw)
		}
		if code, raw := do(ttr, "GET", "/emojis/"+emoji+"/peer?exp=1&sig=00", tok, nil); code != 403 {
			t.Errorf("unsigned emoji peer file: %d %s", code, raw)
		}
	}
	// An attachment URL is the attachment only with its signature.
	if fileURL != "" {
		u, _ := url.Parse(fileURL)
		if code, _ := do(nil, "GET", u.Path, B.AccessToken, nil); code < 400 || code >= 500 {
			t.Errorf("unsigned attachment: %d", code)
		}
	}
	for _, o := range ops {
		if _, listed := sweepNotSwept[o.id]; !listed && !called[o.id] && sweepAllowed["B"][o.id] == "" && sweepAllowed["M"][o.id] == "" {
			t.Errorf("%s (%s %s) was not swept: add it or say why in sweepAllowed/sweepNotSwept", o.id, o.method, o.path)
		}
	}

	after := read()
	for _, p := range snapshot {
		if before[p] != after[p] {
			t.Errorf("A's %s changed:\nbefore %s\nafter  %s", p, before[p], after[p])
		}
	}
}

type rawBody struct {
	data []byte
	ct   string
}

func pngBytes(t *testing.T) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := png.Encode(&b, image.NewRGBA(image.Rect(0, 0, 2, 2))); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func multipartBody(t *testing.T, field, name string, data []byte) rawBody {
	t.Helper()
	var b bytes.Buffer
	w := multipart.NewWriter(&b)
	fw, err := w.CreateFormFile(field, name)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = fw.Write(data)
	_ = w.Close()
	return rawBody{b.Bytes(), w.FormDataContentType()}
}

func multipartEmoji(t *testing.T, name string) rawBody {
	t.Helper()
	var b bytes.Buffer
	w := multipart.NewWriter(&b)
	_ = w.WriteField("name", name)
	fw, err := w.CreateFormFile("image", name+".png")
	if err != nil {
		t.Fatal(err)
	}
	_, _ = fw.Write(pngBytes(t))
	_ = w.Close()
	return rawBody{b.Bytes(), w.FormDataContentType()}
}

// pollOf returns the poll id and its first option's id from the message a
// poll was posted as.
func pollOf(t *testing.T, m map[string]any) (string, string) {
	t.Helper()
	p, _ := m["poll"].(map[string]any)
	if p == nil {
		t.Fatalf("no poll in %v", m)
	}
	opts, _ := p["options"].([]any)
	if len(opts) == 0 {
		t.Fatalf("no options in %v", p)
	}
	id, _ := p["id"].(string)
	oid, _ := opts[0].(map[string]any)["id"].(string)
	return id, oid
}
