//go:build linux

package gateway

import (
	"os"
	"sync"
	"syscall"

	"golang.org/x/sys/unix"
)

// poller watches the read readiness of every polled socket of the process
// with one epoll instance and one goroutine, so an idle socket costs no
// goroutine. Each socket is registered one-shot: an event starts one read
// turn (Conn.rd.readable) on a goroutine of its own, which re-arms the
// socket when it has read what was there. Sockets are known by a key, not
// by descriptor, so an event for a socket that has since closed is never
// taken for another that reuses its descriptor.
//
// The epoll descriptor is itself watched by the runtime's netpoller (an
// epoll instance is readable while it has events): the loop parks as a
// goroutine reading a socket does, rather than blocking its thread in
// epoll_wait. A goroutine blocked in a system call keeps its P until the
// runtime's monitor takes it back, and the read turns the loop had just
// started wait behind it; on a busy machine that was tens to hundreds of
// milliseconds between a frame's arrival and its handling, while a plain
// HTTP request (read through the netpoller) was served at once.
type poller struct {
	epfd  int
	file  *os.File // epfd under the runtime's netpoller; nil: blocking waits
	raw   syscall.RawConn
	mu    sync.Mutex
	next  uint64
	conns map[uint64]*Conn
}

var thePoller struct {
	once sync.Once
	p    *poller
}

// getPoller returns the process's poller, started on first use, or nil if
// epoll is unavailable (reads then use a goroutine per socket).
func getPoller() *poller {
	thePoller.once.Do(func() {
		fd, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
		if err != nil {
			return
		}
		p := &poller{epfd: fd, conns: make(map[uint64]*Conn)}
		p.file, p.raw = netpolled(fd)
		thePoller.p = p
		go p.loop()
	})
	return thePoller.p
}

const pollEvents = unix.EPOLLIN | unix.EPOLLRDHUP | unix.EPOLLONESHOT

func pollEvent(key uint64) unix.EpollEvent {
	return unix.EpollEvent{Events: pollEvents, Fd: int32(uint32(key)), Pad: int32(uint32(key >> 32))}
}

func (p *poller) add(c *Conn, fd int) (uint64, error) {
	p.mu.Lock()
	p.next++
	key := p.next
	p.conns[key] = c
	p.mu.Unlock()
	ev := pollEvent(key)
	if err := unix.EpollCtl(p.epfd, unix.EPOLL_CTL_ADD, fd, &ev); err != nil {
		p.mu.Lock()
		delete(p.conns, key)
		p.mu.Unlock()
		return 0, err
	}
	return key, nil
}

// rearm watches the socket for the next read turn. The caller holds the
// socket's reader lock, under which del runs too, so the descriptor is
// still the socket's.
func (p *poller) rearm(key uint64, fd int) error {
	ev := pollEvent(key)
	return unix.EpollCtl(p.epfd, unix.EPOLL_CTL_MOD, fd, &ev)
}

// del stops watching the socket; called before it is closed.
func (p *poller) del(key uint64, fd int) {
	p.mu.Lock()
	_, ok := p.conns[key]
	delete(p.conns, key)
	p.mu.Unlock()
	if ok {
		_ = unix.EpollCtl(p.epfd, unix.EPOLL_CTL_DEL, fd, nil)
	}
}

// netpolled puts the epoll descriptor under the runtime's netpoller, or
// returns nils where that cannot be done (the loop then blocks in
// epoll_wait). The file is kept for the life of the process: dropping it
// would let its finalizer close the descriptor.
func netpolled(fd int) (*os.File, syscall.RawConn) {
	if err := unix.SetNonblock(fd, true); err != nil {
		return nil, nil
	}
	f := os.NewFile(uintptr(fd), "gateway-epoll")
	if f == nil {
		return nil, nil
	}
	rc, err := f.SyscallConn()
	if err != nil {
		return nil, nil
	}
	return f, rc
}

// wait returns the ready events, waiting for one (0 after an interrupted
// or failed wait).
func (p *poller) wait(events []unix.EpollEvent) int {
	if p.raw == nil {
		n, err := unix.EpollWait(p.epfd, events, -1)
		if err != nil {
			return 0 // EINTR
		}
		return n
	}
	var n int
	var werr error
	err := p.raw.Read(func(fd uintptr) bool {
		for {
			n, werr = unix.EpollWait(int(fd), events, 0)
			if werr != unix.EINTR {
				return werr != nil || n > 0
			}
		}
	})
	if err != nil {
		// The runtime does not poll it after all: block in epoll_wait
		// from now on.
		p.raw = nil
		return 0
	}
	if werr != nil {
		return 0
	}
	return n
}

func (p *poller) loop() {
	var events [256]unix.EpollEvent
	for {
		n := p.wait(events[:])
		for i := range events[:n] {
			key := uint64(uint32(events[i].Fd)) | uint64(uint32(events[i].Pad))<<32
			p.mu.Lock()
			c := p.conns[key]
			p.mu.Unlock()
			if c != nil {
				go c.rd.readable(c)
			}
		}
	}
}
