package e2e

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
)

// goroutines reads the gateway's goroutine count from Caddy's admin pprof.
func (g *gateway) goroutines(t *testing.T) int {
	t.Helper()
	resp, err := http.Get("http://" + g.AdminAddr + "/debug/pprof/goroutine?debug=1")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	line, _ := bufio.NewReader(resp.Body).ReadString('\n')
	var n int
	if _, err := fmt.Sscanf(line, "goroutine profile: total %d", &n); err != nil {
		t.Fatalf("reading goroutine count from %q: %v", line, err)
	}
	return n
}

// dyingVendor answers an HTML page, gzip or plain, announcing its whole
// length, and hangs up a third of the way through the body.
func dyingVendor(w http.ResponseWriter, r *http.Request) {
	page := []byte("<html><body>" + strings.Repeat("<p>a vendor page that never ends</p>", 2000) + "</body></html>")
	encoding := ""
	if strings.HasSuffix(r.URL.Path, "/gzip") {
		var buf bytes.Buffer
		zw := gzip.NewWriter(&buf)
		zw.Write(page) //nolint:errcheck
		zw.Close()
		page, encoding = buf.Bytes(), "Content-Encoding: gzip\r\n"
	}
	conn, rw, err := http.NewResponseController(w).Hijack()
	if err != nil {
		return
	}
	defer conn.Close()
	fmt.Fprintf(rw, "HTTP/1.1 200 OK\r\nContent-Type: text/html\r\n%sContent-Length: %d\r\n\r\n", encoding, len(page))
	rw.Write(page[:len(page)/3]) //nolint:errcheck
	rw.Flush()                   //nolint:errcheck
}

// TestVendorDyingMidBodyDoesNotCrashGateway: 1,000 requests, sixteen at
// a time, to gzip and plain HTML vendors that die mid-body. The gateway
// survives, leaves no goroutine behind, and counts every attempt.
func TestVendorDyingMidBodyDoesNotCrashGateway(t *testing.T) {
	vendor := startBackend(t, "vendor", dyingVendor)
	inhouse := startBackend(t, "inhouse", nil)
	gw := brandSite(t, vendor.URL, inhouse.URL, "")
	do(t, "GET", gw.URL+"/own/warm", nil, nil)
	time.Sleep(500 * time.Millisecond)
	baseline := gw.goroutines(t)

	const total, concurrent = 1000, 16
	var wg sync.WaitGroup
	next := make(chan int)
	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{DisableCompression: true, MaxIdleConnsPerHost: concurrent}}
	for range concurrent {
		wg.Go(func() {
			for i := range next {
				path := "/v/plain"
				if i%2 == 0 {
					path = "/v/gzip"
				}
				req, _ := http.NewRequest("GET", gw.URL+path, nil)
				req.Header.Set("Accept-Encoding", "gzip")
				resp, err := client.Do(req)
				if err == nil {
					io.Copy(io.Discard, resp.Body) //nolint:errcheck // cut short, as it should be
					resp.Body.Close()
				}
			}
		})
	}
	for i := range total {
		next <- i
	}
	close(next)
	wg.Wait()
	client.CloseIdleConnections()

	if resp, body := do(t, "GET", gw.URL+"/own/after", nil, nil); resp.StatusCode != 200 {
		t.Fatalf("gateway after the dying vendor: %d %s", resp.StatusCode, body)
	}
	if gw.cmd.ProcessState != nil || strings.Contains(gw.logs.String(), "SIGSEGV") {
		t.Fatalf("gateway died:\n%s", gw.logs.String())
	}
	var counted float64
	for _, code := range []string{"200", "502"} {
		v, _ := metricValue(gw.metrics(t), `frontdoor_requests_total{backend="shipco",code="`+code+`",journey="vendor",owner="outsourced",vendor="ShipCo"}`)
		counted += v
	}
	if counted != total {
		t.Errorf("frontdoor_requests_total counted %v of %d attempts", counted, total)
	}
	waitFor(t, 15*time.Second, func() error {
		if n := gw.goroutines(t); n > baseline+5 {
			return fmt.Errorf("%d goroutines, %d before the dying vendor", n, baseline)
		}
		return nil
	})
}
