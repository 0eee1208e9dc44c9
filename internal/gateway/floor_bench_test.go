//go:build linux

package gateway

import (
	"errors"
	"io"
	"net"
	"runtime"
	"syscall"
	"testing"
)

// BenchmarkLoopbackWriteFloor measures what one write(2) of one small
// WebSocket frame into a loopback TCP socket costs the writing thread, with
// no gateway code around it: the floor under the server's CPU per frame in
// bench/chat (docs/performance.md, "where a delivery's CPU goes").
//
// Method: 1,000 loopback TCP pairs; each reader is a goroutine blocked in
// Read (the runtime's netpoller, as the load drivers' sockets are); the
// benchmark goroutine, locked to its OS thread, writes a 120-byte frame to
// each socket in turn with syscall.Write on the raw descriptor, as the
// flusher does. It reports thread-cpu-ns/write: the writing thread's own
// CPU time (getrusage RUSAGE_THREAD, user + system) divided by the writes,
// which on loopback includes the kernel's delivery into the reader's socket
// and the reader's wake-up, and process-cpu-ns/write, both ends together.
// ns/op is wall time and depends on the machine's load; the thread's CPU
// much less so.
func BenchmarkLoopbackWriteFloor(b *testing.B) {
	const conns = 1000
	frame := make([]byte, 120)
	frame[0], frame[1] = 0x81, byte(len(frame)-2)

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	defer func() { _ = ln.Close() }()
	fds := make([]int, 0, conns)
	var files []io.Closer
	defer func() {
		for _, f := range files {
			_ = f.Close()
		}
	}()
	for range conns {
		cc, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			b.Fatal(err)
		}
		sc, err := ln.Accept()
		if err != nil {
			b.Fatal(err)
		}
		files = append(files, cc, sc)
		go func() {
			buf := make([]byte, 4096)
			for {
				if _, err := cc.Read(buf); err != nil {
					return
				}
			}
		}()
		f, err := sc.(*net.TCPConn).File() // a blocking duplicate; our writes never fill the buffer
		if err != nil {
			b.Fatal(err)
		}
		files = append(files, f)
		fds = append(fds, int(f.Fd()))
	}

	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	var t0, p0, t1, p1 syscall.Rusage
	_ = syscall.Getrusage(1 /* RUSAGE_THREAD */, &t0)
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &p0)
	b.ResetTimer()
	for i := range b.N {
		if _, err := syscall.Write(fds[i%conns], frame); err != nil && !errors.Is(err, syscall.EAGAIN) {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	_ = syscall.Getrusage(1, &t1)
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &p1)
	b.ReportMetric(float64(cpuNs(t1)-cpuNs(t0))/float64(b.N), "thread-cpu-ns/write")
	b.ReportMetric(float64(cpuNs(p1)-cpuNs(p0))/float64(b.N), "process-cpu-ns/write")
}

func cpuNs(r syscall.Rusage) int64 {
	return r.Utime.Nano() + r.Stime.Nano()
}
