package session

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/frontdoor-dev/frontdoor/internal/redistest"
)

func TestParseStandaloneURL(t *testing.T) {
	for _, tc := range []struct {
		url             string
		addr            string
		db              int
		user, password  string
		tls, skipVerify bool
		network         string
		readTimeout     time.Duration
		poolSize        int
	}{
		{url: "redis://127.0.0.1:6379/0", addr: "127.0.0.1:6379"},
		{url: "redis://cache.internal", addr: "cache.internal:6379"},
		{url: "redis://cache.internal:6380/3", addr: "cache.internal:6380", db: 3},
		{url: "REDIS://cache.internal/", addr: "cache.internal:6379"},
		{url: "redis://:s3cret@cache:6379/1", addr: "cache:6379", db: 1, password: "s3cret"},
		{url: "redis://gw:s3cret@cache:6379/1", addr: "cache:6379", db: 1, user: "gw", password: "s3cret"},
		{url: "redis://gw:p%40ss%2Fw%3Ard@cache", addr: "cache:6379", user: "gw", password: "p@ss/w:rd"},
		{url: "redis://[::1]:7000/2", addr: "[::1]:7000", db: 2},
		{url: "redis://cache/0?db=4", addr: "cache:6379", db: 4},
		{url: "rediss://cache.example.com:6380/0", addr: "cache.example.com:6380", tls: true},
		{url: "rediss://cache:6380/0?skip_verify=true", addr: "cache:6380", tls: true, skipVerify: true},
		{url: "redis://cache/0?read_timeout=2s&pool_size=50", addr: "cache:6379", readTimeout: 2 * time.Second, poolSize: 50},
		{url: "unix:///run/redis.sock?db=2", addr: "/run/redis.sock", db: 2, network: "unix"},
		{url: "unix://:pw@/run/redis.sock", addr: "/run/redis.sock", password: "pw", network: "unix"},
	} {
		t.Run(tc.url, func(t *testing.T) {
			p, err := parseURL(tc.url)
			if err != nil {
				t.Fatalf("parseURL: %v", err)
			}
			o := p.simple
			if o == nil || p.failover != nil || p.cluster != nil {
				t.Fatalf("not a standalone client: %+v", p)
			}
			network := tc.network
			if network == "" {
				network = "tcp"
			}
			if o.Addr != tc.addr || o.DB != tc.db || o.Network != network {
				t.Errorf("addr, db, network = %s, %d, %s; want %s, %d, %s", o.Addr, o.DB, o.Network, tc.addr, tc.db, network)
			}
			if o.Username != tc.user || o.Password != tc.password {
				t.Errorf("credentials = %q, %q; want %q, %q", o.Username, o.Password, tc.user, tc.password)
			}
			if (o.TLSConfig != nil) != tc.tls {
				t.Errorf("TLS = %v, want %v", o.TLSConfig != nil, tc.tls)
			}
			if o.TLSConfig != nil && o.TLSConfig.InsecureSkipVerify != tc.skipVerify {
				t.Errorf("InsecureSkipVerify = %v, want %v", o.TLSConfig.InsecureSkipVerify, tc.skipVerify)
			}
			if o.ReadTimeout != tc.readTimeout || o.PoolSize != tc.poolSize {
				t.Errorf("read timeout, pool size = %s, %d; want %s, %d", o.ReadTimeout, o.PoolSize, tc.readTimeout, tc.poolSize)
			}
		})
	}
}

func TestParseSentinelURL(t *testing.T) {
	for _, tc := range []struct {
		url                            string
		sentinels                      []string
		master                         string
		db                             int
		sentinelUser, sentinelPassword string
		user, password                 string
		tls, replicaOnly               bool
	}{
		{
			url:       "redis-sentinel://sentinel:26379/0?master_name=mymaster",
			sentinels: []string{"sentinel:26379"}, master: "mymaster",
		},
		{
			url:       "redis-sentinel://s1/2?master_name=mymaster",
			sentinels: []string{"s1:26379"}, master: "mymaster", db: 2,
		},
		{
			url:       "redis-sentinel://s1:26379,s2:26380,s3/0?master_name=m",
			sentinels: []string{"s1:26379", "s2:26380", "s3:26379"}, master: "m",
		},
		{
			url:       "redis-sentinel://s1:26379,s2:26380/0?master_name=m&addr=s3:26381",
			sentinels: []string{"s1:26379", "s2:26380", "s3:26381"}, master: "m",
		},
		{
			url:       "redis-sentinel://s1?addr=s2:26379&master_name=m",
			sentinels: []string{"s1:26379", "s2:26379"}, master: "m",
		},
		{
			url:       "redis-sentinel://[::1],[::2]:26380/0?master_name=m",
			sentinels: []string{"[::1]:26379", "[::2]:26380"}, master: "m",
		},
		{
			url:       "redis-sentinel://:sentinelpw@s1/0?master_name=m&password=serverpw",
			sentinels: []string{"s1:26379"}, master: "m", sentinelPassword: "sentinelpw", password: "serverpw",
		},
		{
			url:       "redis-sentinel://su:spw@s1/0?master_name=m&username=gw&password=pw",
			sentinels: []string{"s1:26379"}, master: "m", sentinelUser: "su", sentinelPassword: "spw", user: "gw", password: "pw",
		},
		{
			url:       "rediss-sentinel://s1/1?master_name=m&replica_only=true",
			sentinels: []string{"s1:26379"}, master: "m", db: 1, tls: true, replicaOnly: true,
		},
	} {
		t.Run(tc.url, func(t *testing.T) {
			p, err := parseURL(tc.url)
			if err != nil {
				t.Fatalf("parseURL: %v", err)
			}
			o := p.failover
			if o == nil || p.simple != nil || p.cluster != nil {
				t.Fatalf("not a Sentinel client: %+v", p)
			}
			if !slices.Equal(o.SentinelAddrs, tc.sentinels) {
				t.Errorf("sentinels = %v, want %v", o.SentinelAddrs, tc.sentinels)
			}
			if o.MasterName != tc.master || o.DB != tc.db {
				t.Errorf("master, db = %q, %d; want %q, %d", o.MasterName, o.DB, tc.master, tc.db)
			}
			if o.SentinelUsername != tc.sentinelUser || o.SentinelPassword != tc.sentinelPassword {
				t.Errorf("sentinel credentials = %q, %q; want %q, %q", o.SentinelUsername, o.SentinelPassword, tc.sentinelUser, tc.sentinelPassword)
			}
			if o.Username != tc.user || o.Password != tc.password {
				t.Errorf("server credentials = %q, %q; want %q, %q", o.Username, o.Password, tc.user, tc.password)
			}
			if (o.TLSConfig != nil) != tc.tls || o.ReplicaOnly != tc.replicaOnly {
				t.Errorf("TLS, replica only = %v, %v; want %v, %v", o.TLSConfig != nil, o.ReplicaOnly, tc.tls, tc.replicaOnly)
			}
		})
	}
}

func TestParseClusterURL(t *testing.T) {
	for _, tc := range []struct {
		url            string
		addrs          []string
		user, password string
		tls            bool
	}{
		{url: "redis-cluster://node1:7000", addrs: []string{"node1:7000"}},
		{url: "redis-cluster://node1", addrs: []string{"node1:6379"}},
		{url: "redis-cluster://node1:7000?addr=node2:7001&addr=node3:7002", addrs: []string{"node1:7000", "node2:7001", "node3:7002"}},
		{url: "redis-cluster://node1:7000,node2:7001,node3", addrs: []string{"node1:7000", "node2:7001", "node3:6379"}},
		{url: "redis-cluster://node1:7000,node2:7001?addr=node3:7002", addrs: []string{"node1:7000", "node2:7001", "node3:7002"}},
		{url: "redis-cluster://node1:7000/", addrs: []string{"node1:7000"}},
		{url: "redis-cluster://node1:7000/0", addrs: []string{"node1:7000"}},
		{url: "redis-cluster://gw:pw@node1:7000", addrs: []string{"node1:7000"}, user: "gw", password: "pw"},
		{url: "rediss-cluster://:pw@node1:7000,node2:7001", addrs: []string{"node1:7000", "node2:7001"}, password: "pw", tls: true},
	} {
		t.Run(tc.url, func(t *testing.T) {
			p, err := parseURL(tc.url)
			if err != nil {
				t.Fatalf("parseURL: %v", err)
			}
			o := p.cluster
			if o == nil || p.simple != nil || p.failover != nil {
				t.Fatalf("not a cluster client: %+v", p)
			}
			if !slices.Equal(o.Addrs, tc.addrs) {
				t.Errorf("addrs = %v, want %v", o.Addrs, tc.addrs)
			}
			if o.Username != tc.user || o.Password != tc.password {
				t.Errorf("credentials = %q, %q; want %q, %q", o.Username, o.Password, tc.user, tc.password)
			}
			if (o.TLSConfig != nil) != tc.tls {
				t.Errorf("TLS = %v, want %v", o.TLSConfig != nil, tc.tls)
			}
		})
	}
}

func TestParseBadURL(t *testing.T) {
	for _, tc := range []struct {
		url  string
		want string // in the error
	}{
		{"", "redis URL is empty"},
		{"   ", "redis URL is empty"},
		{"127.0.0.1:6379", "missing scheme"},
		{"cache:6379", "missing scheme"},
		{"http://cache:6379", `unsupported scheme "http"`},
		{"redis+sentinel://s1/0?master_name=m", "unsupported scheme"},
		{"redis://", "missing host"},
		{"redis:///0", "missing host"},
		{"redis://cache/x", `invalid database number: "x"`},
		{"redis://cache/1/2", "invalid URL path"},
		{"redis://cache/-1", "invalid database number -1"},
		{"redis://cache/0?colour=blue", "unexpected option: colour"},
		{"redis://cache/0?read_timeout=soon", "invalid read_timeout duration"},
		{"redis://cache/0?pool_size=many", "invalid pool_size number"},
		{"redis://cache/0#frag", "unexpected fragment"},
		{"redis://c1,c2/0", "takes one host"},
		{"rediss://c1,c2/0", "takes one host"},
		{"redis-sentinel://s1/0", "missing master_name"},
		{"redis-sentinel://s1,,s2/0?master_name=m", "empty host"},
		{"redis-sentinel://s1,s2:x/0?master_name=m", "invalid port"},
		{"redis-sentinel://s1,s2:99999/0?master_name=m", "invalid port"},
		{"redis-sentinel://s1,:26379/0?master_name=m", "missing host name"},
		{"redis-sentinel://s1/0?master_name=m&addr=nohostport", "unable to parse addr param"},
		{"redis-cluster://n1:7000/1", "database 0 only"},
		{"redis-cluster://n1:7000?db=1", "unexpected option: db"},
		{"redis-cluster://n1:7000?addr=bad", "unable to parse addr param"},
		{"unix://", "empty unix socket path"},
	} {
		t.Run(tc.url, func(t *testing.T) {
			_, err := NewClient(tc.url)
			if err == nil {
				t.Fatal("no error")
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q does not contain %q", err, tc.want)
			}
			if ValidateURL(tc.url) == nil {
				t.Error("ValidateURL accepts it")
			}
		})
	}
}

// TestErrorsHidePassword feeds URLs with a password and a mistake elsewhere
// (or a password that breaks the URL) and checks that no part of the
// password shows in the error.
func TestErrorsHidePassword(t *testing.T) {
	for _, tc := range []struct{ url, password string }{
		{"redis://gw:Tops3cret@cache/x", "Tops3cret"},
		{"redis://:Tops3cret@cache/0?colour=blue", "Tops3cret"},
		{"http://:Tops3cret@cache/0", "Tops3cret"},
		{"redis://gw:Top/s3cret@cache/0", "s3cret"},
		{"redis://gw:Top?s3cret@cache/0", "s3cret"},
		{"redis://gw:Top#s3cret@cache/0", "s3cret"},
		{"redis://gw:Tops%zz3cret@cache/0", "3cret"},
		{"redis://gw:123/s3cret@cache/0", "s3cret"},
		{"redis://gw:12345/s3cret@cache/0", "12345"},
		{"redis:gw:Tops3cret@cache/0", "Tops3cret"},
		{"redis-sentinel://:Tops3cret@s1/0", "Tops3cret"},
		{"redis-sentinel://s1/0?password=Tops3cret", "Tops3cret"},
		{"redis-sentinel://s1/0?master_name=m&password=Tops3cret&colour=blue", "Tops3cret"},
		{"redis-sentinel://s1/0?master_name=m&sentinel_password=Tops3cret", "Tops3cret"},
		{"redis-cluster://:Tops3cret@n1:7000/1", "Tops3cret"},
		{"redis-cluster://:Tops3cret@n1:7000,n2:x", "Tops3cret"},
		{"redis-sentinel://u:Top,s3cret/x@s1,s2/0?master_name=m", "s3cret"},
	} {
		t.Run(tc.url, func(t *testing.T) {
			_, err := NewClient(tc.url)
			if err == nil {
				t.Fatal("no error")
			}
			if strings.Contains(err.Error(), tc.password) {
				t.Errorf("error %q reveals the password", err)
			}
		})
	}
}

func TestRedact(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"redis://127.0.0.1:6379/0", "redis://127.0.0.1:6379/0"},
		{"redis://:s3cret@cache:6379/0", "redis://:xxxxx@cache:6379/0"},
		{"redis://gw:s3cret@cache:6379/0", "redis://gw:xxxxx@cache:6379/0"},
		{"redis://gw@cache:6379/0", "redis://gw@cache:6379/0"},
		{"rediss://gw:p%40ss@cache:6380/0?skip_verify=true", "rediss://gw:xxxxx@cache:6380/0?skip_verify=true"},
		{"redis-sentinel://:spw@s1,s2:26380/0?master_name=m&password=pw&db=1", "redis-sentinel://:xxxxx@s1,s2:26380/0?master_name=m&password=xxxxx&db=1"},
		{"redis-sentinel://s1/0?Password=pw", "redis-sentinel://s1/0?Password=xxxxx"},
		{"redis-sentinel://s1/0?sentinel_password=pw", "redis-sentinel://s1/0?sentinel_password=xxxxx"},
		{"redis-cluster://n1:7000?addr=n2:7001&addr=n3:7002", "redis-cluster://n1:7000?addr=n2:7001&addr=n3:7002"},
		{"redis-cluster://:pw@n1:7000,n2,[::1]:7002", "redis-cluster://:xxxxx@n1:7000,n2,[::1]:7002"},
		{"rediss-sentinel://u:pw@s1:26379,s2/0?master_name=m", "rediss-sentinel://u:xxxxx@s1:26379,s2/0?master_name=m"},
		{"redis-sentinel://u:p,w@s1,s2/0?master_name=m", "redis-sentinel://u:xxxxx@s1,s2/0?master_name=m"},
		{"redis-sentinel://u:p,w/x@s1,s2/0?master_name=m", "redis-sentinel://xxxxx@s1,s2"},
		{"unix://:pw@/run/redis.sock?db=1", "unix://:xxxxx@/run/redis.sock?db=1"},
		// Malformed: the password's end cannot be known, so only the
		// scheme and host are kept.
		{"redis://gw:pa/ss@cache:6379/0", "redis://xxxxx@cache:6379"},
		{"redis://gw:12/ss@cache:6379/0", "redis://xxxxx@cache:6379"},
		{"redis://gw:pa?ss@cache:6379/0", "redis://xxxxx@cache:6379"},
		{"redis://gw:pa%zz@cache:6379/0", "redis://xxxxx@cache:6379"},
		{"redis://gw:pa@ss@cache:6379/0", "redis://gw:xxxxx@cache:6379/0"},
		{"redis://gw:pa/ss@c^che/0", "redis://xxxxx@..."},
		{"redis://cache:bad/0?password=pw", "redis://cache:bad/0?xxxxx"},
		{"redis:gw:pw@cache", "xxxxx"},
		{"cache:6379", "cache:6379"},
		{"", ""},
	} {
		if got := Redact(tc.in); got != tc.want {
			t.Errorf("Redact(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestNewClientTuning(t *testing.T) {
	c, err := NewClient("redis://cache:6379/0")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	o := c.(*redis.Client).Options()
	if !o.ContextTimeoutEnabled {
		t.Error("context deadlines are not honoured")
	}
	if o.ReadTimeout != DefaultIOTimeout || o.WriteTimeout != DefaultIOTimeout || o.PoolTimeout != DefaultIOTimeout {
		t.Errorf("read, write, pool timeouts = %s, %s, %s; want %s", o.ReadTimeout, o.WriteTimeout, o.PoolTimeout, DefaultIOTimeout)
	}
	if o.DialTimeout != DefaultDialTimeout || o.MaxRetries != 1 || o.MinIdleConns != DefaultMinIdleConns {
		t.Errorf("dial timeout, max retries, min idle = %s, %d, %d; want %s, 1, %d",
			o.DialTimeout, o.MaxRetries, o.MinIdleConns, DefaultDialTimeout, DefaultMinIdleConns)
	}

	// ClientOptions apply where the URL is silent; the URL wins where it
	// speaks, including to disable something (-1).
	c2, err := NewClientWithOptions("redis://cache:6379/0?read_timeout=2s&max_retries=-1",
		ClientOptions{IOTimeout: 100 * time.Millisecond, DialTimeout: 300 * time.Millisecond, PoolSize: 7, MinIdleConns: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer c2.Close()
	o = c2.(*redis.Client).Options()
	if o.ReadTimeout != 2*time.Second || o.WriteTimeout != 100*time.Millisecond || o.DialTimeout != 300*time.Millisecond {
		t.Errorf("read, write, dial timeouts = %s, %s, %s; want 2s, 100ms, 300ms", o.ReadTimeout, o.WriteTimeout, o.DialTimeout)
	}
	if o.PoolSize != 7 || o.MaxRetries != 0 || o.MinIdleConns != 0 {
		t.Errorf("pool size, max retries, min idle = %d, %d, %d; want 7, 0 (disabled), 0", o.PoolSize, o.MaxRetries, o.MinIdleConns)
	}

	cc, err := NewClientWithOptions("redis-cluster://n1:7000,n2:7001", ClientOptions{IOTimeout: 80 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer cc.Close()
	co := cc.(*redis.ClusterClient).Options()
	if !co.ContextTimeoutEnabled || co.ReadTimeout != 80*time.Millisecond || co.MaxRetries != 1 {
		t.Errorf("cluster: context timeouts, read timeout, retries = %v, %s, %d; want true, 80ms, 1",
			co.ContextTimeoutEnabled, co.ReadTimeout, co.MaxRetries)
	}
}

func TestNewClientSentinelKinds(t *testing.T) {
	for _, tc := range []struct {
		url     string
		cluster bool
	}{
		{"redis-sentinel://s1/0?master_name=m", false},
		{"redis-sentinel://s1/0?master_name=m&replica_only=true", false},
		// go-redis's plain failover client panics on these: they need
		// the cluster-like one.
		{"redis-sentinel://s1/0?master_name=m&route_by_latency=true", true},
		{"redis-sentinel://s1/0?master_name=m&route_randomly=true", true},
	} {
		c, err := NewClient(tc.url)
		if err != nil {
			t.Fatalf("%s: %v", tc.url, err)
		}
		if _, ok := c.(*redis.ClusterClient); ok != tc.cluster {
			t.Errorf("%s: %T", tc.url, c)
		}
		c.Close()
	}
}

// TestNewClientRedisDown checks that building a client does not need Redis:
// the gateway must start while Redis is down.
func TestNewClientRedisDown(t *testing.T) {
	for _, u := range []string{
		"redis://127.0.0.1:1/0",
		"redis-sentinel://127.0.0.1:1/0?master_name=m",
		"redis-cluster://127.0.0.1:1,127.0.0.1:2",
	} {
		start := time.Now()
		c, err := NewClient(u)
		if err != nil {
			t.Fatalf("%s: %v", u, err)
		}
		if d := time.Since(start); d > 100*time.Millisecond {
			t.Errorf("%s: NewClient took %s: it must not wait for Redis", u, d)
		}
		// Nor must closing it (on a config reload, say) wait for dials
		// to a Redis that does not answer.
		time.Sleep(20 * time.Millisecond) // time under test: Close with background dials under way (refused dials leave no state to wait for)
		start = time.Now()
		c.Close()
		if d := time.Since(start); d > 100*time.Millisecond {
			t.Errorf("%s: Close took %s: it must not wait for Redis", u, d)
		}
	}
}

func TestNewClientPassword(t *testing.T) {
	ctx := context.Background()
	srv := redistest.Start(t, "--requirepass", "Tops3cret")
	good, err := NewClient("redis://:Tops3cret@" + srv.Addr + "/0")
	if err != nil {
		t.Fatal(err)
	}
	defer good.Close()
	if err := good.Ping(ctx).Err(); err != nil {
		t.Fatalf("PING with the password: %v", err)
	}
	bad, err := NewClient("redis://:WrongS3cret@" + srv.Addr + "/0")
	if err != nil {
		t.Fatal(err)
	}
	defer bad.Close()
	err = bad.Ping(ctx).Err()
	if err == nil {
		t.Fatal("PING with a wrong password succeeded")
	}
	if strings.Contains(err.Error(), "WrongS3cret") {
		t.Errorf("error %q reveals the password", err)
	}
}

func TestNewClientDB(t *testing.T) {
	ctx := context.Background()
	srv := redistest.Start(t)
	c, err := NewClient("redis://" + srv.Addr + "/3")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Set(ctx, "k", "v", 0).Err(); err != nil {
		t.Fatal(err)
	}
	db3 := redis.NewClient(&redis.Options{Addr: srv.Addr, DB: 3})
	defer db3.Close()
	if v, _ := db3.Get(ctx, "k").Result(); v != "v" {
		t.Errorf("key not in database 3")
	}
}

func TestNewClientTLS(t *testing.T) {
	ctx := context.Background()
	srv := redistest.StartTLS(t)

	// The certificate is self-signed: a client that verifies refuses it,
	// which shows that rediss:// does verify by default.
	c, err := NewClient(srv.URL())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	err = c.Ping(ctx).Err()
	if err == nil || !strings.Contains(err.Error(), "certificate") {
		t.Errorf("PING to a self-signed server = %v, want a certificate error", err)
	}

	c2, err := NewClient(srv.URL() + "?skip_verify=true")
	if err != nil {
		t.Fatal(err)
	}
	defer c2.Close()
	if err := c2.Ping(ctx).Err(); err != nil {
		t.Fatalf("PING over TLS with skip_verify: %v", err)
	}
}

// go-redis sweeps idle tracked connections for invalidations every 5ms by
// default, which keeps an idle gateway busy (4.5% of a core measured); a
// tracked client sweeps at DefaultInvalidationSweep unless told otherwise.
func TestTrackedClientInvalidationSweep(t *testing.T) {
	for _, tc := range []struct {
		sweep, want time.Duration
	}{
		{0, DefaultInvalidationSweep},
		{25 * time.Millisecond, 25 * time.Millisecond},
	} {
		tracker := NewTracker()
		c, err := NewClientWithOptions("redis://cache:6379/0", ClientOptions{Tracker: tracker, InvalidationSweep: tc.sweep, MinIdleConns: -1})
		if err != nil {
			t.Fatal(err)
		}
		if o := c.(*redis.Client).Options(); o.ClientSideCache != nil {
			t.Errorf("the client returned is tracked: every read on it would fill Redis's tracking table")
		}
		o := tracker.client.Options()
		if o.ClientSideCacheConfig == nil || o.ClientSideCacheConfig.DrainInterval != tc.want {
			t.Errorf("InvalidationSweep %s: go-redis drain interval = %+v; want %s", tc.sweep, o.ClientSideCacheConfig, tc.want)
		}
		c.Close()
		tracker.Close()
	}
}
