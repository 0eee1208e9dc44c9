package app_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/hearth-community/hearth/internal/identity"
	"github.com/hearth-community/hearth/internal/watch"
)

// TestDeletedAccountStopsOwningLoadedRoom: deleting a room owner's account
// reaches the loaded room through the node's revocations: OTT's room GET
// says it has no owner any more. It named the deleted account until the
// room was loaded again.
func TestDeletedAccountStopsOwningLoadedRoom(t *testing.T) {
	t.Parallel()
	a, _ := start(t, testConfig(t), nil)
	ctx, cancel := context.WithTimeout(context.Background(), hangGuard)
	defer cancel()
	acct, err := a.Identity.Register(ctx, identity.RegisterInput{Username: "roomowner", Password: "password1"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.Watch.Create(ctx, watch.CreateInput{Name: "heirless", OwnerID: acct.ID}); err != nil {
		t.Fatal(err)
	}
	tok := ottGrant(t, a.HTTP.URL())
	hasOwner := func() bool {
		t.Helper()
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, a.HTTP.URL()+"/api/room/heirless", nil)
		req.Header.Set("Authorization", "Bearer "+tok)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		var room struct {
			HasOwner *bool `json:"hasOwner"`
		}
		if res.StatusCode != 200 || json.Unmarshal(b, &room) != nil || room.HasOwner == nil {
			t.Fatalf("GET room: %d %s", res.StatusCode, b)
		}
		return *room.HasOwner
	}
	if !hasOwner() {
		t.Fatal("the new room has no owner")
	}
	if err := a.Identity.DeleteAccount(ctx, acct.ID); err != nil {
		t.Fatal(err)
	}
	// The revocation crosses the bus: wait for it to reach the room.
	for hasOwner() {
		select {
		case <-ctx.Done():
			t.Fatal("the loaded room still names the deleted account as its owner")
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// ottGrant takes a token from OTT's /api/auth/grant.
func ottGrant(t *testing.T, base string) string {
	t.Helper()
	res, err := http.Get(base + "/api/auth/grant")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var g struct{ Token string }
	if err := json.NewDecoder(res.Body).Decode(&g); err != nil || g.Token == "" {
		t.Fatalf("grant: %d %v", res.StatusCode, err)
	}
	return g.Token
}
