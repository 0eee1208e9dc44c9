package main

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"

	"github.com/hearth-community/hearth/bench/internal/procstat"
)

// runIdle measures what an idle room socket costs the server: it creates
// rooms rooms and grants a token for every client first, reads the
// server's RSS, then joins clients sockets to each room (auth, then the
// "you" event: the socket is authenticated and in its room) and, after
// settle, divides the RSS growth by the sockets. Each socket keeps a reader
// (it answers the server's pings and takes the room's user-list events).
func runIdle(base string, pid, rooms, clients int, settle time.Duration) error {
	procstat.RaiseFDLimit()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	hc := &http.Client{Timeout: 60 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 32}}
	rss0 := procstat.RSS(pid)
	names := make([]string, rooms)
	tokens := make([][]string, rooms)
	sem := make(chan struct{}, 32)
	var wg sync.WaitGroup
	var firstErr atomic.Value
	t0 := time.Now()
	for i := range rooms {
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			name := fmt.Sprintf("idle-%d-%d", os.Getpid(), i)
			tok, err := grant(ctx, hc, base)
			if err == nil {
				err = post(ctx, hc, base+"/api/room/create", tok, map[string]any{"name": name})
			}
			for c := 0; c < clients && err == nil; c++ {
				var t string
				if t, err = grant(ctx, hc, base); err == nil {
					tokens[i] = append(tokens[i], t)
				}
			}
			if err != nil {
				firstErr.CompareAndSwap(nil, err)
				return
			}
			names[i] = name
		}()
	}
	wg.Wait()
	if err, _ := firstErr.Load().(error); err != nil {
		return err
	}
	fmt.Printf("created %d rooms and granted %d tokens in %s\n", rooms, rooms*clients, time.Since(t0).Round(time.Millisecond))
	time.Sleep(2 * time.Second)
	rss1 := procstat.RSS(pid)

	var mu sync.Mutex
	var conns []*websocket.Conn
	var lost atomic.Int64
	t1 := time.Now()
	for i := range rooms {
		for c := range clients {
			sem <- struct{}{}
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer func() { <-sem }()
				ws, err := join(ctx, base, names[i], tokens[i][c])
				if err != nil {
					firstErr.CompareAndSwap(nil, err)
					return
				}
				mu.Lock()
				conns = append(conns, ws)
				mu.Unlock()
				go func() {
					for {
						if _, _, err := ws.Read(ctx); err != nil {
							if ctx.Err() == nil {
								lost.Add(1)
							}
							return
						}
					}
				}()
			}()
		}
	}
	wg.Wait()
	defer func() {
		for _, ws := range conns {
			_ = ws.CloseNow()
		}
	}()
	if err, _ := firstErr.Load().(error); err != nil {
		return err
	}
	fmt.Printf("joined %d sockets (auth answered, \"you\" received) in %s\n", len(conns), time.Since(t1).Round(time.Millisecond))
	time.Sleep(settle)
	rss2 := procstat.RSS(pid)
	fmt.Printf("server RSS: %.1f MiB before, %.1f MiB with %d rooms and %d tokens, %.1f MiB with %d idle room sockets %s later (%d sockets lost)\n",
		procstat.MiB(rss0), procstat.MiB(rss1), rooms, rooms*clients, procstat.MiB(rss2), len(conns), settle, lost.Load())
	fmt.Printf("per idle room socket: %.1f KiB (RSS growth since the rooms and tokens / sockets)\n",
		float64(rss2-rss1)/1024/float64(len(conns)))
	return nil
}
