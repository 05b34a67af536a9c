package e2e

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/frontdoor-dev/frontdoor/internal/redistest"
	"golang.org/x/net/websocket"
)

// deskSite is a site whose support journey goes to NightDesk at deskURL,
// which is given the customer's id from the session in Redis (read on
// every request), with extra lines in its backend block.
func deskSite(redisURL, deskURL, extra string) string {
	return frontdoorBlock(fmt.Sprintf(`
		session {
			redis %s
			cookie acme_session
			cache 0s
		}
		journey support /support* {
			backend nightdesk {
				owner outsourced
				vendor "NightDesk BPO"
				to %s
				context customer_id
				%s
			}
		}`, redisURL, deskURL, extra))
}

// deskStreams is NightDesk's frontdoor_streams_total series on the
// support journey for the streams closedBy ended.
func deskStreams(closedBy string) string {
	return fmt.Sprintf(`frontdoor_streams_total{backend="nightdesk",closed_by=%q,journey="support",owner="outsourced",vendor="NightDesk BPO"}`, closedBy)
}

// waitDeskStreams waits until g has counted want of NightDesk's streams
// (chats and event streams), whoever closed them, and returns the metrics
// that showed it.
func waitDeskStreams(t *testing.T, g *gateway, want float64) string {
	t.Helper()
	var m string
	waitFor(t, 10*time.Second, func() error {
		m = g.metrics(t)
		total := 0.0
		for _, by := range []string{"client", "backend", "gateway"} {
			v, _ := metricValue(m, deskStreams(by))
			total += v
		}
		if total != want {
			return fmt.Errorf("%v streams counted, want %v", total, want)
		}
		return nil
	})
	return m
}

// TestVendorEndsEventStreamAfterReloadIsAHangUp: an event stream opened
// under one config goes on after a reload (Caddy closes only upgraded
// connections at stream_close_delay; a response under way is left to
// finish), and when the vendor ends it past that delay, the vendor ended
// it: closed_by="backend", and the known customer is an orphan. Nothing
// of frontdoor's closed it.
func TestVendorEndsEventStreamAfterReloadIsAHangUp(t *testing.T) {
	t.Parallel()
	rs := redistest.Start(t)
	seedSession(t, rs, sessionID, "customer_id", "C-1001")
	hangUp := make(chan struct{})
	desk := startBackend(t, "desk", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		fmt.Fprint(w, "data: hello\n\n")
		w.(http.Flusher).Flush()
		select {
		case <-hangUp: // the desk ends the stream
		case <-r.Context().Done():
		}
	})
	site := func(extra string) string {
		return deskSite(rs.URL(), desk.URL, "stream_close_delay 1s") + extra
	}
	gw := startGateway(t, site(""))
	req, _ := http.NewRequest("GET", gw.URL+"/support/events", nil)
	req.Header.Set("Cookie", "acme_session="+sessionID)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	first := make([]byte, len("data: hello\n\n"))
	if _, err := io.ReadFull(resp.Body, first); err != nil {
		t.Fatalf("first event: %q %v", first, err)
	}
	gw.reload(t, site("\n\theader X-Reloaded yes"))
	if r, _ := do(t, "GET", gw.URL+"/elsewhere", nil, nil); r.Header.Get("X-Reloaded") != "yes" {
		t.Fatal("the reload did not take effect")
	}
	time.Sleep(2 * time.Second) // past stream_close_delay: the stream is still open
	close(hangUp)
	if rest, err := io.ReadAll(resp.Body); err != nil {
		t.Logf("after the desk ended the stream: %q %v", rest, err)
	}

	m := waitDeskStreams(t, gw, 1)
	if v, _ := metricValue(m, deskStreams("backend")); v != 1 {
		g, _ := metricValue(m, deskStreams("gateway"))
		c, _ := metricValue(m, deskStreams("client"))
		t.Errorf("the event stream the vendor ended is counted closed_by backend %v, gateway %v, client %v", v, g, c)
	}
	waitFor(t, 5*time.Second, func() error {
		if v, _ := metricValue(gw.metrics(t), `frontdoor_orphans_total{backend="nightdesk",cause="hung_up",journey="support",owner="outsourced",vendor="NightDesk BPO"}`); v != 1 {
			return fmt.Errorf("the customer the vendor hung up on is not orphaned: frontdoor_orphans_total{cause=\"hung_up\"} = %v", v)
		}
		return nil
	})
}

// TestEventStreamOpenedAcrossReloadKeepsItsRedis: a customer's event
// stream whose vendor answers only after a reload moved the site to
// another Redis is still the old config's stream: when the vendor hangs
// up on it, the customer is an orphan in the Redis of the config that
// served the request, as for a chat opened before the reload.
func TestEventStreamOpenedAcrossReloadKeepsItsRedis(t *testing.T) {
	t.Parallel()
	r1, r2 := redistest.Start(t), redistest.Start(t)
	for _, rs := range []*redistest.Server{r1, r2} {
		seedSession(t, rs, sessionID, "customer_id", "C-1001")
	}
	answer, hangUp := make(chan struct{}), make(chan struct{})
	desk := startBackend(t, "desk", func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-answer: // the desk takes its time to answer
		case <-r.Context().Done():
			return
		}
		w.Header().Set("Content-Type", "text/event-stream")
		fmt.Fprint(w, "data: hello\n\n")
		w.(http.Flusher).Flush()
		select {
		case <-hangUp:
		case <-r.Context().Done():
		}
	})
	site := func(redisURL string) string {
		return deskSite(redisURL, desk.URL, "")
	}
	gw := startGateway(t, site(r1.URL()))
	type result struct {
		resp *http.Response
		err  error
	}
	opened := make(chan result, 1)
	go func() {
		req, _ := http.NewRequest("GET", gw.URL+"/support/events", nil)
		req.Header.Set("Cookie", "acme_session="+sessionID)
		resp, err := http.DefaultClient.Do(req)
		opened <- result{resp, err}
	}()
	waitFor(t, 5*time.Second, func() error {
		if desk.count() == 0 {
			return fmt.Errorf("the request has not reached the desk")
		}
		return nil
	})
	gw.reload(t, site(r2.URL())) // returns once the old config is cleaned up
	close(answer)
	res := <-opened
	if res.err != nil {
		t.Fatal(res.err)
	}
	defer res.resp.Body.Close()
	first := make([]byte, len("data: hello\n\n"))
	if _, err := io.ReadFull(res.resp.Body, first); err != nil {
		t.Fatalf("first event: %q %v", first, err)
	}
	close(hangUp)
	io.ReadAll(res.resp.Body) //nolint:errcheck // the desk ended it
	waitFor(t, 5*time.Second, func() error {
		if n, _ := r1.Client(t).Exists(context.Background(), "frontdoor:orphans").Result(); n == 0 {
			dropped, _ := metricValue(gw.metrics(t), `frontdoor_orphans_skipped_total{reason="dropped"}`)
			return fmt.Errorf("no orphan recorded for the vendor's hang-up (frontdoor_orphans_skipped_total{reason=\"dropped\"} = %v)", dropped)
		}
		return nil
	})
}

// TestVendorErrorPageIsNoStream: a vendor that answers a customer's
// event stream with a 503 (as text/event-stream) gets its answer replaced
// by the brand error page: the customer is orphaned for the error page,
// and no stream opened, so none is counted, nor hung up.
func TestVendorErrorPageIsNoStream(t *testing.T) {
	t.Parallel()
	rs := redistest.Start(t)
	seedSession(t, rs, sessionID, "customer_id", "C-1001")
	desk := startBackend(t, "desk", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		w.WriteHeader(http.StatusServiceUnavailable)
		fmt.Fprint(w, "data: we are closed\n\n")
	})
	gw := startGateway(t, deskSite(rs.URL(), desk.URL, ""))
	resp, _ := do(t, "GET", gw.URL+"/support/events", nil, withCookie(sessionID))
	if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Content-Type") == "text/event-stream" {
		t.Fatalf("the vendor's 503 answered %d %s, want the brand's 503 page", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	const labels = `backend="nightdesk",cause=%q,journey="support",owner="outsourced",vendor="NightDesk BPO"`
	waitFor(t, 5*time.Second, func() error {
		if v, _ := metricValue(gw.metrics(t), `frontdoor_orphans_total{`+fmt.Sprintf(labels, "error_page")+`}`); v != 1 {
			return fmt.Errorf("error_page orphans %v, want 1", v)
		}
		return nil
	})
	// A stream is counted, and a hung-up customer queued, before the
	// error page's orphan, and one writer records the queue in order: the
	// error page's orphan seen, either would show by now.
	m := gw.metrics(t)
	if v, _ := metricValue(m, `frontdoor_orphans_total{`+fmt.Sprintf(labels, "hung_up")+`}`); v != 0 {
		t.Errorf("the vendor's error page also counted as a hang-up: frontdoor_orphans_total{cause=\"hung_up\"} = %v", v)
	}
	for _, by := range []string{"client", "backend", "gateway"} {
		if v, _ := metricValue(m, deskStreams(by)); v != 0 {
			t.Errorf("the vendor's error page counted as a stream closed_by %s: %v", by, v)
		}
	}
}

// TestChatClosedAtStreamCloseDelayUnderRace: a chat whose desk keeps
// talking when a reload's stream_close_delay passes. Caddy's timer writes
// its close frame to the customer's connection while the proxy copies the
// desk's frames to it; frontdoor watches both writes for close frames.
func TestChatClosedAtStreamCloseDelayUnderRace(t *testing.T) {
	t.Parallel() // it waits for raceBinary
	bin, err := raceBinary()
	if err != nil {
		t.Fatal(err)
	}
	desk := websocket.Handler(func(c *websocket.Conn) {
		go io.Copy(io.Discard, c) //nolint:errcheck
		for i := 0; ; i++ {
			if _, err := fmt.Fprintf(c, "update %d", i); err != nil {
				return
			}
			time.Sleep(time.Millisecond)
		}
	})
	vendor := startBackend(t, "vendor", func(w http.ResponseWriter, r *http.Request) { desk.ServeHTTP(w, r) })
	site := func(extra string) string {
		return frontdoorBlock(fmt.Sprintf(`
		journey support /support* {
			backend nightdesk {
				owner outsourced
				vendor "NightDesk BPO"
				to %s
				stream_close_delay 1s
			}
		}`, vendor.URL)) + extra
	}
	gw := startGatewayWith(t, bin, site(""))
	ws, err := websocket.Dial("ws"+strings.TrimPrefix(gw.URL, "http")+"/support/chat", "", gw.URL)
	if err != nil {
		t.Fatalf("chat: %v", err)
	}
	defer ws.Close()
	ended := make(chan error, 1)
	go func() {
		buf := make([]byte, 64)
		for {
			if _, err := ws.Read(buf); err != nil {
				ended <- err
				return
			}
		}
	}()
	gw.reload(t, site("\n\theader X-Reloaded yes"))
	select {
	case <-ended:
	case <-time.After(10 * time.Second):
		t.Fatal("the chat was not closed after stream_close_delay")
	}
	waitFor(t, 5*time.Second, func() error {
		if v, _ := metricValue(gw.metrics(t), `frontdoor_streams_total{backend="nightdesk",closed_by="gateway",journey="support",owner="outsourced",vendor="NightDesk BPO"}`); v != 1 {
			return fmt.Errorf("chats closed by the gateway %v, want 1", v)
		}
		return nil
	})
	// Caddy's own hijackedConn counts the bytes of both writes unguarded
	// (responsewriter.go): only races in frontdoor's code are looked for.
	for _, race := range strings.Split(gw.logs.String(), "WARNING: DATA RACE")[1:] {
		if m := racingAccess.FindAllStringSubmatch(race, -1); len(m) > 0 && strings.Contains(m[0][1]+m[len(m)-1][1], "frontdoor-dev/frontdoor/") {
			t.Errorf("the race detector reported a race in frontdoor:%s", race)
		}
	}
}

// racingAccess finds the function of each access a race report names.
var racingAccess = regexp.MustCompile(`(?:Read|Write) at 0x[0-9a-f]+ by goroutine \d+:\n\s+(\S+)\(`)
