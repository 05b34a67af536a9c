package scorecard

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// A journey name may hold a '.' (config.checkName allows letters, digits,
// '-', '_' and '.'): `frontdoor scorecard --journey support.v2` must send
// Prometheus queries it can parse. Each query is first run by a real
// Prometheus (which has no data: only the parse matters), then answered
// from the fake's series.
func TestOneJourneyWithADotInItsName(t *testing.T) {
	real := startRealPrometheus(t, "")

	fake := &fakePrometheus{answers: map[string][]series{
		"increase(frontdoor_requests_total": {
			be("support.v2", "care-team", "in-house", "", 100),
			be("support.v2", "nightdesk", "outsourced", "NightDesk BPO", 90),
		},
		"journey_backend:frontdoor_requests_errors:rate5m": {
			be("support.v2", "care-team", "in-house", "", 0),
			be("support.v2", "nightdesk", "outsourced", "NightDesk BPO", 0.01),
		},
	}}
	var refused []string
	checked := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r.ParseForm() //nolint:errcheck
		q := r.Form.Get("query")
		resp, err := http.PostForm(real+"/api/v1/query", url.Values{"query": {q}, "time": {r.Form.Get("time")}})
		if err != nil {
			t.Errorf("real prometheus: %v", err)
			return
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 {
			refused = append(refused, fmt.Sprintf("%s\n  -> %s", q, body))
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(resp.StatusCode)
			w.Write(body) //nolint:errcheck
			return
		}
		// The fake keys its journey filter on the unescaped name; the
		// one journey here is all it has.
		r.Form.Set("query", strings.ReplaceAll(q, `journey=~"`, `journey=~".*"`+"\x00"))
		fake.ServeHTTP(w, r)
	})
	_, err := Collect(context.Background(), Options{Prometheus: serve(t, checked), Range: "30d", End: end, Journey: "support.v2"})
	if err != nil || len(refused) > 0 {
		t.Fatalf("Collect: %v\nqueries Prometheus refused:\n%s", err, strings.Join(refused, "\n"))
	}
}

// startRealPrometheus runs the prometheus binary with the extra
// configuration appended (scrape configs, rule files) and returns its URL.
func startRealPrometheus(t *testing.T, extra string) string {
	t.Helper()
	bin, err := exec.LookPath("prometheus")
	if err != nil {
		t.Skip("no prometheus on PATH")
	}
	dir := t.TempDir()
	cfgFile := filepath.Join(dir, "prometheus.yml")
	if err := os.WriteFile(cfgFile, []byte("global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n"+extra), 0o600); err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	cmd := exec.Command(bin, "--config.file="+cfgFile, "--storage.tsdb.path="+filepath.Join(dir, "data"), "--web.listen-address="+addr)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() }) //nolint:errcheck
	real := "http://" + addr
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := http.Get(real + "/-/ready")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatal("prometheus not ready")
		}
		time.Sleep(200 * time.Millisecond)
	}

	return real
}
