package live_test

import (
	"context"
	"strings"
	"testing"

	"github.com/hearth-community/hearth/internal/fault"
	"github.com/hearth-community/hearth/internal/live"
	"github.com/hearth-community/hearth/internal/store/storetest"
)

// TestVariantNameRefusesNUL: an output variant's name holding a NUL is
// refused as invalid (Owncast's admin 400) and the variants stay as they
// were. The variants are stored as JSON, where the store's own NUL check
// cannot see one, so POST /api/admin/config/video/streamoutputvariants
// kept it and answered 200.
func TestVariantNameRefusesNUL(t *testing.T) {
	t.Parallel()
	s := newService(t, storetest.OpenSQLite(t), live.Config{})
	ctx := context.Background()
	id := s.DefaultStageID()
	if err := s.SetVariants(ctx, id, []live.Variant{{Name: "hd", VideoBitrate: 1200, Framerate: 24}}); err != nil {
		t.Fatal(err)
	}
	err := s.SetVariants(ctx, id, []live.Variant{{Name: "hd\x00", VideoBitrate: 1200, Framerate: 24}})
	if fault.KindOf(err) != fault.Invalid || !strings.Contains(fault.Message(err), "NUL") {
		t.Fatalf("a variant name holding a NUL: %v, want invalid", err)
	}
	st, err := s.StageSettings(ctx, id)
	if err != nil || len(st.Variants) != 1 || st.Variants[0].Name != "hd" {
		t.Fatalf("variants after the refusal: %+v %v, want hd kept", st, err)
	}
}
