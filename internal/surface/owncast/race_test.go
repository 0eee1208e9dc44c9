package owncast_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hearth-community/hearth/internal/store/storetest"
)

// TestChatNamesUniqueConcurrently: chat users registered all at once
// asking for one free name get it once; the others are given a generated
// name, as one asking for a taken name alone is, and none is refused.
func TestChatNamesUniqueConcurrently(t *testing.T) {
	t.Parallel()
	for _, eng := range storetest.Engines() {
		t.Run(eng.Name, func(t *testing.T) {
			t.Parallel()
			n := newNode(t, nodeOpts{db: eng.Open(t)})
			const racers = 64
			names := make([]string, racers)
			start := make(chan struct{})
			var wg sync.WaitGroup
			for i := range racers {
				wg.Go(func() {
					req, _ := http.NewRequest("POST", n.url+"/api/chat/register", bytes.NewReader([]byte(`{"displayName":"dup"}`)))
					req.Header.Set("Content-Type", "application/json")
					<-start
					res, err := http.DefaultClient.Do(req)
					if err != nil {
						t.Error(err)
						return
					}
					defer res.Body.Close()
					raw, _ := io.ReadAll(res.Body)
					var reg registration
					if res.StatusCode != 200 || json.Unmarshal(raw, &reg) != nil {
						t.Errorf("register at once: %d %s", res.StatusCode, raw)
					}
					names[i] = reg.DisplayName
				})
			}
			close(start)
			wg.Wait()
			got := 0
			for _, name := range names {
				if name == "dup" {
					got++
				}
			}
			if got != 1 {
				t.Errorf("%d chat users named dup at once, want 1", got)
			}
		})
	}
}

// TestChatRenamesUniqueConcurrently: chat users renaming themselves to one
// free name at once: one gets it, each other one gets the taken-name
// notice and keeps its name.
func TestChatRenamesUniqueConcurrently(t *testing.T) {
	t.Parallel()
	for _, eng := range storetest.Engines() {
		t.Run(eng.Name, func(t *testing.T) {
			t.Parallel()
			n := newNode(t, nodeOpts{db: eng.Open(t)})
			const racers = 16
			clients := make([]*chatClient, racers)
			for i := range clients {
				clients[i] = n.dial(t, n.register(t, fmt.Sprint("racer", i)).AccessToken)
				clients[i].await("CONNECTED_USER_INFO", nil)
			}
			// Each socket's frames are read by its own goroutine on the
			// node, so frames sent back to back are renamed side by side.
			for _, c := range clients {
				c.send(map[string]any{"type": "NAME_CHANGE", "newName": "target"})
			}
			renamed := 0
			for i, c := range clients {
				timeout := time.After(hangGuard)
			wait:
				for {
					select {
					case ev := <-c.events:
						switch {
						case ev["type"] == "CONNECTED_USER_INFO" && ev["user"].(map[string]any)["displayName"] == "target":
							renamed++
							break wait
						case ev["type"] == "CHAT_ACTION" && strings.Contains(fmt.Sprint(ev["body"]), "already registered"):
							break wait
						}
					case <-timeout:
						t.Fatalf("racer%d: no answer to its rename", i)
					}
				}
			}
			if renamed != 1 {
				t.Errorf("%d chat users renamed to one name at once, want 1", renamed)
			}
		})
	}
}
