//go:build !linux

package rtc

import "net"

// batchSender is Linux's sendmmsg; elsewhere there is none and the plane
// writes each packet at once.
type batchSender struct{}

func newBatchSender(*net.UDPConn) *batchSender { return nil }

func (*batchSender) send([]queued) {}
