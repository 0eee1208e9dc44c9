package together_test

import (
	"testing"

	"github.com/hearth-community/hearth/internal/store/storetest"
)

// TestTimeoutRange: a moderator's timeout takes 1 to 40320 minutes (28
// days), as Together's moderation.rs and docs/member-moderation.md; Hearth
// refused anything past 7 days (the automod setting's bound).
func TestTimeoutRange(t *testing.T) {
	t.Parallel()
	e := newEnv(t, storetest.Engines()[0])
	ann, bob := e.register("ann"), e.register("bob")
	sid, _ := e.serverWithChannel(ann, "g", bob)
	path := "/servers/" + sid + "/members/" + bob.id + "/timeout"
	for _, c := range []struct {
		minutes, status int
	}{{20160, 200}, {40320, 200}, {40321, 400}, {0, 400}} {
		code, obj, _ := e.call("POST", path, ann.access, map[string]any{"duration_minutes": c.minutes})
		if code != c.status {
			t.Errorf("%d minutes: %d %v, want %d", c.minutes, code, obj, c.status)
		}
		if c.status == 400 && obj["error"] != "duration_minutes must be between 1 and 40320 (28 days)" {
			t.Errorf("%d minutes: %v", c.minutes, obj)
		}
	}
}
