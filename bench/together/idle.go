package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hearth-community/hearth/bench/internal/procstat"
)

// runIdle measures what an idle, authenticated and subscribed gateway
// socket costs the server: users users register and join one server with
// four text channels, then sockets gateway sockets are opened over their
// tokens in turn (a user may hold several sockets, as with several tabs),
// each counted once its READY (the first frame) has arrived. After settle
// the server's RSS growth since the users were set up, divided by the
// sockets, is the cost of one socket. The sockets read what arrives once a
// second and send a HEARTBEAT every 30 s, as an idle client does.
func runIdle(base string, users, sockets, pid int, settle time.Duration, localIPs int) error {
	procstat.RaiseFDLimit()
	users = max(1, min(users, sockets))
	hc := &http.Client{Timeout: 60 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
	run := strconv.FormatInt(time.Now().Unix()%1e6, 10)
	_, sid, _, err := setupServer(hc, base, run)
	if err != nil {
		return err
	}
	rss0 := procstat.RSS(pid)
	tokens := make([]string, users)
	sem := make(chan struct{}, 16)
	var wg sync.WaitGroup
	var firstErr atomic.Value
	t0 := time.Now()
	for v := range users {
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			c := &client{base: base, http: hc}
			name := fmt.Sprintf("li_%s_%d", run, v)
			out, err := c.do("POST", "/auth/register", map[string]string{"username": name, "password": "LoadPass99!"}, 201)
			if err == nil {
				c.token = out["access_token"].(string)
				_, err = c.do("POST", "/servers/"+sid+"/join", nil, 201)
			}
			if err != nil {
				firstErr.CompareAndSwap(nil, err)
				return
			}
			tokens[v] = c.token
		}()
	}
	wg.Wait()
	if err, _ := firstErr.Load().(error); err != nil {
		return err
	}
	fmt.Printf("registered and joined %d users in %s\n", users, time.Since(t0).Round(time.Millisecond))
	time.Sleep(2 * time.Second)
	rss1, heap1 := procstat.RSS(pid), liveHeap(hc, base)

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	wsBase := "ws" + strings.TrimPrefix(base, "http") + "/ws?token="
	socks := make([]*rawSocket, sockets)
	var frames atomic.Int64
	sem = make(chan struct{}, 64)
	t1 := time.Now()
	for i := range sockets {
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			var local net.IP
			if localIPs > 1 {
				local = net.IPv4(127, 0, 0, byte(1+i%localIPs))
			}
			s, err := dialRawFrom(ctx, wsBase+tokens[i%users], local, 16<<10, &frames)
			if err != nil {
				firstErr.CompareAndSwap(nil, fmt.Errorf("socket %d: %w", i, err))
				return
			}
			ready := make(chan struct{})
			s.ready = ready
			socks[i] = s
			ended := make(chan error, 1)
			go func() { ended <- s.run(ctx, time.Second) }()
			select {
			case <-ready:
			case err := <-ended:
				firstErr.CompareAndSwap(nil, fmt.Errorf("socket %d ended before READY: %v", i, err))
			case <-time.After(60 * time.Second):
				firstErr.CompareAndSwap(nil, fmt.Errorf("socket %d: no READY in 60 s", i))
			}
		}()
	}
	wg.Wait()
	defer func() {
		for _, s := range socks {
			if s != nil {
				s.close()
			}
		}
	}()
	if err, _ := firstErr.Load().(error); err != nil {
		return err
	}
	fmt.Printf("connected %d gateway sockets (READY received on each) in %s\n", sockets, time.Since(t1).Round(time.Millisecond))
	lastReady := time.Now()
	time.Sleep(settle)
	if pid <= 0 {
		return errors.New("no -pid: server memory not measured")
	}
	// Each user's first socket announces it online to every co-member; on
	// a shared machine that storm can still be in the server's queues after
	// settle. Read the memory once the server is quiet (under 5 % of a core
	// over 2 s), so the figure is what idle sockets keep.
	quiet := time.Now()
	for time.Since(quiet) < 5*time.Minute {
		c0 := procstat.CPUSeconds(pid)
		time.Sleep(2 * time.Second)
		if procstat.CPUSeconds(pid)-c0 < 0.1 {
			break
		}
	}
	fmt.Printf("server quiet %s after settle\n", time.Since(quiet).Round(time.Second))
	rss2, heap2 := procstat.RSS(pid), liveHeap(hc, base)
	fmt.Printf("server RSS: %.1f MiB before the users, %.1f MiB with %d users registered and joined, %.1f MiB with %d idle sockets %s after the last READY\n",
		procstat.MiB(rss0), procstat.MiB(rss1), users, procstat.MiB(rss2), sockets, time.Since(lastReady).Round(time.Second))
	fmt.Printf("per idle gateway socket: %.1f KiB (RSS growth since the users were set up / sockets); Go heap in use + stacks (/metrics): %.1f KiB\n",
		float64(rss2-rss1)/1024/float64(sockets), float64(heap2-heap1)/1024/float64(sockets))
	return nil
}
