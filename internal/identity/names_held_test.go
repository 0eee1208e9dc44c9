package identity_test

import (
	"context"
	"encoding/json"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/hearth-community/hearth/internal/fault"
	"github.com/hearth-community/hearth/internal/identity"
	"github.com/hearth-community/hearth/internal/store/storetest"
)

type renames struct {
	mu  sync.Mutex
	got []identity.Renamed
}

func (r *renames) Publish(_ context.Context, topic string, data []byte) error {
	if topic != identity.RenamedTopic {
		return nil
	}
	var v identity.Renamed
	if err := json.Unmarshal(data, &v); err != nil {
		return err
	}
	r.mu.Lock()
	r.got = append(r.got, v)
	r.mu.Unlock()
	return nil
}

func (r *renames) all() []identity.Renamed {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]identity.Renamed(nil), r.got...)
}

// TestNamesHeldByAccounts: an account's username and display name are its
// own on every surface (any case); a guest's name holds nothing; a rename
// to a held name is refused, and a rename is announced once.
func TestNamesHeldByAccounts(t *testing.T) {
	forEngine(t, func(t *testing.T, eng storetest.Engine) {
		ctx := context.Background()
		pub := &renames{}
		s, err := identity.New(ctx, identity.Config{Argon2: fastArgon, Now: time.Now}, eng.Open(t).Identity(), pub, nil)
		if err != nil {
			t.Fatal(err)
		}
		alice, err := s.Register(ctx, identity.RegisterInput{Username: "alice", Password: "correct horse", DisplayName: "Alice Liddell"})
		if err != nil {
			t.Fatal(err)
		}
		guest, err := s.CreateGuest(ctx, "Wanderer")
		if err != nil {
			t.Fatal(err)
		}
		for _, tc := range []struct {
			name, self string
			free       bool
		}{
			{"alice", "", false},
			{"ALICE", "", false},
			{" alice liddell ", "", false},
			{"alice liddell", guest.ID, false},
			{"<b>Alice</b>", "", false}, // markup is not a new name
			{"Alice", alice.ID, true},   // its own
			{"Wanderer", "", true},      // a guest holds no name
			{guest.Username, "", true},
			{"bob", "", true},
		} {
			free, err := s.NameFree(ctx, tc.name, tc.self)
			if err != nil {
				t.Fatal(err)
			}
			if free != tc.free {
				t.Errorf("NameFree(%q, self=%q) = %v, want %v", tc.name, tc.self, free, tc.free)
			}
		}

		bob, err := s.Register(ctx, identity.RegisterInput{Username: "bob", Password: "correct horse"})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.Rename(ctx, bob.ID, "alice LIDDELL"); !errors.Is(err, identity.ErrNameTaken) || !errors.Is(err, fault.Conflict) {
			t.Fatalf("rename to a held name: err = %v, want ErrNameTaken", err)
		}
		if _, err := s.Rename(ctx, guest.ID, "Alice"); !errors.Is(err, identity.ErrNameTaken) {
			t.Fatalf("guest rename to a username: err = %v, want ErrNameTaken", err)
		}
		if _, err := s.Rename(ctx, bob.ID, "  "); !errors.Is(err, fault.Invalid) {
			t.Fatalf("blank rename: err = %v, want Invalid", err)
		}
		if len(pub.all()) != 0 {
			t.Fatalf("refused renames were announced: %+v", pub.all())
		}
		got, err := s.Rename(ctx, bob.ID, "Robert")
		if err != nil {
			t.Fatal(err)
		}
		if got.Name() != "Robert" {
			t.Fatalf("name = %q", got.Name())
		}
		if _, err := s.Rename(ctx, bob.ID, "Robert"); err != nil { // unchanged: no event
			t.Fatal(err)
		}
		ev := pub.all()
		if len(ev) != 1 || ev[0].AccountID != bob.ID || ev[0].Name != "Robert" || ev[0].OldName != "bob" || ev[0].ID == "" {
			t.Fatalf("renames announced = %+v, want one bob → Robert", ev)
		}
		if free, _ := s.NameFree(ctx, "robert", ""); free {
			t.Fatal("a renamed account's new name is free")
		}
	})
}

// TestNamesHeldInEverySpelling: a name is held whatever case, accent
// encoding or compatibility form spells it, on both engines (SQLite's
// lower() folds only ASCII: a guest took an account's display name "Élise"
// as typed there, and PostgreSQL refused it).
func TestNamesHeldInEverySpelling(t *testing.T) {
	forEngine(t, func(t *testing.T, eng storetest.Engine) {
		ctx := context.Background()
		s, err := identity.New(ctx, identity.Config{Argon2: fastArgon, Now: time.Now}, eng.Open(t).Identity(), nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.Register(ctx, identity.RegisterInput{Username: "alice", Password: "correct horse", DisplayName: "Élise Zoë"}); err != nil {
			t.Fatal(err)
		}
		for _, name := range []string{
			"Élise Zoë",             // as typed
			"élise zoë",             // lower case past ASCII
			"ÉLISE ZOË",             // upper case past ASCII
			"E\u0301lise Zoe\u0308", // combining accents
			"ＡＬＩＣＥ",                 // full-width letters
			"ᴬlice",                 // a modifier letter
		} {
			if free, err := s.NameFree(ctx, name, ""); err != nil || free {
				t.Errorf("NameFree(%q) = %v, %v; want held", name, free, err)
			}
		}
		if free, err := s.NameFree(ctx, "Elise Zoe", ""); err != nil || !free {
			t.Errorf("NameFree(unaccented) = %v, %v; want free (another name)", free, err)
		}
	})
}
