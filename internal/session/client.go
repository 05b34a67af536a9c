package session

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// Client defaults, chosen for a request path that waits on Redis: fail in
// milliseconds rather than in the seconds go-redis defaults to.
const (
	// DefaultIOTimeout bounds each socket read and write when ClientOptions
	// leaves it unset. Lookups pass a shorter deadline by context.
	DefaultIOTimeout = 500 * time.Millisecond
	// DefaultDialTimeout bounds establishing a connection (TCP and TLS)
	// when ClientOptions leaves it unset.
	DefaultDialTimeout = time.Second
	// DefaultMinIdleConns is the number of connections per Redis node
	// kept open when ClientOptions leaves it unset.
	DefaultMinIdleConns = 2
	// DefaultInvalidationSweep is how often, under tracking, go-redis
	// looks at idle pooled connections for invalidations Redis sent
	// them, when ClientOptions leaves it unset. go-redis's own 5ms wakes
	// an idle gateway 200 times a second (4.5% of a core measured on a
	// gateway with nothing to do); 10ms halves that and adds at most 5ms
	// to the time a change takes to reach the gateway, far inside the
	// 100ms a change may take.
	DefaultInvalidationSweep = 10 * time.Millisecond
)

// Default ports when a URL leaves them out.
const (
	redisPort    = "6379"
	sentinelPort = "26379"
)

// redacted replaces passwords in URLs, as net/url does.
const redacted = "xxxxx"

// ClientOptions tune the Redis client built by NewClientWithOptions. Query
// parameters of the URL (dial_timeout, read_timeout, write_timeout,
// pool_size, pool_timeout, max_retries...) take precedence: they are the
// more specific setting.
type ClientOptions struct {
	// IOTimeout bounds each socket read and write and the wait for a free
	// pooled connection. Default DefaultIOTimeout. The client honours
	// context deadlines, so a caller with a tighter budget (a session
	// lookup) gets it by passing a context with a deadline.
	IOTimeout time.Duration

	// DialTimeout bounds establishing one connection. Default
	// DefaultDialTimeout. go-redis dials in a goroutine of its own, so a
	// slow dial does not hold the command that needed it past that
	// command's deadline: the connection goes to the pool for the next.
	DialTimeout time.Duration

	// PoolSize is the maximum number of connections per Redis node.
	// Default: go-redis's, 10 per GOMAXPROCS.
	PoolSize int

	// MinIdleConns is the number of connections per Redis node that
	// go-redis keeps open, dialing them in the background from the start.
	// Default DefaultMinIdleConns, except with Sentinel (default none):
	// there go-redis's Close waits for dials under way, which with the
	// Sentinels down takes up to seconds. Warm connections spare the first
	// requests after a start or a quiet spell a dial (and TLS handshake)
	// that could take longer than a lookup's timeout. Negative disables.
	MinIdleConns int

	// Tracker, when set, gets a second client of its own for a
	// standalone Redis on database 0, with Redis's server-assisted
	// client-side caching (RESP3 CLIENT TRACKING) on, so that Stores given
	// the same Tracker keep contexts until Redis reports a change. The
	// client returned stays untracked (see Tracker). Sentinel and Cluster
	// clients, other databases and protocol=2 URLs ignore it. Default:
	// none.
	Tracker *Tracker

	// InvalidationSweep is how often, with a Tracker attached, the
	// Tracker's idle pooled connections are read for Redis's invalidation messages (a
	// connection in use reads them with its next reply): the most a
	// change waits on an idle connection. Default
	// DefaultInvalidationSweep; go-redis floors it at 1ms.
	InvalidationSweep time.Duration
}

// NewClient returns a Redis client for rawURL with the default
// ClientOptions. See NewClientWithOptions for the URL forms.
func NewClient(rawURL string) (redis.UniversalClient, error) {
	return NewClientWithOptions(rawURL, ClientOptions{})
}

// NewClientWithOptions returns a Redis client for rawURL, one of:
//
//	redis://[[user]:password@]host[:6379][/db]
//	rediss://[[user]:password@]host[:6379][/db]          TLS
//	unix://[[user]:password@]/path/to/redis.sock[?db=N]
//	redis-sentinel://[[user]:password@]host[:26379][,host2[:26379]...][/db]?master_name=NAME
//	rediss-sentinel://...                                  TLS to Sentinels and servers
//	redis-cluster://[[user]:password@]host[:6379][,host2[:6379]...]
//	rediss-cluster://...                                   TLS
//
// The forms are go-redis's own (redis.ParseURL, redis.ParseFailoverURL and
// redis.ParseClusterURL) under a scheme that names the deployment, and take
// the same query parameters, e.g. dial_timeout=1s, pool_size=50, or
// skip_verify=true with TLS. Additional Sentinels or cluster nodes may also
// be given as addr=host:port parameters, the library's native way; a
// comma-separated host list is rewritten to that.
//
// In the Sentinel form the user info authenticates to the Sentinels, and
// the servers (master and replicas) take username= and password= query
// parameters, as in go-redis:
//
//	redis-sentinel://:sentinelpw@s1,s2/0?master_name=mymaster&password=serverpw
//
// Sentinel URLs may also set replica_only=true (reads from replicas), or
// route_by_latency=true or route_randomly=true (reads spread over the
// master and its replicas). With the latter two (and a cluster URL's
// read_only, route_by_latency or route_randomly) a session lookup still
// reads from the master: its two reads must come from one server, which
// only a MULTI/EXEC gets from such a client (see spreadsReads).
//
// With TLS, go-redis verifies every server's certificate against the name
// of the first host of the URL: in Sentinel and cluster setups the
// certificates must be valid for that name (or skip_verify=true).
//
// Special characters in a user name or password must be percent-encoded.
// Errors never contain the password: the URL they quote is Redact-ed.
//
// The client connects lazily: a Redis that is down does not fail this call,
// so a gateway can start before its Redis. The caller owns the client and
// closes it.
func NewClientWithOptions(rawURL string, opts ClientOptions) (redis.UniversalClient, error) {
	p, err := parseURL(rawURL)
	if err != nil {
		return nil, err
	}
	switch {
	case p.cluster != nil:
		o := p.cluster
		applyDefaults(opts, tunables{&o.DialTimeout, &o.ReadTimeout, &o.WriteTimeout, &o.PoolTimeout,
			&o.PoolSize, &o.MinIdleConns, &o.MaxRetries, &o.MinRetryBackoff, &o.MaxRetryBackoff})
		o.ContextTimeoutEnabled = true
		return redis.NewClusterClient(o), nil
	case p.failover != nil:
		o := p.failover
		if opts.MinIdleConns == 0 {
			opts.MinIdleConns = -1 // see ClientOptions.MinIdleConns
		}
		applyDefaults(opts, tunables{&o.DialTimeout, &o.ReadTimeout, &o.WriteTimeout, &o.PoolTimeout,
			&o.PoolSize, &o.MinIdleConns, &o.MaxRetries, &o.MinRetryBackoff, &o.MaxRetryBackoff})
		o.ContextTimeoutEnabled = true
		if o.RouteByLatency || o.RouteRandomly {
			// Only the cluster-like failover client can route reads
			// over several servers; redis.NewFailoverClient panics on
			// these options.
			return redis.NewFailoverClusterClient(o), nil
		}
		return redis.NewFailoverClient(o), nil
	default:
		o := p.simple
		applyDefaults(opts, tunables{&o.DialTimeout, &o.ReadTimeout, &o.WriteTimeout, &o.PoolTimeout,
			&o.PoolSize, &o.MinIdleConns, &o.MaxRetries, &o.MinRetryBackoff, &o.MaxRetryBackoff})
		o.ContextTimeoutEnabled = true
		// go-redis tracks on database 0 only (tracking is bound to a
		// connection's database) and over RESP3, its default protocol.
		if opts.Tracker != nil && o.DB == 0 && o.Protocol != 2 {
			opts.Tracker.attach(trackedOptions(*o, opts.InvalidationSweep))
		}
		return redis.NewClient(o), nil
	}
}

// ValidateURL reports whether NewClient would accept rawURL, without
// building a client: for config validation.
func ValidateURL(rawURL string) error {
	_, err := parseURL(rawURL)
	return err
}

// tunables points at the options that NewClientWithOptions sets, which
// go-redis spreads over three option types.
type tunables struct {
	dialTimeout, readTimeout, writeTimeout, poolTimeout *time.Duration
	poolSize, minIdleConns, maxRetries                  *int
	minRetryBackoff, maxRetryBackoff                    *time.Duration
}

// applyDefaults fills in the options the URL left at zero ("use the
// default"); a value set in the URL, including -1 ("disabled"), is kept.
func applyDefaults(opts ClientOptions, t tunables) {
	ioTimeout := opts.IOTimeout
	if ioTimeout <= 0 {
		ioTimeout = DefaultIOTimeout
	}
	dialTimeout := opts.DialTimeout
	if dialTimeout <= 0 {
		dialTimeout = DefaultDialTimeout
	}
	setDuration(t.dialTimeout, dialTimeout)
	setDuration(t.readTimeout, ioTimeout)
	setDuration(t.writeTimeout, ioTimeout)
	// go-redis would wait ReadTimeout + 1s for a pooled connection: far
	// too long on a request path when every connection is busy.
	setDuration(t.poolTimeout, ioTimeout)
	if *t.poolSize == 0 && opts.PoolSize > 0 {
		*t.poolSize = opts.PoolSize
	}
	if *t.minIdleConns == 0 {
		switch {
		case opts.MinIdleConns > 0:
			*t.minIdleConns = opts.MinIdleConns
		case opts.MinIdleConns == 0:
			*t.minIdleConns = DefaultMinIdleConns
		}
	}
	// One retry covers the usual transient failure, a pooled connection
	// that died with a Redis restart; more (go-redis defaults to 3) would
	// only multiply the time a caller waits for a Redis that is down.
	if *t.maxRetries == 0 {
		*t.maxRetries = 1
	}
	setDuration(t.minRetryBackoff, 2*time.Millisecond)
	setDuration(t.maxRetryBackoff, 20*time.Millisecond)
}

func setDuration(d *time.Duration, v time.Duration) {
	if *d == 0 {
		*d = v
	}
}

// parsedURL holds the go-redis options of exactly one client type.
type parsedURL struct {
	simple   *redis.Options
	failover *redis.FailoverOptions
	cluster  *redis.ClusterOptions
}

// parseURL checks rawURL and turns it into go-redis options.
func parseURL(rawURL string) (parsedURL, error) {
	fail := func(format string, args ...any) (parsedURL, error) {
		return parsedURL{}, fmt.Errorf("redis URL %q: %s", Redact(rawURL), fmt.Sprintf(format, args...))
	}
	if strings.TrimSpace(rawURL) == "" {
		return parsedURL{}, errors.New("redis URL is empty")
	}
	if !strings.Contains(rawURL, "://") {
		return fail("missing scheme, e.g. redis://host:6379/0")
	}
	parseable, hostList := cutHostList(rawURL)
	u, err := url.Parse(parseable)
	if err != nil {
		// url.Error quotes the URL, password included, and some of its
		// reasons quote the part of it that is wrong, which may be part of
		// the password: say what is usually wrong instead.
		return fail("malformed URL (special characters in the user name or password must be percent-encoded)")
	}
	if !wellFormed(u) {
		return fail("malformed URL (special characters in the user name or password must be percent-encoded)")
	}
	if u.Fragment != "" {
		return fail("unexpected fragment #%s", u.Fragment)
	}
	if hostList != "" {
		u.Host = hostList
	}
	if u.Host == "" && u.Scheme != "unix" {
		return fail("missing host")
	}

	var p parsedURL
	switch u.Scheme {
	case "redis", "rediss", "unix":
		if strings.Contains(u.Host, ",") {
			return fail("a %s:// URL takes one host; use redis-sentinel:// or redis-cluster:// for several", u.Scheme)
		}
		p.simple, err = redis.ParseURL(u.String())
		if err == nil && p.simple.DB < 0 {
			return fail("invalid database number %d", p.simple.DB)
		}
	case "redis-sentinel", "rediss-sentinel":
		if err := spreadHosts(u, sentinelPort); err != nil {
			return fail("%v", err)
		}
		p.failover, err = redis.ParseFailoverURL(u.String())
		if err == nil && p.failover.MasterName == "" {
			return fail("missing master_name, e.g. redis-sentinel://host:26379/0?master_name=mymaster")
		}
		if err == nil && p.failover.DB < 0 {
			return fail("invalid database number %d", p.failover.DB)
		}
	case "redis-cluster", "rediss-cluster":
		// Redis Cluster has database 0 only; go-redis would ignore a
		// path silently, and a user asking for another database must
		// learn that it will not be used.
		if path := strings.Trim(u.Path, "/"); path != "" && path != "0" {
			return fail("a cluster has database 0 only, not %q", path)
		}
		u.Path = ""
		if err := spreadHosts(u, redisPort); err != nil {
			return fail("%v", err)
		}
		p.cluster, err = redis.ParseClusterURL(u.String())
	default:
		return fail("unsupported scheme %q (want redis, rediss, redis-sentinel, rediss-sentinel, redis-cluster, rediss-cluster or unix)", u.Scheme)
	}
	if err != nil {
		// go-redis's own messages name the offending part (an unknown
		// option, a bad number) but never the password: the URL is not
		// in them.
		return fail("%s", strings.TrimPrefix(err.Error(), "redis: "))
	}
	return p, nil
}

// spreadHosts turns the comma-separated host list of a Sentinel or cluster
// URL into what go-redis parses: the first host in the URL's host, the
// others as addr= query parameters; it fills in defaultPort where a host
// has none. u.Scheme becomes the plain redis or rediss go-redis expects.
func spreadHosts(u *url.URL, defaultPort string) error {
	hosts := strings.Split(u.Host, ",")
	q := u.Query()
	extra := q["addr"]
	delete(q, "addr")
	for i, h := range hosts {
		if h == "" {
			return errors.New("empty host in the host list")
		}
		host, port, err := net.SplitHostPort(h)
		if err != nil {
			// No port (or a bracketed IPv6 address without one).
			host, port = strings.TrimSuffix(strings.TrimPrefix(h, "["), "]"), defaultPort
		}
		if host == "" {
			return fmt.Errorf("missing host name in %q", h)
		}
		if !plainHost(host) {
			return fmt.Errorf("invalid host name in %q", h)
		}
		if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
			return fmt.Errorf("invalid port in %q", h)
		}
		hosts[i] = net.JoinHostPort(host, port)
	}
	u.Host = hosts[0]
	if addrs := append(hosts[1:], extra...); len(addrs) > 0 {
		q["addr"] = addrs
	}
	// Encode sorts the parameters, which go-redis does not mind.
	u.RawQuery = q.Encode()
	u.Scheme = strings.TrimSuffix(strings.TrimSuffix(u.Scheme, "-sentinel"), "-cluster")
	return nil
}

// wellFormed reports whether u was parsed as its writer meant. A password
// with an unescaped '/', '?' or '#' ends the authority early, and the rest
// of it, '@' included, lands in the path, query or fragment, where it
// would be quoted in errors and logs.
func wellFormed(u *url.URL) bool {
	return u.Opaque == "" &&
		!strings.Contains(u.Path, "@") &&
		!strings.Contains(u.RawPath, "@") &&
		!strings.Contains(u.Fragment, "@")
}

// Redact returns rawURL with every password replaced by "xxxxx": the one in
// the user info and those of password-like query parameters (password=,
// sentinel_password=). It is meant for logs and error messages. A URL that
// does not parse cleanly keeps only its scheme and host, so that no part of
// a password can slip through.
func Redact(rawURL string) string {
	parseable, hostList := cutHostList(rawURL)
	u, err := url.Parse(parseable)
	if err != nil || !wellFormed(u) || !strings.Contains(rawURL, "://") {
		return redactMalformed(rawURL)
	}
	if u.User != nil {
		if _, ok := u.User.Password(); ok {
			u.User = url.UserPassword(u.User.Username(), redacted)
		}
	}
	u.RawQuery = redactQuery(u.RawQuery)
	// String would encode a '%' that was meant literally: the query is
	// spliced back as is instead.
	u.ForceQuery = false
	query := u.RawQuery
	u.RawQuery = ""
	s := u.String()
	if hostList != "" {
		s = strings.Replace(s, hostListPlaceholder, hostList, 1)
	}
	if query != "" {
		s += "?" + query
	}
	return s
}

// hostListPlaceholder stands in for a host list while net/url parses a URL.
const hostListPlaceholder = "host-list.invalid"

// cutHostList replaces a comma-separated host list in rawURL by a
// placeholder host, and returns the URL and the list. net/url rejects
// lists like "s1:26379,s2" (it reads the port after the last colon), and
// they are what Sentinel and cluster URLs have. A URL with one host comes
// back as is, with an empty list.
func cutHostList(rawURL string) (string, string) {
	scheme, rest, ok := strings.Cut(rawURL, "://")
	if !ok {
		return rawURL, ""
	}
	end := strings.IndexAny(rest, "/?#")
	if end < 0 {
		end = len(rest)
	}
	authority := rest[:end]
	start := strings.LastIndexByte(authority, '@') + 1
	hosts := authority[start:]
	if !strings.Contains(hosts, ",") {
		return rawURL, ""
	}
	return scheme + "://" + authority[:start] + hostListPlaceholder + rest[end:], hosts
}

// redactQuery replaces the values of password-like parameters, keeping the
// others and their order as written.
func redactQuery(rawQuery string) string {
	if rawQuery == "" {
		return ""
	}
	params := strings.Split(rawQuery, "&")
	for i, param := range params {
		key, _, hasValue := strings.Cut(param, "=")
		if k, err := url.QueryUnescape(key); err == nil {
			key = k
		}
		if hasValue && secretParam(key) {
			params[i] = key + "=" + redacted
		}
	}
	return strings.Join(params, "&")
}

// secretParam reports whether a query parameter holds a credential.
func secretParam(key string) bool {
	key = strings.ToLower(key)
	return strings.Contains(key, "pass") || strings.Contains(key, "secret") || strings.Contains(key, "token")
}

// redactMalformed redacts a URL that does not parse: it keeps the scheme
// and, when it looks like one, the host list after the last '@', and drops
// everything else, since where the password ends cannot be known.
func redactMalformed(rawURL string) string {
	scheme, rest, ok := strings.Cut(rawURL, "://")
	if !ok {
		if strings.ContainsAny(rawURL, "@?") {
			return redacted
		}
		return rawURL
	}
	at := strings.LastIndex(rest, "@")
	if at < 0 {
		// No user info. A password can only be in the query, which is
		// dropped whole.
		if i := strings.IndexByte(rest, '?'); i >= 0 {
			return scheme + "://" + rest[:i] + "?" + redacted
		}
		return rawURL
	}
	host := rest[at+1:]
	if i := strings.IndexAny(host, "/?#"); i >= 0 {
		host = host[:i]
	}
	if !plainHost(host) {
		return scheme + "://" + redacted + "@..."
	}
	return scheme + "://" + redacted + "@" + host
}

// plainHost reports whether s consists only of characters of host names,
// IP addresses, ports and host lists.
func plainHost(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		case strings.IndexByte(".-_:[],", c) >= 0:
		default:
			return false
		}
	}
	return true
}
