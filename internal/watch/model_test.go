package watch

import (
	"reflect"
	"testing"
	"time"
)

// TestModelHasNoWireNames: the room model is the domain's own. No type a
// surface sees carries JSON names; each surface writes its wire format
// (OpenTogetherTube's is internal/surface/ott/wire.go). The stored
// encoding (record.go) and the cluster's messages (cluster.go) are this
// package's private types.
func TestModelHasNoWireNames(t *testing.T) {
	t.Parallel()
	seen := map[reflect.Type]bool{}
	var walk func(reflect.Type, string)
	walk = func(ty reflect.Type, path string) {
		for ty.Kind() == reflect.Pointer || ty.Kind() == reflect.Slice || ty.Kind() == reflect.Array || ty.Kind() == reflect.Map {
			ty = ty.Elem()
		}
		if ty.Kind() != reflect.Struct || seen[ty] || ty.PkgPath() != reflect.TypeFor[Room]().PkgPath() {
			return
		}
		seen[ty] = true
		for i := range ty.NumField() {
			f := ty.Field(i)
			if tag, ok := f.Tag.Lookup("json"); ok {
				t.Errorf("%s.%s has the wire name %q", path, f.Name, tag)
			}
			walk(f.Type, path+"."+f.Name)
		}
	}
	for _, v := range []any{Video{}, VideoRef{}, Request{}, UserInfo{}, UserUpdate{}, Chat{}, Event{}, EventRecord{},
		Additional{}, Sync{}, Settings{}, Segment{}, Listing{}, Snapshot{}, Clock{}, Actor{}, Record{}, CreateInput{}} {
		ty := reflect.TypeOf(v)
		walk(ty, ty.Name())
	}
}

// TestBusEncoding: an event read back from the bus is the event sent, with
// a previous queue's absence kept apart from an empty one, and a position
// sync stays small.
func TestBusEncoding(t *testing.T) {
	t.Parallel()
	at := time.Date(2026, 1, 2, 3, 4, 5, 6_000_000, time.UTC)
	u := UserInfo{ID: "c1", Name: "ann", IsLoggedIn: true, Status: "ready", Role: RoleTrusted}
	pos := 1.5
	full := &Sync{Fields: AllFields, ServerTime: at, Name: "n", Title: "t", Description: "d", Temporary: true,
		Visibility: Unlisted, QueueMode: QueueVote, Current: &Video{Service: "direct", ID: "x", HLSURL: "h", StartAt: &pos},
		Queue: []Video{}, Playing: true, Position: 3, Speed: 1.25, Grants: DefaultGrants(), HasOwner: true,
		VoteCounts: []VoteCount{{"directx", 2}}, Segments: []Segment{}, AutoSkip: []string{}, PrevQueue: []Video{},
		Restore: RestoreAlways, VoteSkip: true, SkipVotes: []string{}}
	for _, ev := range []Event{
		{Type: EvSync, Sync: full},
		{Type: EvSync, Sync: &Sync{Fields: FieldPrevQueue | FieldQueue, ServerTime: at, Queue: []Video{}}},
		{Type: EvEvent, Event: &EventRecord{Request: Request{Type: ReqSeek, Value: &pos}, User: u, Additional: Additional{PrevPosition: &pos}}},
		{Type: EvChat, Chat: &Chat{From: u, Text: "hi"}},
		{Type: EvUser, User: &UserUpdate{Kind: UsersInit, Users: []UserInfo{u}}},
		{Type: EvUser, User: &UserUpdate{Kind: UsersRemove, ClientID: "c1"}},
		{Type: EvCustom, Text: "x", Duration: 5000},
		{Type: EvClose, Close: CloseBanned},
	} {
		b, err := EncodeEvent(ev)
		if err != nil {
			t.Fatal(err)
		}
		back, err := DecodeEvent(b)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(back, ev) {
			t.Errorf("round trip of %s\n got %+v\nwant %+v", b, back, ev)
		}
	}
	b, _ := EncodeEvent(Event{Type: EvSync, Sync: &Sync{Fields: FieldPosition, ServerTime: at, Position: 2.5}})
	if len(b) > 100 {
		t.Errorf("a position sync takes %d bytes: %s", len(b), b)
	}
}
