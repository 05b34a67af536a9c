package caddymodule

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"html/template"
	"net"
	"net/http"
	"strings"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/frontdoor-dev/frontdoor/internal/handoff"
)

// The handoff of a customer's context to a vendor origin, OAuth's
// authorization-code flow between two hosts of one gateway:
//
//  1. A navigation on the origin without an origin session gets a state
//     cookie there (HttpOnly, holding a random state and the URL asked
//     for) and a redirect to handoffPath on the brand host with the
//     origin and the state.
//  2. For the browser's top-level navigation only (no script's fetch, no
//     frame), the brand host reads its own session cookie, mints a one-time code
//     in Redis bound to the state, the origin and the brand session (or to
//     nobody for an anonymous customer), and answers a page that posts
//     the code and state to callbackPath on the origin: in a form body the
//     code is in no URL, so in no access log, history or Referer.
//  3. The origin accepts the post only from a brand-host page, with the
//     state of its own state cookie; it redeems the code (once: GETDEL),
//     opens an origin session pointing at the brand session server-side
//     and redirects to the URL first asked for.
//
// A code minted for one browser's state is worthless in another browser,
// which holds another state cookie or none: that is what keeps one
// customer's link from signing another in (login CSRF). Every answer of
// the handoff says Referrer-Policy: no-referrer and Cache-Control: no-store.
const (
	handoffPath  = "/.well-known/frontdoor/handoff"
	callbackPath = "/.well-known/frontdoor/callback"
)

// Cookie names on a vendor origin; over TLS they carry the __Host- prefix,
// which makes the browser keep them host-only, Secure and on Path=/.
const (
	originSessionCookie = "fd-session"
	originStateCookie   = "fd-handoff"
)

// handoffTimeout bounds the Redis round trips of a handoff step: rarer
// than lookups, and a failure costs the customer a brand error page.
const handoffTimeout = time.Second

// stateMaxAge bounds how long a started handoff can be completed.
const stateMaxAge = 300

func originCookieName(r *http.Request, name string) string {
	if r.TLS != nil {
		return "__Host-" + name
	}
	return name
}

// originCookie sets or, with maxAge < 0, deletes one of frontdoor's
// cookies on an origin.
func originCookie(w http.ResponseWriter, r *http.Request, name, value string, maxAge int) {
	http.SetCookie(w, &http.Cookie{Name: originCookieName(r, name), Value: value, Path: "/", MaxAge: maxAge,
		HttpOnly: true, Secure: r.TLS != nil, SameSite: http.SameSiteLaxMode})
}

// serveHandoff answers the two handoff endpoints; it reports false for
// any other request.
func (h *Handler) serveHandoff(w http.ResponseWriter, r *http.Request, origin *originRoute) bool {
	switch {
	case h.handoffs == nil:
		return false
	case origin == nil && r.URL.Path == handoffPath:
		h.mintHandoff(w, r)
	case origin != nil && r.URL.Path == callbackPath:
		h.completeHandoff(w, r, origin)
	default:
		return false
	}
	return true
}

// handoffPage posts the code to the origin. Its one script is allowed by
// hash; without scripts the customer presses the button.
var handoffPage = template.Must(template.New("handoff").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="referrer" content="no-referrer"><title>{{.Brand}}</title></head>
<body><form method="post" action="{{.Action}}"><input type="hidden" name="code" value="{{.Code}}"><input type="hidden" name="state" value="{{.State}}"><noscript><button type="submit">Continue to {{.Brand}}</button></noscript></form>
<script>` + handoffScript + `</script></body></html>
`))

const handoffScript = `document.forms[0].submit()`

var handoffScriptHash = func() string {
	sum := sha256.Sum256([]byte(handoffScript))
	return "'sha256-" + base64.StdEncoding.EncodeToString(sum[:]) + "'"
}()

// mintHandoff is step 2, on the brand host.
func (h *Handler) mintHandoff(w http.ResponseWriter, r *http.Request) {
	requestID := newRequestID()
	noStore(w)
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		h.brandError(w, r, "", "", http.StatusMethodNotAllowed, requestID, nil)
		return
	}
	q := r.URL.Query()
	origin := h.origins[strings.ToLower(q.Get("origin"))]
	state := q.Get("state")
	if origin == nil || !handoff.WellFormed(state) {
		h.brandError(w, r, "", "", http.StatusBadRequest, requestID, nil)
		return
	}
	// Only the browser's top-level navigation gets a code: its document
	// no other page's script reads (a frame is refused by
	// frame-ancestors). A script on the brand host (a vendor kept there
	// with isolate off, a third-party script of the shop) could read a
	// code it fetched for a state the attacker started, and the attacker
	// would redeem it as the customer. Pages cannot set fetch metadata; a
	// request with none (an older browser, a tool) is served as before.
	if mode, dest := r.Header.Get("Sec-Fetch-Mode"), r.Header.Get("Sec-Fetch-Dest"); (mode != "" || dest != "") &&
		(mode != "navigate" || dest != "document") {
		if c := h.logger.Check(zapcore.DebugLevel, "handoff refused"); c != nil {
			c.Write(zap.String("origin", origin.host), zap.String("reason", "not a top-level navigation"),
				zap.String("request_id", requestID))
		}
		h.brandError(w, r, origin.journey.name, origin.backend.name, http.StatusForbidden, requestID, nil)
		return
	}
	brandSession := ""
	if id := sessionCookie(r, h.Session.Cookie); id != "" {
		cc := h.lookupSession(r, origin.journey, id)
		switch cc.state {
		case sessionFound:
			brandSession = id
		case sessionUnavailable:
			h.brandError(w, r, origin.journey.name, origin.backend.name, http.StatusServiceUnavailable, requestID,
				errors.New("handoff: customer context store unavailable"))
			return
		}
	}
	ctx, cancel := context.WithTimeout(r.Context(), handoffTimeout)
	defer cancel()
	code, err := h.handoffs.Mint(ctx, state, origin.host, brandSession)
	if err != nil {
		h.brandError(w, r, origin.journey.name, origin.backend.name, http.StatusServiceUnavailable, requestID,
			fmt.Errorf("handoff: %w", err))
		return
	}
	action := hostURL(r, origin.host) + callbackPath
	// frame-ancestors 'none': a page framing this one, a brand page a
	// vendor's script runs in included, could read the code from the
	// frame; the handoff is the top-level document's.
	w.Header().Set("Content-Security-Policy", "default-src 'none'; script-src "+handoffScriptHash+
		"; form-action "+action+"; base-uri 'none'; frame-ancestors 'none'")
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set(headerRequest, requestID)
	if r.Method == http.MethodHead {
		return
	}
	if err := handoffPage.Execute(w, map[string]string{"Brand": h.Brand, "Action": action, "Code": code, "State": state}); err != nil {
		h.logger.Debug("writing handoff page", zap.Error(err), zap.String("request_id", requestID))
	}
}

// completeHandoff is step 3, on the origin.
func (h *Handler) completeHandoff(w http.ResponseWriter, r *http.Request, origin *originRoute) {
	requestID := newRequestID()
	noStore(w)
	refuse := func(status int, reason string) {
		originCookie(w, r, originStateCookie, "", -1)
		if c := h.logger.Check(zapcore.DebugLevel, "handoff refused"); c != nil {
			c.Write(zap.String("journey", origin.journey.name), zap.String("backend", origin.backend.name),
				zap.String("reason", reason), zap.String("request_id", requestID))
		}
		h.brandError(w, r, origin.journey.name, origin.backend.name, status, requestID, nil)
	}
	if r.Method != http.MethodPost {
		refuse(http.StatusMethodNotAllowed, "not a POST")
		return
	}
	// Only the brand host's handoff page posts here, not a vendor page on
	// the origin or a page of another site. The page's no-referrer policy
	// makes its Origin "null", so fetch metadata tells where a browser's
	// post comes from; another origin, when named, must be the brand's.
	if o := r.Header.Get("Origin"); o != "" && o != "null" && o != hostURL(r, h.brandHost) {
		refuse(http.StatusForbidden, "posted from another origin")
		return
	}
	if site := r.Header.Get("Sec-Fetch-Site"); site != "" && site != "same-site" {
		refuse(http.StatusForbidden, "posted from "+site)
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), handoffTimeout)
	defer cancel()
	r.Body = http.MaxBytesReader(w, r.Body, 4096)
	if err := r.ParseForm(); err != nil {
		refuse(http.StatusBadRequest, "unreadable form")
		return
	}
	code, state := r.PostForm.Get("code"), r.PostForm.Get("state")
	cookie, err := r.Cookie(originCookieName(r, originStateCookie))
	if err != nil {
		refuse(http.StatusForbidden, "no state cookie")
		return
	}
	own, back, _ := strings.Cut(cookie.Value, ".")
	if !handoff.WellFormed(own) || subtle.ConstantTimeCompare([]byte(own), []byte(state)) != 1 {
		// Burn the code: it was posted in a browser that did not ask for it.
		h.handoffs.Redeem(ctx, code, own, origin.host) //nolint:errcheck // refused either way
		refuse(http.StatusForbidden, "state does not match this browser's")
		return
	}
	brandSession, err := h.handoffs.Redeem(ctx, code, state, origin.host)
	if errors.Is(err, handoff.ErrRefused) {
		refuse(http.StatusForbidden, "code refused")
		return
	}
	if err != nil {
		h.brandError(w, r, origin.journey.name, origin.backend.name, http.StatusServiceUnavailable, requestID, err)
		return
	}
	id, err := h.handoffs.Open(ctx, origin.host, brandSession)
	if err != nil {
		h.brandError(w, r, origin.journey.name, origin.backend.name, http.StatusServiceUnavailable, requestID, err)
		return
	}
	originCookie(w, r, originStateCookie, "", -1)
	originCookie(w, r, originSessionCookie, id, 0)
	target := "/"
	if p, err := base64.RawURLEncoding.DecodeString(back); err == nil {
		target = safePath(string(p))
	}
	w.Header().Set(headerRequest, requestID)
	http.Redirect(w, r, target, http.StatusSeeOther)
}

// hostURL is the scheme and authority of host on the listener the
// request came in on: the brand host and its origins share it.
func hostURL(r *http.Request, host string) string {
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	if _, port, err := net.SplitHostPort(r.Host); err == nil {
		host = net.JoinHostPort(host, port)
	}
	return scheme + "://" + host
}

// safePath keeps a path that the browser resolves on the current host:
// "//evil.example" or "/\evil.example" would leave it.
func safePath(p string) string {
	if !strings.HasPrefix(p, "/") || strings.HasPrefix(p, "//") || strings.HasPrefix(p, `/\`) {
		return "/"
	}
	return p
}
