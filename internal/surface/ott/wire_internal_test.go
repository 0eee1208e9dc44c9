package ott

import (
	"encoding/json"
	"testing"

	"github.com/hearth-community/hearth/internal/watch"
)

// TestWireEventRoundTrip: an event a client sends back (to undo it) is
// read into the domain's model and written out again unchanged, for every
// shape an event takes.
func TestWireEventRoundTrip(t *testing.T) {
	t.Parallel()
	user := `"user":{"id":"c1","name":"ann","isLoggedIn":true,"status":"ready","role":2}`
	for _, in := range []string{
		`{"request":{"type":4,"value":2.5},` + user + `,"additional":{"prevPosition":1}}`,
		`{"request":{"type":3},` + user + `,"additional":{"video":{"service":"direct","id":"v","title":"t","length":4,"mime":"video/mp4","hls_url":"h","dash_url":"d","src_url":"s","subtitleUrl":"x.vtt","startAt":1,"endAt":2},"prevPosition":3.5}}`,
		`{"request":{"type":5,"videos":[{"service":"direct","id":"a"},{"service":"direct","id":"b","subtitleUrl":"b.vtt"}]},` + user + `,"additional":{"videos":[{"service":"direct","id":"a"},{"service":"direct","id":"b"}]}}`,
		`{"request":{"type":6,"video":{"service":"direct","id":"a"}},` + user + `,"additional":{"video":{"service":"direct","id":"a"},"queueIdx":0}}`,
		`{"request":{"type":1},` + user + `,"additional":{"user":{"id":"c1","name":"ann","isLoggedIn":true,"status":"ready","role":2}}}`,
		`{"request":{"type":19,"video":{"service":"direct","id":"a"},"update":{"subtitleUrl":"a.vtt"}},` + user + `,"additional":{}}`,
		`{"request":{"type":0,"info":{"id":"c1","username":"ann","status":"none"}},` + user + `,"additional":{}}`,
		`{"request":{"type":8,"targetClientId":"c2","role":3},` + user + `,"additional":{}}`,
		`{"request":{"type":18,"clientId":"c2","ban":true},` + user + `,"additional":{}}`,
	} {
		var w wireEventRecord
		if err := json.Unmarshal([]byte(in), &w); err != nil {
			t.Fatal(err)
		}
		rec, err := w.record()
		if err != nil {
			t.Fatalf("%s: %v", in, err)
		}
		out, _ := json.Marshal(eventRecordOut(*rec))
		if string(out) != in {
			t.Errorf("round trip\n got %s\nwant %s", out, in)
		}
	}
}

// TestWireSettings: settings are read strictly, in both of OTT's grant
// encodings; what cannot be read is a bad argument before it reaches a
// room.
func TestWireSettings(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in   string
		ok   bool
		want func(*watch.Settings) bool
	}{
		{`{"title":"x","queueMode":"vote","enableVoteSkip":true,"restoreQueueBehavior":2,"autoSkipSegmentCategories":["intro"]}`, true,
			func(s *watch.Settings) bool {
				return *s.Title == "x" && *s.QueueMode == watch.QueueVote && *s.VoteSkip && *s.Restore == 2 && (*s.AutoSkip)[0] == "intro" && s.Grants == nil
			}},
		{`{"grants":[[0,5],[3,7]]}`, true, func(s *watch.Settings) bool { return s.Grants[0] == 5 && s.Grants[3] == 7 && len(s.Grants) == 2 }},
		{`{"grants":{"1":9}}`, true, func(s *watch.Settings) bool { return s.Grants[1] == 9 }},
		{`{"grants":null}`, true, func(s *watch.Settings) bool { return s.Grants == nil }},
		{`{"bogus":1}`, false, nil},
		{`{"grants":[[9,1]]}`, false, nil},
		{`{"title":5}`, false, nil},
		{``, false, nil},
	}
	for _, tc := range tests {
		s, err := parseSettings([]byte(tc.in))
		if !tc.ok {
			if watch.CodeOf(err) != watch.CodeBadArgument {
				t.Errorf("%s: got %v, want a bad argument", tc.in, err)
			}
			continue
		}
		if err != nil || !tc.want(s) {
			t.Errorf("%s: got %+v, %v", tc.in, s, err)
		}
	}
	// An ApplySettings request carries its settings parsed; a socket
	// request whose settings cannot be read never reaches the room.
	var w wireRequest
	_ = json.Unmarshal([]byte(`{"type":13,"settings":{"title":"t"}}`), &w)
	if r, err := w.request(); err != nil || r.Settings == nil || *r.Settings.Title != "t" {
		t.Fatalf("apply settings request: %+v %v", r, err)
	}
	_ = json.Unmarshal([]byte(`{"type":13,"settings":{"nope":1}}`), &w)
	if _, err := w.request(); watch.CodeOf(err) != watch.CodeBadArgument {
		t.Fatalf("unreadable settings: %v", err)
	}
}

// TestSyncFieldsCoverEveryField: every field a sync can hold has one OTT
// key, so a full sync writes them all.
func TestSyncFieldsCoverEveryField(t *testing.T) {
	t.Parallel()
	var covered watch.Fields
	keys := map[string]bool{}
	for _, sf := range syncFields {
		if covered.Has(sf.field) || keys[sf.key] {
			t.Fatalf("field %b or key %q twice", sf.field, sf.key)
		}
		covered |= sf.field
		keys[sf.key] = true
	}
	if covered != watch.AllFields {
		t.Fatalf("covered %b, want %b", covered, watch.AllFields)
	}
	b, err := syncOut(&watch.Sync{Fields: watch.AllFields})
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	if len(m) != len(syncFields)+2 {
		t.Fatalf("a full sync has %d keys, want %d", len(m), len(syncFields)+2)
	}
}

// TestWireJoinInfoIsClientInfo: the JoinRequest an event echoes carries
// OTT's ClientInfo ({id, username?, user_id?, status?}); the display name
// goes under "username", the key OTT's server sends and its types declare,
// not under a key the client does not know.
func TestWireJoinInfoIsClientInfo(t *testing.T) {
	t.Parallel()
	rec := watch.EventRecord{Request: watch.Request{Type: watch.ReqJoin, Info: &watch.UserUpdateInfo{ID: "c1", Name: "ann", Status: "none"}},
		User: watch.UserInfo{ID: "c1", Name: "ann", Status: "none"}}
	b, _ := json.Marshal(eventRecordOut(rec))
	var got struct {
		Request struct {
			Info map[string]any `json:"info"`
		} `json:"request"`
	}
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatal(err)
	}
	allowed := map[string]bool{"id": true, "username": true, "user_id": true, "status": true}
	for k := range got.Request.Info {
		if !allowed[k] {
			t.Errorf("join info has key %q, which OTT's ClientInfo does not declare: %s", k, b)
		}
	}
	if got.Request.Info["username"] != "ann" || got.Request.Info["id"] != "c1" {
		t.Errorf("join info = %v, want id c1 and username ann", got.Request.Info)
	}
	// A client's UpdateUser request names the user the same way.
	var w wireRequest
	if err := json.Unmarshal([]byte(`{"type":10,"info":{"id":"c1","username":"bob","status":"ready"}}`), &w); err != nil {
		t.Fatal(err)
	}
	r, err := w.request()
	if err != nil || r.Info == nil || r.Info.Name != "bob" || r.Info.Status != "ready" {
		t.Errorf("UpdateUser info read as %+v, %v", r.Info, err)
	}
}
