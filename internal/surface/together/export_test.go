package together_test

import (
	"archive/zip"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hearth-community/hearth/internal/store/storetest"
)

// TestExportServer unzips GET /servers/:id/export and checks it against
// Together's export.rs: entry names, the export-only JSON shapes, pretty
// JSON for the four documents, JSON lines oldest first for messages (thread
// replies in, deleted out), the caller's DMs, and the headers.
func TestExportServer(t *testing.T) {
	t.Parallel()
	for _, eng := range storetest.Engines() {
		t.Run(eng.Name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, eng)
			ann, bob, cat := e.register("ann"), e.register("bob"), e.register("cat")
			srv, _ := e.must(201, "POST", "/servers", ann.access, map[string]any{"name": "Café Déjà-vu/2", "is_public": true})
			sid := srv["id"].(string)
			gen, _ := e.must(201, "POST", "/servers/"+sid+"/channels", ann.access, map[string]any{"name": "General Chat", "type": "text"})
			gid := gen["id"].(string)
			e.must(201, "POST", "/servers/"+sid+"/channels", ann.access, map[string]any{"name": "quiet", "type": "text"})
			e.must(201, "POST", "/servers/"+sid+"/channels", ann.access, map[string]any{"name": "Lounge", "type": "voice"})
			e.must(201, "POST", "/servers/"+sid+"/roles", ann.access, map[string]any{"name": "high", "permissions": 1, "position": 5})
			e.must(201, "POST", "/servers/"+sid+"/roles", ann.access, map[string]any{"name": "low", "permissions": 2, "position": 1})
			e.must(201, "POST", "/servers/"+sid+"/join", bob.access, nil)

			post := func(u user, body map[string]any) string {
				m, _ := e.must(201, "POST", "/channels/"+gid+"/messages", u.access, body)
				return m["id"].(string)
			}
			first := post(bob, map[string]any{"content": `hi <b>&</b> "all"`})
			reply := post(ann, map[string]any{"content": "hello bob", "reply_to": first})
			e.must(200, "PATCH", "/messages/"+reply, ann.access, map[string]any{"content": "hello, bob"})
			gone := post(ann, map[string]any{"content": "oops"})
			e.must(204, "DELETE", "/messages/"+gone, ann.access, nil)
			th, _ := e.must(201, "POST", "/channels/"+gid+"/messages/"+first+"/thread", ann.access, map[string]any{"content": "in a thread"})
			dm, _ := e.must(201, "POST", "/dm-channels", ann.access, map[string]any{"user_id": bob.id})
			e.must(201, "POST", "/dm-channels/"+dm["id"].(string)+"/messages", bob.access, map[string]any{"content": "secret"})
			e.must(201, "POST", "/dm-channels", ann.access, map[string]any{"user_id": cat.id}) // no messages: no file
			other, _ := e.must(201, "POST", "/dm-channels", bob.access, map[string]any{"user_id": cat.id})
			e.must(201, "POST", "/dm-channels/"+other["id"].(string)+"/messages", bob.access, map[string]any{"content": "not ann's"})

			for _, u := range []user{bob, cat} {
				code, obj, _ := e.call("GET", "/servers/"+sid+"/export", u.access, nil)
				if code != 404 || obj["error"] != "Server not found" {
					t.Errorf("export by %s: %d %v", u.name, code, obj)
				}
			}

			req, _ := http.NewRequest("GET", e.url+"/api/servers/"+sid+"/export", nil)
			req.Header.Set("Authorization", "Bearer "+ann.access)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			raw, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			const slug = "café_déjà-vu_2"
			day := time.Now().UTC().Format("20060102")
			if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "application/zip" ||
				resp.Header.Get("Content-Disposition") != `attachment; filename="`+slug+`-export-`+day+`.zip"` {
				t.Fatalf("export response %d %v", resp.StatusCode, resp.Header)
			}
			zr, err := zip.NewReader(bytes.NewReader(raw), int64(len(raw)))
			if err != nil {
				t.Fatal(err)
			}
			files := map[string]string{}
			var names []string
			for _, f := range zr.File {
				if f.Method != zip.Deflate {
					t.Errorf("%s stored with method %d", f.Name, f.Method)
				}
				rc, _ := f.Open()
				b, _ := io.ReadAll(rc)
				rc.Close()
				files[strings.TrimPrefix(f.Name, slug+"-export/")] = string(b)
				names = append(names, f.Name)
			}
			want := []string{"server.json", "channels.json", "members.json", "roles.json",
				"messages/general_chat-" + gid + ".jsonl", "dm_messages/bob-" + dm["id"].(string) + ".jsonl"}
			for i := range want {
				want[i] = slug + "-export/" + want[i]
			}
			if !slices.Equal(names, want) {
				t.Fatalf("entries\n got %q\nwant %q", names, want)
			}

			var server map[string]any
			if s := files["server.json"]; !strings.HasPrefix(s, "{\n  \"id\": ") || strings.HasSuffix(s, "\n") || json.Unmarshal([]byte(s), &server) != nil {
				t.Errorf("server.json not pretty JSON without a trailing newline: %q", s)
			}
			if keys(server) != "created_at,icon_url,id,is_public,name,owner_id" || server["owner_id"] != ann.id || server["name"] != "Café Déjà-vu/2" {
				t.Errorf("server.json %v", server)
			}
			var chans, members, roles []map[string]any
			for name, v := range map[string]*[]map[string]any{"channels.json": &chans, "members.json": &members, "roles.json": &roles} {
				if err := json.Unmarshal([]byte(files[name]), v); err != nil {
					t.Fatalf("%s: %v", name, err)
				}
			}
			if len(chans) != 3 || keys(chans[0]) != "category,channel_type,created_at,id,name,position,topic" || chans[2]["channel_type"] != "voice" {
				t.Errorf("channels.json %v", chans)
			}
			if len(members) != 2 || keys(members[0]) != "joined_at,nickname,user_id,username" || members[0]["username"] != "ann" || members[1]["user_id"] != bob.id {
				t.Errorf("members.json %v", members)
			}
			if len(roles) != 2 || keys(roles[0]) != "color,id,name,permissions,position" || roles[0]["name"] != "low" || roles[1]["name"] != "high" {
				t.Errorf("roles.json (ascending position) %v", roles)
			}

			lines := strings.Split(files["messages/general_chat-"+gid+".jsonl"], "\n")
			if len(lines) != 4 || lines[3] != "" {
				t.Fatalf("message lines %q", lines)
			}
			if !strings.Contains(lines[0], `"content":"hi <b>&</b> \"all\""`) {
				t.Errorf("HTML escaped or pretty-printed line %s", lines[0])
			}
			var msgs []map[string]any
			for _, l := range lines[:3] {
				var m map[string]any
				if err := json.Unmarshal([]byte(l), &m); err != nil {
					t.Fatal(err)
				}
				msgs = append(msgs, m)
			}
			if keys(msgs[0]) != "author_id,author_username,content,created_at,edited_at,id,reply_to" {
				t.Errorf("message keys %s", keys(msgs[0]))
			}
			if msgs[0]["id"] != first || msgs[0]["author_username"] != "bob" || msgs[1]["id"] != reply || msgs[1]["reply_to"] != first ||
				msgs[1]["content"] != "hello, bob" || msgs[1]["edited_at"] == nil || msgs[2]["id"] != th["id"] {
				t.Errorf("messages %v", msgs)
			}
			var d map[string]any
			if err := json.Unmarshal([]byte(strings.TrimSuffix(files["dm_messages/bob-"+dm["id"].(string)+".jsonl"], "\n")), &d); err != nil ||
				keys(d) != "author_id,author_username,content,created_at,id" || d["content"] != "secret" || d["author_id"] != bob.id {
				t.Errorf("dm line %v %v", d, err)
			}
		})
	}
}

// TestExportStreamsEveryPage: an export is streamed (no Content-Length:
// the archive is never whole in memory) and a channel of more messages
// than the export reads at a time comes out whole, oldest first, thread
// replies in their place.
func TestExportStreamsEveryPage(t *testing.T) {
	t.Parallel()
	e := newEnv(t, storetest.Engines()[0])
	ann := e.register("ann")
	sid, cid := e.serverWithChannel(ann, "busy")
	var want []string
	for i := range 450 {
		m, _ := e.must(201, "POST", "/channels/"+cid+"/messages", ann.access, map[string]any{"content": fmt.Sprintf("message %d", i)})
		want = append(want, m["id"].(string))
		if i == 250 {
			th, _ := e.must(201, "POST", "/channels/"+cid+"/messages/"+want[0]+"/thread", ann.access, map[string]any{"content": "in a thread"})
			want = append(want, th["id"].(string))
		}
	}
	req, _ := http.NewRequest("GET", e.url+"/servers/"+sid+"/export", nil)
	req.Header.Set("Authorization", "Bearer "+ann.access)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || resp.ContentLength != -1 {
		t.Fatalf("export: %d, Content-Length %d (want a streamed 200)", resp.StatusCode, resp.ContentLength)
	}
	zr, err := zip.NewReader(bytes.NewReader(raw), int64(len(raw)))
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, f := range zr.File {
		if !strings.Contains(f.Name, "/messages/busy-") {
			continue
		}
		rc, err := f.Open()
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(rc)
		rc.Close()
		for _, line := range strings.Split(strings.TrimSuffix(string(b), "\n"), "\n") {
			var m struct {
				ID string `json:"id"`
			}
			if err := json.Unmarshal([]byte(line), &m); err != nil {
				t.Fatalf("line %q: %v", line, err)
			}
			got = append(got, m.ID)
		}
	}
	if !slices.Equal(got, want) {
		t.Errorf("exported %d messages, want %d in order (first %v, want %v)", len(got), len(want), got[:min(3, len(got))], want[:3])
	}
}

// TestExportsPerAccount: one account runs or awaits at most
// export.ExportsPerAccount exports at once; past that its next is refused
// at once (429 with Retry-After) while another owner's export runs on a
// free turn. Before, one account's exports read slowly held every turn,
// and every other owner's export waited 15 s and got 503.
func TestExportsPerAccount(t *testing.T) {
	t.Parallel()
	for _, eng := range storetest.Engines() {
		t.Run(eng.Name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, eng)
			ann, bob := e.register("ann"), e.register("bob")
			mine, _ := e.must(201, "POST", "/servers", ann.access, map[string]any{"name": "A"})
			his, _ := e.must(201, "POST", "/servers", bob.access, map[string]any{"name": "B"})
			release := e.surf.HoldExportTurnsOf(t, ann.id)
			code, obj, hdr := e.callH("GET", "/servers/"+mine["id"].(string)+"/export", ann.access, nil)
			if code != 429 || obj["error"] != "You are already exporting a server; wait for it to finish" || hdr.Get("Retry-After") == "" {
				t.Fatalf("ann's export past her share: %d %v %v", code, obj, hdr)
			}
			if code, _, _, _ := e.request("GET", "/servers/"+his["id"].(string)+"/export", bob.access, nil); code != 200 {
				t.Fatalf("bob's export beside ann's: %d", code)
			}
			release()
			if code, _, _, _ := e.request("GET", "/servers/"+mine["id"].(string)+"/export", ann.access, nil); code != 200 {
				t.Fatalf("ann's export once hers is done: %d", code)
			}
		})
	}
}
