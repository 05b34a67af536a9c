package redistest

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// clusterSlots is the number of hash slots of a Redis Cluster.
const clusterSlots = 16384

// Cluster is a Redis Cluster of masters without replicas, on loopback.
type Cluster struct {
	// Addrs are the masters' addresses, "127.0.0.1:port".
	Addrs []string
	// Servers are the masters, in the order of Addrs; each owns an equal
	// share of the hash slots.
	Servers []*Server
}

// StartCluster runs a Redis Cluster of masters (at least 1) and waits until
// every node reports cluster_state:ok and knows every other node. It builds
// the cluster by hand (ADDSLOTS and MEET) rather than with redis-cli
// --cluster create, which refuses fewer than 3 masters and is one more
// binary to have installed.
func StartCluster(t testing.TB, masters int) *Cluster {
	t.Helper()
	if masters < 1 {
		t.Fatalf("redistest: a cluster needs at least 1 master, not %d", masters)
	}
	c := &Cluster{}
	for i := range masters {
		s := launch(t, "redis-cluster-"+strconv.Itoa(i), true, func(s *Server) []string {
			return append(baseArgs(s.Port, s.Dir),
				"--cluster-enabled", "yes",
				"--cluster-config-file", "nodes.conf",
				"--cluster-node-timeout", "2000",
			)
		})
		c.Servers = append(c.Servers, s)
		c.Addrs = append(c.Addrs, s.Addr)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for i, s := range c.Servers {
		admin := s.adminClient()
		// Distinct config epochs spare the nodes the collision resolution
		// they would otherwise run after meeting: the cluster is ready
		// sooner.
		if err := admin.Do(ctx, "cluster", "set-config-epoch", i+1).Err(); err != nil {
			t.Fatalf("redistest: CLUSTER SET-CONFIG-EPOCH on %s: %v", s.Addr, err)
		}
		first, last := i*clusterSlots/masters, (i+1)*clusterSlots/masters-1
		if err := admin.ClusterAddSlotsRange(ctx, first, last).Err(); err != nil {
			t.Fatalf("redistest: CLUSTER ADDSLOTS %d-%d on %s: %v", first, last, s.Addr, err)
		}
	}
	seed := c.Servers[0].adminClient()
	for _, s := range c.Servers[1:] {
		if err := seed.ClusterMeet(ctx, "127.0.0.1", strconv.Itoa(s.Port)).Err(); err != nil {
			t.Fatalf("redistest: CLUSTER MEET %s: %v", s.Addr, err)
		}
	}
	if err := c.waitReady(ctx); err != nil {
		t.Fatalf("redistest: cluster of %d masters not ready: %v", masters, err)
	}
	return c
}

// waitReady waits until every node reports the cluster ok, with all slots
// assigned and all nodes known: only then does any node a client asks
// first give it the complete slot map.
func (c *Cluster) waitReady(ctx context.Context) error {
	want := map[string]string{
		"cluster_state":          "ok",
		"cluster_slots_assigned": strconv.Itoa(clusterSlots),
		"cluster_known_nodes":    strconv.Itoa(len(c.Servers)),
	}
	var last string
	for {
		ready := true
		for _, s := range c.Servers {
			info, err := s.adminClient().ClusterInfo(ctx).Result()
			if err != nil {
				last = fmt.Sprintf("CLUSTER INFO on %s: %v", s.Addr, err)
				ready = false
				break
			}
			if field, ok := mismatch(info, want); !ok {
				last = fmt.Sprintf("%s reports %s", s.Addr, field)
				ready = false
				break
			}
		}
		if ready {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%w (last: %s)", ctx.Err(), last)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// mismatch returns the first field of a CLUSTER INFO reply that differs
// from want, as "name:value".
func mismatch(info string, want map[string]string) (string, bool) {
	got := make(map[string]string)
	for line := range strings.Lines(info) {
		if k, v, ok := strings.Cut(strings.TrimSpace(line), ":"); ok {
			got[k] = v
		}
	}
	for k, v := range want {
		if got[k] != v {
			return k + ":" + got[k], false
		}
	}
	return "", true
}

// URL returns the cluster URL understood by the session package:
// redis-cluster://first?addr=second&addr=third...
func (c *Cluster) URL() string {
	var b strings.Builder
	b.WriteString("redis-cluster://")
	b.WriteString(c.Addrs[0])
	for i, addr := range c.Addrs[1:] {
		if i == 0 {
			b.WriteByte('?')
		} else {
			b.WriteByte('&')
		}
		b.WriteString("addr=")
		b.WriteString(addr)
	}
	return b.String()
}

// Client returns a new go-redis cluster client for the cluster, closed
// when the test ends.
func (c *Cluster) Client(t testing.TB) *redis.ClusterClient {
	t.Helper()
	cc := redis.NewClusterClient(&redis.ClusterOptions{Addrs: c.Addrs})
	t.Cleanup(func() { _ = cc.Close() })
	return cc
}

// CommandCalls returns how many times cmd was executed across all masters.
func (c *Cluster) CommandCalls(t testing.TB, cmd string) int64 {
	t.Helper()
	var n int64
	for _, s := range c.Servers {
		n += s.CommandCalls(t, cmd)
	}
	return n
}
