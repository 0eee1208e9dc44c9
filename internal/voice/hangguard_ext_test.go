package voice_test

import "time"

// hangGuard bounds a wait for an event that must come. It only catches a
// hang: no verdict in this package depends on how fast the machine is, so
// it is generous (a loaded machine may take many times longer than an idle
// one), and -timeout still bounds the whole run.
const hangGuard = 2 * time.Minute
