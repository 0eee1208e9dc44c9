package together_test

import (
	"encoding/json"
	"testing"

	"github.com/hearth-community/hearth/internal/store/storetest"
)

// TestCustomEmojiCreateCarriesTheEmoji: Together's web client adds the
// CUSTOM_EMOJI_CREATE payload to its emoji store as a CustomEmoji (id,
// server_id, created_by, name, url, content_type, file_size, created_at),
// as Together broadcasts its CustomEmojiDto; a payload of ids alone put a
// nameless, URL-less emoji in every member's picker.
func TestCustomEmojiCreateCarriesTheEmoji(t *testing.T) {
	t.Parallel()
	e := newEnv(t, storetest.Engines()[0])
	ann, bob := e.register("ann"), e.register("bob")
	sid, _ := e.serverWithChannel(ann, "general", bob)
	wb, _, err := e.dial("token=" + bob.access)
	if err != nil {
		t.Fatal(err)
	}
	wb.waitFor("READY")
	code, body := e.upload("/servers/"+sid+"/emojis", ann.access, []part{{"name", "", []byte("wave")}, {"image", "w.png", pngBytes(t, 2, 2)}})
	if code != 201 {
		t.Fatalf("emoji: %d %s", code, body)
	}
	var created map[string]any
	if err := json.Unmarshal([]byte(body), &created); err != nil {
		t.Fatal(err)
	}
	f := wb.waitFor("CUSTOM_EMOJI_CREATE")
	var got map[string]any
	if err := json.Unmarshal(f.D, &got); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"id", "server_id", "created_by", "name", "url", "content_type", "file_size", "created_at"} {
		if got[k] == nil || got[k] != created[k] {
			t.Errorf("CUSTOM_EMOJI_CREATE %s = %v, want %v (the REST answer's)", k, got[k], created[k])
		}
	}
}

// TestMembersCarryActivity: Together's web client reads MemberDto.activity
// to show what each member is doing in the member list; it is there, null
// when unset.
func TestMembersCarryActivity(t *testing.T) {
	t.Parallel()
	e := newEnv(t, storetest.Engines()[0])
	ann, bob := e.register("ann"), e.register("bob")
	sid, _ := e.serverWithChannel(ann, "general", bob)
	e.must(200, "PATCH", "/users/@me", ann.access, map[string]any{"activity": "Playing chess"})
	_, list := e.must(200, "GET", "/servers/"+sid+"/members", bob.access, nil)
	want := map[string]any{ann.id: "Playing chess", bob.id: nil}
	for _, m := range list {
		m := m.(map[string]any)
		v, ok := m["activity"]
		if !ok || v != want[m["user_id"].(string)] {
			t.Errorf("member %s: activity %v (present %v), want %v", m["username"], v, ok, want[m["user_id"].(string)])
		}
	}
}
