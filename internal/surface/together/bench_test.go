package together_test

import (
	"bytes"
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/hearth-community/hearth/internal/bus"
	"github.com/hearth-community/hearth/internal/community"
	"github.com/hearth-community/hearth/internal/identity"
	"github.com/hearth-community/hearth/internal/store"
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

// BenchmarkDMChannels measures GET /dm-channels (the list READY also
// carries) for an account in community.MaxDMChannels (1,000) DM channels,
// on every engine. The accounts and channels are seeded in the store
// directly; the request goes through HTTP, and the client only counts the
// channels in the 400 kB answer (decoding it would weigh in the figure).
func BenchmarkDMChannels(b *testing.B) {
	for _, eng := range storetest.Engines() {
		b.Run(eng.Name, func(b *testing.B) {
			db := eng.Open(b)
			e := newNode(b, db, bus.NewLocal())
			owner := e.register("owner")
			seedDMs(b, db, owner.id, "dm", community.MaxDMChannels)
			b.ResetTimer()
			for b.Loop() {
				code, body := rawCall(b, e, "GET", "/dm-channels", owner.access, nil)
				if n := bytes.Count(body, []byte(`"recipient":`)); code != 200 || n != community.MaxDMChannels {
					b.Fatalf("%d: %d DM channels, want %d", code, n, community.MaxDMChannels)
				}
			}
		})
	}
}

// BenchmarkReady measures a gateway connect until READY has arrived, for
// an account in community.MaxServersJoined (200) servers, each with five
// channels, three roles and two overrides (seedServers), on every engine.
// Another socket of the account stays open throughout, so no connect is
// its first (which would announce it online to every co-member, a cost
// apart from READY); the client only reads READY's frame (about 500 kB).
func BenchmarkReady(b *testing.B) {
	for _, eng := range storetest.Engines() {
		b.Run(eng.Name, func(b *testing.B) {
			db := eng.Open(b)
			e := newNode(b, db, bus.NewLocal())
			owner, member := e.register("owner"), e.register("member")
			seedServers(b, db, owner.id, member.id, "s", community.MaxServersJoined)
			keep, _, err := e.dial("token=" + member.access)
			if err != nil {
				b.Fatal(err)
			}
			keep.waitFor("READY")
			b.ResetTimer()
			for b.Loop() {
				w, _, err := e.dial("token=" + member.access)
				if err != nil {
					b.Fatal(err)
				}
				if f := w.waitFor("READY"); bytes.Count(f.D, []byte(`"member_count":`)) != community.MaxServersJoined {
					b.Fatalf("READY without %d servers", community.MaxServersJoined)
				}
				_ = w.c.CloseNow()
			}
		})
	}
}

// seedDMs stores n accounts named prefix0… and a DM channel between each
// of them and owner, the newest channel first in owner's list; it returns
// the accounts' ids in the order they were made.
func seedDMs(t testing.TB, db *store.DB, owner, prefix string, n int) []string {
	t.Helper()
	ctx := context.Background()
	start := time.Now().UTC().Add(-time.Hour)
	ids := make([]string, n)
	for i := range n {
		at := start.Add(time.Duration(i) * time.Millisecond)
		a := &identity.Account{ID: identity.NewID(), Kind: identity.Registered, Username: fmt.Sprintf("%s%d", prefix, i), CreatedAt: at, UpdatedAt: at}
		if err := db.Identity().CreateAccount(ctx, a); err != nil {
			t.Fatal(err)
		}
		m := [2]string{owner, a.ID}
		if m[1] < m[0] {
			m[0], m[1] = m[1], m[0]
		}
		if err := db.Community().CreateDMChannel(ctx, &community.DMChannel{ID: identity.NewID(), Members: m, CreatedAt: at}, owner, n); err != nil {
			t.Fatal(err)
		}
		ids[i] = a.ID
	}
	return ids
}
