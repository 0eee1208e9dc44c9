//go:build linux

package gateway

import (
	"sync"

	"golang.org/x/sys/unix"
)

// poller watches the read readiness of every polled socket of the process
// with one epoll instance and one goroutine, so an idle socket costs no
// goroutine. Each socket is registered one-shot: an event starts one read
// turn (Conn.rd.readable) on a goroutine of its own, which re-arms the
// socket when it has read what was there. Sockets are known by a key, not
// by descriptor, so an event for a socket that has since closed is never
// taken for another that reuses its descriptor.
type poller struct {
	epfd  int
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

func (p *poller) loop() {
	var events [256]unix.EpollEvent
	for {
		n, err := unix.EpollWait(p.epfd, events[:], -1)
		if err != nil {
			continue // EINTR
		}
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
