// Package identitytest is what other packages' tests need from identity.
package identitytest

import "github.com/hearth-community/hearth/internal/identity"

// Argon2 is a password-hashing cost for tests: 64 KiB, one pass. The
// production cost (identity.DefaultArgon2, 36 MiB of memory passes a hash)
// is most of a sign-up's CPU under the race detector. The production cost
// itself is identity's test (TestPasswordHashPHC).
var Argon2 = identity.Argon2Params{Memory: 64, Time: 1, Threads: 1}

// UseCheapHashing sets identity.DefaultArgon2 to Argon2, for a package whose
// tests start whole nodes (which take the default) and sign up and in
// hundreds of times. Call it from TestMain, before the tests run.
func UseCheapHashing() { identity.DefaultArgon2 = Argon2 }
