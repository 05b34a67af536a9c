package redistest

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"
)

// Sentinel is a Redis Sentinel monitoring one master.
type Sentinel struct {
	*Server
	// MasterName is the name the master is monitored under.
	MasterName string
}

// StartSentinel runs a Sentinel (redis-server --sentinel) monitoring master
// under masterName with a quorum of 1, and waits until it answers for that
// master. A master with requirepass is not supported.
func StartSentinel(t testing.TB, master *Server, masterName string) *Sentinel {
	t.Helper()
	s := launch(t, "redis-sentinel", false, func(srv *Server) []string {
		port, dir := srv.Port, srv.Dir
		// Sentinel rewrites its configuration file at run time, so it
		// needs a file of its own in its writable directory.
		conf := filepath.Join(dir, "sentinel.conf")
		content := fmt.Sprintf("sentinel monitor %[1]s 127.0.0.1 %[2]d 1\n"+
			"sentinel down-after-milliseconds %[1]s 1000\n"+
			"sentinel failover-timeout %[1]s 2000\n", masterName, master.Port)
		if err := os.WriteFile(conf, []byte(content), 0o600); err != nil {
			t.Fatalf("redistest: writing %s: %v", conf, err)
		}
		return []string{conf, "--sentinel",
			"--port", strconv.Itoa(port),
			"--bind", "127.0.0.1",
			"--dir", dir,
			"--daemonize", "no",
			"--logfile", "",
		}
	})

	ctx, cancel := context.WithTimeout(context.Background(), startTimeout)
	defer cancel()
	for {
		addr, err := s.adminClient().Do(ctx, "sentinel", "get-master-addr-by-name", masterName).StringSlice()
		if err == nil && len(addr) == 2 && addr[1] == strconv.Itoa(master.Port) {
			break
		}
		select {
		case <-ctx.Done():
			t.Fatalf("redistest: sentinel on %s does not know master %q (last: %v %v)\n%s",
				s.Addr, masterName, addr, err, s.logTail())
		case <-time.After(20 * time.Millisecond):
		}
	}
	return &Sentinel{Server: s, MasterName: masterName}
}

// URL returns the Sentinel URL understood by the session package,
// redis-sentinel://127.0.0.1:port/0?master_name=name.
func (s *Sentinel) URL() string {
	return "redis-sentinel://" + s.Addr + "/0?master_name=" + s.MasterName
}
