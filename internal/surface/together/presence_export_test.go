package together

import (
	"context"

	"github.com/hearth-community/hearth/internal/community"
	"github.com/hearth-community/hearth/internal/surface/together/export"
)

// PublishPresence lets the external benchmarks announce a presence change
// as the gateway does, without a profile write or a frame's rate limit.
func (s *Surface) PublishPresence(ctx context.Context, accountID, status string, custom *string) {
	s.publishPresence(ctx, accountID, &community.Profile{Status: status, CustomStatus: custom})
}

// HoldSearchTurns takes every search turn of the node (as searches under
// way would) until release runs.
func (s *Surface) HoldSearchTurns(t interface{ Fatal(...any) }) (release func()) {
	var held []func()
	for range s.d.MaxSearches {
		r, err := s.searches.Take(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		held = append(held, r)
	}
	return func() {
		for _, r := range held {
			r()
		}
	}
}

// HoldSearchTurnsOf takes every search turn one account may hold at once
// (SearchesPerAccount), as its searches under way would, until release
// runs.
func (s *Surface) HoldSearchTurnsOf(t interface{ Fatal(...any) }, accountID string) (release func()) {
	var held []func()
	for range SearchesPerAccount {
		r, err := s.searches.TakeAs(context.Background(), accountID)
		if err != nil {
			t.Fatal(err)
		}
		held = append(held, r)
	}
	return func() {
		for _, r := range held {
			r()
		}
	}
}

// HoldExportTurnsOf takes every export turn one account may hold at once
// (export.ExportsPerAccount), as its exports under way would, until
// release runs.
func (s *Surface) HoldExportTurnsOf(t interface{ Fatal(...any) }, accountID string) (release func()) {
	var held []func()
	for range export.ExportsPerAccount {
		r, err := s.export.Turns().TakeAs(context.Background(), accountID)
		if err != nil {
			t.Fatal(err)
		}
		held = append(held, r)
	}
	return func() {
		for _, r := range held {
			r()
		}
	}
}
