package redistest

import (
	"context"
	"fmt"
	"testing"
	"time"
)

func TestStartStopRestart(t *testing.T) {
	ctx := context.Background()
	s := Start(t)
	if want := fmt.Sprintf("redis://127.0.0.1:%d/0", s.Port); s.URL() != want {
		t.Errorf("URL() = %q, want %q", s.URL(), want)
	}
	c := s.Client(t)
	if err := c.Set(ctx, "k", "v", 0).Err(); err != nil {
		t.Fatalf("SET: %v", err)
	}
	if got := s.CommandCalls(t, "set"); got != 1 {
		t.Errorf("CommandCalls(set) = %d, want 1", got)
	}
	if got := s.CommandCalls(t, "hmget"); got != 0 {
		t.Errorf("CommandCalls(hmget) = %d, want 0", got)
	}

	s.Stop(t)
	s.Stop(t) // idempotent
	if err := ping(s.Addr, nil); err == nil {
		t.Fatal("stopped server still answers PING")
	}

	s.Restart(t)
	if err := ping(s.Addr, nil); err != nil {
		t.Fatalf("restarted server: %v", err)
	}
	// Nothing persists across a restart, and the client reconnects by
	// itself on the same address.
	n, err := c.Exists(ctx, "k").Result()
	if err != nil {
		t.Fatalf("EXISTS after restart: %v", err)
	}
	if n != 0 {
		t.Error("data survived the restart; want an empty server")
	}
	if got := s.CommandCalls(t, "set"); got != 0 {
		t.Errorf("CommandCalls(set) after restart = %d, want 0", got)
	}
}

func TestStartArgs(t *testing.T) {
	s := Start(t, "--requirepass", "s3cret")
	err := s.Client(t).Ping(context.Background()).Err()
	if err == nil {
		t.Fatal("PING without the password succeeded; extra args were not applied")
	}
}

func TestResetStats(t *testing.T) {
	ctx := context.Background()
	s := Start(t)
	c := s.Client(t)
	for range 3 {
		c.HMGet(ctx, "h", "a")
	}
	if got := s.CommandCalls(t, "HMGET"); got != 3 {
		t.Fatalf("CommandCalls(HMGET) = %d, want 3", got)
	}
	s.ResetStats(t)
	if got := s.CommandCalls(t, "hmget"); got != 0 {
		t.Errorf("CommandCalls(hmget) after ResetStats = %d, want 0", got)
	}
}

func TestParseCalls(t *testing.T) {
	info := "# Commandstats\r\n" +
		"cmdstat_hmget:calls=12,usec=30,usec_per_call=2.50,rejected_calls=0,failed_calls=0\r\n" +
		"cmdstat_client|setinfo:calls=2,usec=1\r\n" +
		"cmdstat_hmgetx:calls=99,usec=1\r\n"
	for cmd, want := range map[string]int64{"hmget": 12, "HMGET": 12, "client|setinfo": 2, "get": 0} {
		if got := parseCalls(info, cmd); got != want {
			t.Errorf("parseCalls(%q) = %d, want %d", cmd, got, want)
		}
	}
}

func TestCluster(t *testing.T) {
	ctx := context.Background()
	cl := StartCluster(t, 3)
	if len(cl.Addrs) != 3 {
		t.Fatalf("Addrs = %v, want 3", cl.Addrs)
	}
	want := "redis-cluster://" + cl.Addrs[0] + "?addr=" + cl.Addrs[1] + "&addr=" + cl.Addrs[2]
	if cl.URL() != want {
		t.Errorf("URL() = %q, want %q", cl.URL(), want)
	}
	c := cl.Client(t)
	// Enough keys to land on every master.
	for i := range 30 {
		if err := c.Set(ctx, fmt.Sprint("key", i), i, 0).Err(); err != nil {
			t.Fatalf("SET through the cluster: %v", err)
		}
	}
	if got := cl.CommandCalls(t, "set"); got != 30 {
		t.Errorf("CommandCalls(set) = %d, want 30", got)
	}
	for _, s := range cl.Servers {
		if s.CommandCalls(t, "set") == 0 {
			t.Errorf("master %s got no key: slots not spread", s.Addr)
		}
	}
}

func TestSingleMasterCluster(t *testing.T) {
	cl := StartCluster(t, 1)
	if err := cl.Client(t).Set(context.Background(), "k", "v", 0).Err(); err != nil {
		t.Fatalf("SET: %v", err)
	}
}

func TestSentinel(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	master := Start(t)
	s := StartSentinel(t, master, "mymaster")
	if want := "redis-sentinel://" + s.Addr + "/0?master_name=mymaster"; s.URL() != want {
		t.Errorf("URL() = %q, want %q", s.URL(), want)
	}
	addr, err := s.Client(t).Do(ctx, "sentinel", "get-master-addr-by-name", "mymaster").StringSlice()
	if err != nil {
		t.Fatalf("SENTINEL get-master-addr-by-name: %v", err)
	}
	if got := addr[0] + ":" + addr[1]; got != master.Addr {
		t.Errorf("sentinel reports master %s, want %s", got, master.Addr)
	}
}

func TestStartTLS(t *testing.T) {
	s := StartTLS(t)
	if want := "rediss://" + s.Addr + "/0"; s.URL() != want {
		t.Errorf("URL() = %q, want %q", s.URL(), want)
	}
	if s.CAFile == "" || s.TLSConfig() == nil {
		t.Fatal("no CA file or TLS config for a TLS server")
	}
	if err := s.Client(t).Ping(context.Background()).Err(); err != nil {
		t.Fatalf("PING over TLS: %v", err)
	}
	if err := ping(s.Addr, nil); err == nil {
		t.Error("TLS server answered plain PING")
	}
	s.Stop(t)
	s.Restart(t)
	if err := s.Client(t).Ping(context.Background()).Err(); err != nil {
		t.Fatalf("PING over TLS after restart: %v", err)
	}
}
