package web_test

import (
	"os"
	"testing"

	"github.com/hearth-community/hearth/internal/identity"
)

// TestMain makes password hashing cheap for this package's nodes: the
// production argon2id cost (identity.DefaultArgon2, 36 MiB of memory passes a
// hash) is most of a sign-up's CPU under the race detector, and these tests
// sign up and in hundreds of times. The cost itself is internal/identity's
// test (TestPasswordHashPHC).
func TestMain(m *testing.M) {
	identity.DefaultArgon2 = identity.Argon2Params{Memory: 64, Time: 1, Threads: 1}
	os.Exit(m.Run())
}
