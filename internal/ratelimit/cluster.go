package ratelimit

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"sync"
	"sync/atomic"
	"time"
)

// Cluster makes limits hold across the nodes of a cluster: a shared
// Limiter tells the other nodes of every request it lets through and every
// refund (publish, on ClusterTopic), and each node charges what the others
// let through to its own bucket of the same key, and gives back what they
// gave back (Notice). A key spread over N nodes then meets about one limit
// rather than N, give or take the notice's trip between nodes. Another
// kind of limit (the stage chat's pace) shares through the same Cluster
// as a Sharer, telling its own charges (Tell). A nil *Cluster shares
// nothing (a single node).
type Cluster struct {
	origin  string
	publish func(data []byte)
	warned  atomic.Int64 // when a failed publish was last reported (Unix s)

	mu sync.RWMutex
	by map[string]Sharer
}

// Sharer is a limit a Cluster charges the other nodes' notices to. cost is
// in the sharer's own terms: for a Limiter, tokens taken, and when
// negative, tokens given back.
type Sharer interface {
	ClusterCharge(key string, cost int)
}

// ClusterTopic is the bus subject of the charges.
const ClusterTopic = "ratelimit.charges"

// NewCluster returns a Cluster publishing its charges with publish (on
// ClusterTopic, to every node, this one included); the node's subscriber
// hands each to Notice. publish reports a failure, which the Cluster hands
// to warn at most once a minute (it would fail for every request).
func NewCluster(publish func(data []byte) error, warn func(err error)) *Cluster {
	b := make([]byte, 12)
	_, _ = rand.Read(b)
	c := &Cluster{origin: hex.EncodeToString(b), by: map[string]Sharer{}}
	c.publish = func(data []byte) {
		err := publish(data)
		if now := time.Now().Unix(); err != nil && now-c.warned.Load() >= 60 {
			c.warned.Store(now)
			warn(err)
		}
	}
	return c
}

// Share makes s one of the shared limits, under name (the same on every
// node). A Limiter tells its own charges; another Sharer calls Tell. A nil
// c or s does nothing.
func (c *Cluster) Share(name string, s Sharer) {
	if c == nil || s == nil {
		return
	}
	if l, ok := s.(*Limiter); ok {
		if l == nil {
			return
		}
		l.cluster, l.name = c, name
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.by[name] = s
}

// charge is one notice on ClusterTopic: origin is the node's Cluster (its
// own notices come back and are skipped); a negative cost is a refund.
type charge struct {
	Origin string `json:"o"`
	Name   string `json:"n"`
	Key    string `json:"k"`
	Cost   int    `json:"c"`
}

// Tell publishes a charge of cost to key by the shared limit name, for the
// other nodes' Notice. A nil c does nothing.
func (c *Cluster) Tell(name, key string, cost int) {
	if c == nil {
		return
	}
	data, err := json.Marshal(charge{Origin: c.origin, Name: name, Key: key, Cost: cost})
	if err == nil {
		c.publish(data)
	}
}

// Notice charges another node's notice to this node's limiter of its name.
func (c *Cluster) Notice(data []byte) {
	if c == nil {
		return
	}
	var n charge
	if json.Unmarshal(data, &n) != nil || n.Origin == c.origin || n.Key == "" {
		return
	}
	c.mu.RLock()
	sh := c.by[n.Name]
	c.mu.RUnlock()
	if sh != nil {
		sh.ClusterCharge(n.Key, n.Cost)
	}
}

// Remaining is how many whole tokens key has left in the shared Limiter
// name (-1 when no Limiter has that name): what a test waits on.
func (c *Cluster) Remaining(name, key string) int {
	c.mu.RLock()
	l, _ := c.by[name].(*Limiter)
	c.mu.RUnlock()
	if l == nil {
		return -1
	}
	return l.Allow(key, 0).Remaining
}
