package media

import (
	"errors"
	"fmt"
	"testing"

	"github.com/hearth-community/hearth/internal/egress"
)

// TestFetchErrHidesInternalNames: a link whose name resolves to an address
// Hearth does not fetch from is answered as a host that cannot be reached,
// word for word as a name that does not resolve; told apart, a guest
// mapped which internal names exist (the session 31 SSRF sweep). A link
// with the address written out is still named plainly.
func TestFetchErrHidesInternalNames(t *testing.T) {
	t.Parallel()
	forbidden := fmt.Errorf("dial: %w", egress.ErrForbiddenAddress)
	unresolved := errors.New("dial tcp: lookup nowhere.internal: no such host")
	byName, unknown := fetchErr("http://db.internal/v.mp4", forbidden), fetchErr("http://nowhere.internal/v.mp4", unresolved)
	var a, b *Error
	if !errors.As(byName, &a) || !errors.As(unknown, &b) || a.Code != b.Code || a.Msg != b.Msg {
		t.Fatalf("internal name: %v; unknown name: %v; want the same answer", byName, unknown)
	}
	for _, link := range []string{"http://127.0.0.1/v.mp4", "http://[::1]:8080/v.mp4", "http://10.0.0.5/v.mp4"} {
		var e *Error
		if err := fetchErr(link, forbidden); !errors.As(err, &e) || e.Code != CodeUnsupportedService {
			t.Errorf("%s: %v, want the refusal named", link, err)
		}
	}
}
