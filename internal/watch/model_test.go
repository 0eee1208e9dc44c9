package watch

import (
	"reflect"
	"testing"
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
