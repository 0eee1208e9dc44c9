package watch

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"sync"
	"time"
)

// Listing is one live room as the room list shows it.
type Listing struct {
	Name          string
	Title         string
	Description   string
	IsTemporary   bool
	Visibility    Visibility
	QueueMode     QueueMode
	CurrentSource *Video
	Users         int // connections, from every node
}

// listTimeout bounds how long a list waits for a node: a node that died
// holds its leases until they expire, and the list leaves its rooms out
// rather than hang.
const listTimeout = 2 * time.Second

// ListRooms returns every room running in the cluster (every node that
// holds a room lease is asked for its rooms), public ones only unless all
// is set, by users descending, then name ascending (OpenTogetherTube's
// order). A node that does not answer in time is left out.
func (s *Service) ListRooms(ctx context.Context, all bool) ([]Listing, error) {
	out := s.localListing(all)
	answers, err := s.fanOut(ctx, rpcReq{Op: "list", All: all})
	if err != nil {
		return nil, err
	}
	seen := map[string]bool{}
	for _, l := range out {
		seen[l.Name] = true
	}
	for _, p := range answers {
		for _, l := range p.Rooms {
			// During a move a room can briefly be loaded on two nodes.
			if !seen[l.Name] {
				seen[l.Name] = true
				out = append(out, l)
			}
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Users != out[j].Users {
			return out[i].Users > out[j].Users
		}
		return out[i].Name < out[j].Name
	})
	return out, nil
}

func (s *Service) localListing(all bool) []Listing {
	out := []Listing{}
	for _, r := range s.Loaded() {
		r.mu.Lock()
		if !r.unloaded && r.channel == "" && (all || r.visibility == Public) {
			out = append(out, Listing{Name: r.name, Title: r.title, Description: r.description, IsTemporary: r.temporary,
				Visibility: r.visibility, QueueMode: r.queueMode, CurrentSource: r.current, Users: len(r.members)})
		}
		r.mu.Unlock()
	}
	return out
}

// PresentAccounts returns which of ids have a connection in a room on any
// node. It fails when a node that runs rooms does not answer, so a caller
// deciding to delete accounts never acts on a partial answer.
func (s *Service) PresentAccounts(ctx context.Context, ids []string) (map[string]bool, error) {
	present := map[string]bool{}
	for _, id := range s.localPresent(ids) {
		present[id] = true
	}
	if s.cl == nil || len(ids) == 0 {
		return present, nil
	}
	nodes, err := s.otherNodes(ctx)
	if err != nil {
		return nil, err
	}
	answers, err := s.callAll(ctx, nodes, rpcReq{Op: "present", IDs: ids})
	if err != nil {
		return nil, err
	}
	if len(answers) < len(nodes) {
		return nil, errors.New("watch: a node running rooms did not answer")
	}
	for _, p := range answers {
		for _, id := range p.IDs {
			present[id] = true
		}
	}
	return present, nil
}

func (s *Service) localPresent(ids []string) []string {
	want := make(map[string]bool, len(ids))
	for _, id := range ids {
		want[id] = true
	}
	var out []string
	for _, r := range s.Loaded() {
		r.mu.Lock()
		for _, m := range r.members {
			if want[m.AccountID] {
				want[m.AccountID] = false
				out = append(out, m.AccountID)
			}
		}
		r.mu.Unlock()
	}
	return out
}

// otherNodes are the nodes besides this one that hold room leases.
func (s *Service) otherNodes(ctx context.Context) ([]string, error) {
	nodes, err := s.cl.leases.LeaseNodes(ctx, s.now())
	if err != nil {
		return nil, fmt.Errorf("watch: room nodes: %w", err)
	}
	return slices.DeleteFunc(nodes, func(n string) bool { return n == s.cl.node }), nil
}

// fanOut asks every other node running rooms; nodes that fail or time out
// are left out of the answers.
func (s *Service) fanOut(ctx context.Context, q rpcReq) ([]rpcResp, error) {
	if s.cl == nil {
		return nil, nil
	}
	nodes, err := s.otherNodes(ctx)
	if err != nil {
		return nil, err
	}
	return s.callAll(ctx, nodes, q)
}

func (s *Service) callAll(ctx context.Context, nodes []string, q rpcReq) ([]rpcResp, error) {
	ctx, cancel := context.WithTimeout(ctx, listTimeout)
	defer cancel()
	var mu sync.Mutex
	var wg sync.WaitGroup
	var out []rpcResp
	for _, n := range nodes {
		wg.Go(func() {
			p, err := s.callNode(ctx, n, q)
			if err != nil {
				s.log.Warn("room node did not answer", "node", n, "op", q.Op, "err", err)
				return
			}
			mu.Lock()
			out = append(out, p)
			mu.Unlock()
		})
	}
	wg.Wait()
	if errors.Is(ctx.Err(), context.Canceled) {
		return nil, ctx.Err()
	}
	return out, nil
}

// RenameSessionEverywhere updates the shown name and login state of every
// connection of a session in every room on every node (after a rename,
// login or logout, which may reach any node).
func (s *Service) RenameSessionEverywhere(ctx context.Context, sessionID string, a Actor) {
	s.renameLocal(sessionID, a)
	_, _ = s.fanOut(ctx, rpcReq{Op: "renameall", Session: sessionID, Actor: a})
}

// AccountRenamed shows an account's new name in every room this node
// serves (identity.RenamedTopic reaches every node).
func (s *Service) AccountRenamed(accountID, name string) {
	for _, r := range s.Loaded() {
		r.RenameAccount(accountID, name)
	}
}

func (s *Service) renameLocal(sessionID string, a Actor) {
	for _, r := range s.Loaded() {
		r.RenameSession(sessionID, a)
	}
}
