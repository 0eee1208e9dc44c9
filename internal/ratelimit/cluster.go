package ratelimit

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"sync"
)

// Cluster makes Limiters hold across the nodes of a cluster: a shared
// Limiter tells the other nodes of every request it lets through and every
// refund (publish, on ClusterTopic), and each node charges what the others
// let through to its own bucket of the same key, and gives back what they
// gave back (Notice). A key spread over N nodes then
// meets about one limit rather than N, give or take the notice's trip
// between nodes. A nil *Cluster shares nothing (a single node).
type Cluster struct {
	origin  string
	publish func(data []byte)

	mu sync.RWMutex
	by map[string]*Limiter
}

// ClusterTopic is the bus subject of the charges.
const ClusterTopic = "ratelimit.charges"

// NewCluster returns a Cluster publishing its charges with publish (on
// ClusterTopic, to every node, this one included); the node's subscriber
// hands each to Notice.
func NewCluster(publish func(data []byte)) *Cluster {
	b := make([]byte, 12)
	_, _ = rand.Read(b)
	return &Cluster{origin: hex.EncodeToString(b), publish: publish, by: map[string]*Limiter{}}
}

// Share makes l one of the shared limiters, under name (the same on every
// node). A nil c or l does nothing.
func (c *Cluster) Share(name string, l *Limiter) {
	if c == nil || l == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	l.cluster, l.name = c, name
	c.by[name] = l
}

// charge is one notice on ClusterTopic: origin is the node's Cluster (its
// own notices come back and are skipped); a negative cost is a refund.
type charge struct {
	Origin string `json:"o"`
	Name   string `json:"n"`
	Key    string `json:"k"`
	Cost   int    `json:"c"`
}

// tell publishes a request the limiter name let through for key.
func (c *Cluster) tell(name, key string, cost int) {
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
	l := c.by[n.Name]
	c.mu.RUnlock()
	switch {
	case l == nil:
	case n.Cost > 0:
		l.Charge(n.Key, n.Cost)
	case n.Cost < 0:
		l.refund(n.Key, -n.Cost) // a charge given back there (Refund)
	}
}

// Remaining is how many whole tokens key has left in the shared limiter
// name (-1 when no limiter has that name): what a test waits on.
func (c *Cluster) Remaining(name, key string) int {
	c.mu.RLock()
	l := c.by[name]
	c.mu.RUnlock()
	if l == nil {
		return -1
	}
	return l.Allow(key, 0).Remaining
}
