package together_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/hearth-community/hearth/internal/store/storetest"
)

// TestModerationReasonBounded: a kick, ban or timeout reason past 512
// characters (Discord's audit-log bound; Together has none) is refused
// with Together's 400 {"error"} before anything happens, so it reaches
// neither the ban list nor the audit log; 512 characters, counted as
// characters and not bytes, are kept whole.
func TestModerationReasonBounded(t *testing.T) {
	t.Parallel()
	for _, eng := range storetest.Engines() {
		t.Run(eng.Name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, eng)
			ann, bob, cat := e.register("ann"), e.register("bob"), e.register("cat")
			sid, _ := e.serverWithChannel(ann, "general", bob, cat)
			long := strings.Repeat("x", 513)
			const want = "reason must be at most 512 characters"
			for _, s := range []struct {
				name, path string
				body       map[string]any
			}{
				{"kick", "/members/" + bob.id + "/kick", map[string]any{"reason": long}},
				{"ban", "/members/" + bob.id + "/ban", map[string]any{"reason": long}},
				{"timeout", "/members/" + bob.id + "/timeout", map[string]any{"reason": long, "duration_minutes": 5}},
			} {
				code, obj, _ := e.call("POST", "/servers/"+sid+s.path, ann.access, s.body)
				if code != 400 || obj["error"] != want || len(obj) != 1 {
					t.Errorf("%s with a 513-character reason: %d %v, want 400 {\"error\": %q}", s.name, code, obj, want)
				}
			}
			// Nothing happened: bob is a member, not banned, not timed
			// out (he still posts), and the audit log has no entry.
			_, bans := e.must(200, "GET", "/servers/"+sid+"/bans", ann.access, nil)
			if len(bans) != 0 {
				t.Errorf("bans after the refused ban: %v", bans)
			}
			_, audit := e.must(200, "GET", "/servers/"+sid+"/audit-logs", ann.access, nil)
			if raw, _ := json.Marshal(audit); strings.Contains(string(raw), long) {
				t.Errorf("the audit log kept a refused reason: %s", raw)
			}
			if _, members := e.must(200, "GET", "/servers/"+sid+"/members", ann.access, nil); len(members) != 3 {
				t.Errorf("members after the refused kick: %v", members)
			}

			// 512 characters of two bytes each are within the bound.
			ok := strings.Repeat("é", 512)
			e.must(200, "POST", "/servers/"+sid+"/members/"+bob.id+"/timeout", ann.access, map[string]any{"reason": ok, "duration_minutes": 5})
			e.must(204, "POST", "/servers/"+sid+"/members/"+cat.id+"/ban", ann.access, map[string]any{"reason": ok})
			_, bans = e.must(200, "GET", "/servers/"+sid+"/bans", ann.access, nil)
			if len(bans) != 1 || bans[0].(map[string]any)["reason"] != ok {
				t.Errorf("bans after a 512-character reason: %v", bans)
			}
			e.must(204, "POST", "/servers/"+sid+"/members/"+bob.id+"/kick", ann.access, map[string]any{"reason": ok})
		})
	}
}
