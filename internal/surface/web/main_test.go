package web_test

import (
	"os"
	"testing"

	"github.com/hearth-community/hearth/internal/identity"
)

// TestMain stops the tests' shared chromium (newBrowser) at the end, and
// makes password hashing cheap for this package's nodes: the
// production argon2id cost (identity.DefaultArgon2, 36 MiB of memory passes a
// hash) is most of a sign-up's CPU under the race detector, and these tests
// sign up and in hundreds of times. The cost itself is internal/identity's
// test (TestPasswordHashPHC).
func TestMain(m *testing.M) {
	identity.DefaultArgon2 = identity.Argon2Params{Memory: 64, Time: 1, Threads: 1}
	code := m.Run()
	stopBrowser()
	os.Exit(code)
}
