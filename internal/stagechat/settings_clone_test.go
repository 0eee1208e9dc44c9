package stagechat

import (
	"reflect"
	"testing"
)

// fill sets every field reachable from v to a non-zero value: strings,
// bools, slices of one filled element, maps of one filled entry.
func fill(t *testing.T, v reflect.Value) {
	t.Helper()
	switch v.Kind() {
	case reflect.String:
		v.SetString("x")
	case reflect.Bool:
		v.SetBool(true)
	case reflect.Int, reflect.Int64, reflect.Int32:
		v.SetInt(1)
	case reflect.Struct:
		for i := range v.NumField() {
			fill(t, v.Field(i))
		}
	case reflect.Slice:
		s := reflect.MakeSlice(v.Type(), 1, 1)
		fill(t, s.Index(0))
		v.Set(s)
	case reflect.Map:
		m := reflect.MakeMap(v.Type())
		k, e := reflect.New(v.Type().Key()).Elem(), reflect.New(v.Type().Elem()).Elem()
		fill(t, k)
		fill(t, e)
		m.SetMapIndex(k, e)
		v.Set(m)
	default:
		t.Fatalf("Settings has a %s field: teach clone and this test about it", v.Kind())
	}
}

// shared reports the path of a slice or map that a and b share.
func shared(a, b reflect.Value, path string) string {
	switch a.Kind() {
	case reflect.Struct:
		for i := range a.NumField() {
			if p := shared(a.Field(i), b.Field(i), path+"."+a.Type().Field(i).Name); p != "" {
				return p
			}
		}
	case reflect.Slice, reflect.Map:
		if a.Pointer() == b.Pointer() {
			return path
		}
	}
	return ""
}

// TestSettingsCloneSharesNothing: a copy from Settings never shares a
// slice or map with the cached settings, and is equal to them; a field
// added to Settings without a line in clone fails here.
func TestSettingsCloneSharesNothing(t *testing.T) {
	t.Parallel()
	var s Settings
	fill(t, reflect.ValueOf(&s).Elem())
	c := s.clone()
	if !reflect.DeepEqual(s, c) {
		t.Fatalf("clone differs:\n%+v\n%+v", s, c)
	}
	if p := shared(reflect.ValueOf(s), reflect.ValueOf(c), "Settings"); p != "" {
		t.Fatalf("clone shares %s with the original", p)
	}
	c.Tags[0] = "changed"
	if s.Tags[0] != "x" {
		t.Fatal("changing the copy changed the original")
	}
}
