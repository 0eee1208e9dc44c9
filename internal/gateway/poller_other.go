//go:build !linux

package gateway

import "errors"

// poller is unavailable here: every socket is read by a goroutine of its
// own.
type poller struct{}

func getPoller() *poller { return nil }

func (*poller) add(*Conn, int) (uint64, error) { return 0, errNoPoller }
func (*poller) rearm(uint64, int) error        { return errNoPoller }
func (*poller) del(uint64, int)                {}

var errNoPoller = errors.New("gateway: no poller on this platform")
