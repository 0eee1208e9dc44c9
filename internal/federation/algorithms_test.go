package federation_test

import (
	"sync/atomic"
	"testing"

	"github.com/go-fed/httpsig"

	"github.com/hearth-community/hearth/internal/federation"
	"github.com/hearth-community/hearth/internal/federation/fedtest"
	"github.com/hearth-community/hearth/internal/store/storetest"
)

// TestInboxSignatureAlgorithms: an inbox takes the RSA signatures the
// fediverse sends, rsa-sha256 (Mastodon), rsa-sha512 (go-fed signers
// such as Owncast's and GoToSocial's may prefer it) and hs2019 over
// either (go-fed names every signature so), and checks the one the header
// names: a signature made with one and named the other is refused, as is
// an algorithm Hearth does not verify. Only rsa-sha256 was taken, so a
// follow from a server signing with SHA-512 was refused as unsigned.
func TestInboxSignatureAlgorithms(t *testing.T) {
	t.Parallel()
	db := storetest.Engines()[0].Open(t)
	var serverURL atomic.Value
	serverURL.Store("")
	s := newService(t, db, federation.Config{
		Settings: func() federation.Settings {
			return federation.Settings{Enabled: true, Username: "streamer", ServerURL: serverURL.Load().(string), Name: "Stage"}
		},
	})
	base := inboxServer(t, &serverURL, s.Service)
	self, inbox := base+"/federation/user/streamer", base+"/federation/user/streamer/inbox"
	for _, c := range []struct {
		name  string
		alg   httpsig.Algorithm
		named string
		want  int
	}{
		{"rsa-sha256", httpsig.RSA_SHA256, "rsa-sha256", 202},
		{"rsa-sha512", httpsig.RSA_SHA512, "rsa-sha512", 202},
		{"hs2019 over sha256", httpsig.RSA_SHA256, "", 202},
		{"hs2019 over sha512", httpsig.RSA_SHA512, "", 202},
		{"sha512 named sha256", httpsig.RSA_SHA512, "rsa-sha256", 401},
		{"sha256 named sha512", httpsig.RSA_SHA256, "rsa-sha512", 401},
		{"named ed25519", httpsig.RSA_SHA256, "ed25519", 401},
	} {
		p := fedtest.NewPeer(t, "p")
		if r := p.Post(t, inbox, p.Follow(self), fedtest.SignOpts{Algorithm: c.alg, Named: c.named}); r.Status != c.want {
			t.Errorf("%s: follow = %d %s, want %d", c.name, r.Status, r.Body, c.want)
		}
	}
}
