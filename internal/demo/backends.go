// Package demo runs frontdoor with everything it needs on one machine: demo
// in-house and vendor backends, an embedded Redis-protocol server holding a
// demo customer, and the gateway in front of them.
package demo

import (
	"fmt"
	"html"
	"net"
	"net/http"
	"sort"
	"strings"
	"time"
)

// backend is one demo server: an in-house team or a vendor.
type backend struct {
	Name   string
	Title  string
	Vendor string // empty for in-house
	Color  string
	server *http.Server
	Addr   string
}

func (b *backend) start() error {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return fmt.Errorf("demo backend %s: %w", b.Name, err)
	}
	b.Addr = ln.Addr().String()
	b.server = &http.Server{Handler: b}
	go b.server.Serve(ln) //nolint:errcheck // closed on shutdown
	return nil
}

// ServeHTTP answers with a page that shows who answered and what frontdoor
// sent. Vendor pages behave like real vendors: they brand themselves in
// headers, redirect to their own address and set cookies for their domain,
// which is what frontdoor has to clean up.
func (b *backend) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if b.Vendor != "" {
		w.Header().Set("Server", b.Vendor+" Portal/3.1")
		w.Header().Set("X-Powered-By", "PHP/7.4")
		http.SetCookie(w, &http.Cookie{Name: "vendor_sid", Value: "v-123", Domain: "vendor.example", Path: "/"})
		if strings.HasSuffix(r.URL.Path, "/login") {
			http.Redirect(w, r, "http://"+b.Addr+"/track/welcome", http.StatusFound)
			return
		}
		if r.URL.Path == "/chat/stream" {
			// The vendor's chat hangs up on the customer: the stream ends
			// from its side, and frontdoor's rescue sends the customer to
			// the care team next.
			w.Header().Set("Content-Type", "text/event-stream")
			for _, line := range []string{"NightDesk: thanks for waiting", "NightDesk: please hold..."} {
				fmt.Fprintf(w, "data: %s\n\n", line)
				w.(http.Flusher).Flush()
				time.Sleep(time.Second)
			}
			return
		}
		if strings.HasSuffix(r.URL.Path, "/broken") {
			http.Error(w, b.Vendor+" internal error: stack trace at VendorCRM.java:42", http.StatusInternalServerError)
			return
		}
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	var rows []string
	for name, values := range r.Header {
		if strings.HasPrefix(name, "X-Frontdoor-") || name == "X-Request-Id" || name == "Cookie" {
			rows = append(rows, fmt.Sprintf("<tr><th>%s</th><td><code>%s</code></td></tr>",
				html.EscapeString(name), html.EscapeString(strings.Join(values, ", "))))
		}
	}
	sort.Strings(rows)
	owner := "in-house team"
	if b.Vendor != "" {
		owner = "outsourced to " + b.Vendor
	}
	fmt.Fprintf(w, `<!doctype html>
<html><head><title>%[1]s</title>
<style>body{font-family:sans-serif;margin:0}header{background:%[2]s;color:#fff;padding:1.5em}main{padding:1.5em}
th{text-align:left;padding-right:1em}code{word-break:break-all}</style></head>
<body><header><h1>%[1]s</h1><p>%[3]s &middot; backend <b>%[4]s</b> &middot; path <code>%[5]s</code></p></header>
<main><h2>What frontdoor sent this backend</h2><table>%[6]s</table></main>
</body></html>`, html.EscapeString(b.Title), b.Color, html.EscapeString(owner), html.EscapeString(b.Name),
		html.EscapeString(r.URL.Path), strings.Join(rows, "\n"))
}

// homePage is the brand's own site: whatever no journey claims.
func homePage(gateway string) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/demo/login", func(w http.ResponseWriter, r *http.Request) {
		id := SessionID
		if r.URL.Query().Get("customer") == "2" {
			id = SecondSessionID
		}
		http.SetCookie(w, &http.Cookie{Name: SessionCookie, Value: id, Path: "/", HttpOnly: true})
		http.Redirect(w, r, "/", http.StatusFound)
	})
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		loggedIn := "not logged in: <a href=\"/demo/login\">log in as the demo customer</a>"
		if c, err := r.Cookie(SessionCookie); err == nil && (c.Value == SessionID || c.Value == SecondSessionID) {
			loggedIn = "logged in as demo customer " + html.EscapeString(c.Value) + " (cookie " + SessionCookie + ")"
		}
		fmt.Fprintf(w, `<!doctype html><html><head><title>Acme Outdoor</title>
<style>body{font-family:sans-serif;margin:2em;max-width:48em}li{margin:.4em 0}</style></head>
<body><h1>Acme Outdoor</h1><p>The brand's own site, served by the next handler after frontdoor. You are %s.</p><ul>
<li><a href="/checkout">/checkout</a>: in-house shop</li>
<li><a href="/support">/support</a>: in-house care team in business hours, NightDesk BPO otherwise</li>
<li><a href="/track/order-1001">/track/order-1001</a>: outsourced to ShipCo</li>
<li><a href="/track/login">/track/login</a>: a vendor redirect, rewritten to this host</li>
<li><a href="/track/broken">/track/broken</a>: a vendor failure</li>
</ul><p>Gateway: %s</p></body></html>`, loggedIn, html.EscapeString(gateway))
	})
	return mux
}
