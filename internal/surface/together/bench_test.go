package together_test

import (
	"bytes"
	"context"
	"fmt"
	"sync"
	"testing"

	"github.com/hearth-community/hearth/internal/store/storetest"
)

// BenchmarkSendFanout measures one REST message send until every one of
// 200 members' gateway sockets has received its MESSAGE_CREATE.
func BenchmarkSendFanout(b *testing.B) {
	const members = 200
	e := newEnv(b, storetest.Engines()[0])
	owner := e.register("owner")
	srv, _ := e.must(201, "POST", "/servers", owner.access, map[string]any{"name": "B", "is_public": true})
	sid := srv["id"].(string)
	ch, _ := e.must(201, "POST", "/servers/"+sid+"/channels", owner.access, map[string]any{"name": "general", "type": "text"})
	cid := ch["id"].(string)
	var got sync.WaitGroup
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	for i := range members {
		u := e.register(fmt.Sprintf("m%d", i))
		e.must(201, "POST", "/servers/"+sid+"/join", u.access, nil)
		w, _, err := e.dial("token=" + u.access)
		if err != nil {
			b.Fatal(err)
		}
		go func() {
			for {
				_, data, err := w.c.Read(ctx)
				if err != nil {
					return
				}
				if bytes.Contains(data, []byte(`"MESSAGE_CREATE"`)) && bytes.Contains(data, []byte(`"bench`)) {
					got.Done()
				}
			}
		}()
	}
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		got.Add(members)
		e.must(201, "POST", "/channels/"+cid+"/messages", owner.access, map[string]any{"content": fmt.Sprintf("bench %d", i)})
		got.Wait()
	}
}

// BenchmarkListMessages measures GET /channels/:id/messages?limit=50.
func BenchmarkListMessages(b *testing.B) {
	e := newEnv(b, storetest.Engines()[0])
	owner := e.register("owner")
	srv, _ := e.must(201, "POST", "/servers", owner.access, map[string]any{"name": "B"})
	ch, _ := e.must(201, "POST", "/servers/"+srv["id"].(string)+"/channels", owner.access, map[string]any{"name": "general", "type": "text"})
	cid := ch["id"].(string)
	for i := range 100 {
		e.must(201, "POST", "/channels/"+cid+"/messages", owner.access, map[string]any{"content": fmt.Sprintf("seed %d", i)})
	}
	b.ResetTimer()
	for b.Loop() {
		e.must(200, "GET", "/channels/"+cid+"/messages?limit=50", owner.access, nil)
	}
}
