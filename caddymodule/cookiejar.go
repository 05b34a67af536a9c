package caddymodule

import (
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/frontdoor-dev/frontdoor/config"
	"github.com/frontdoor-dev/frontdoor/internal/cookieline"
)

// Vendor cookie jars.
//
// An outsourced backend shares the brand's host, so every cookie it sets
// would be the brand's: it could plant, overwrite or expire the brand's
// session cookie, its cookies would reach every other backend, and enough
// of them would lock the customer out of the brand site (a request over
// Caddy's header limit) or make the browser evict the brand's session
// cookie. Instead each cookie a vendor sets is stored under a name of that
// backend's jar,
//
//	fd-jar~<journey>~<backend>~<name>    (__Secure- in front for a prefixed name)
//
// scoped to the journey's paths, with a capped lifetime, and within the
// jar's budget. Journey and backend names cannot hold '~', so no pair of
// them can spell another's jar. Each outsourced backend receives only its
// own jar, under the names it set, plus the customer's cookies that are
// neither the brand's nor in a jar. In-house backends are the brand: they
// receive the customer's cookies as sent, less every vendor's jar. A
// vendor can therefore never set a brand cookie or another vendor's, by
// construction, whatever names it chooses.

// jarPrefix starts the stored name of every cookie of a vendor's jar;
// legacyJarPrefix started them before jars were named by journey, and such
// cookies are expired wherever they are seen.
const (
	jarPrefix       = "fd-jar~"
	legacyJarPrefix = "fd-jar."
)

// cookieNamePrefixes are the prefixes browsers give meaning to.
var cookieNamePrefixes = []string{"__Host-", "__Secure-"}

// splitCookiePrefix separates a __Host- or __Secure- prefix, matched in any
// case as browsers now do, from the rest of a cookie name.
func splitCookiePrefix(name string) (prefix, rest string) {
	for _, p := range cookieNamePrefixes {
		if len(name) >= len(p) && strings.EqualFold(name[:len(p)], p) {
			return name[:len(p)], name[len(p):]
		}
	}
	return "", name
}

// jarName is the name a backend's cookie is stored under on the brand
// host. A name with a browser prefix keeps the browser's Secure
// requirement through a __Secure- in front; __Host- itself cannot be kept,
// since it demands Path=/ and the jar scopes cookies to the journey.
func jarName(jarID, name string) string {
	if prefix, _ := splitCookiePrefix(name); prefix != "" {
		return "__Secure-" + jarPrefix + jarID + "~" + name
	}
	return jarPrefix + jarID + "~" + name
}

// jarOf tells whose jar a stored cookie name belongs to ("journey~backend")
// and the name its backend set.
func jarOf(name string) (jarID, original string, ok bool) {
	_, rest := splitCookiePrefix(name)
	body, ok := strings.CutPrefix(rest, jarPrefix)
	if !ok {
		return "", "", false
	}
	journey, rest, ok1 := strings.Cut(body, "~")
	backend, original, ok2 := strings.Cut(rest, "~")
	if !ok1 || !ok2 || journey == "" || backend == "" || original == "" {
		return "", "", false
	}
	return body[:len(journey)+1+len(backend)], original, true
}

// isJarName reports whether a cookie name is in the jars' name space, well
// formed or not, of today's jars or earlier ones.
func isJarName(name string) bool {
	_, rest := splitCookiePrefix(name)
	return strings.HasPrefix(rest, jarPrefix) || strings.HasPrefix(rest, legacyJarPrefix)
}

// hasJarCookie reports cheaply whether Cookie lines may hold a jar cookie.
func hasJarCookie(lines []string) bool {
	for _, line := range lines {
		if strings.Contains(line, "fd-jar") {
			return true
		}
	}
	return false
}

// cookieJar is an outsourced backend's jar, compiled from its config.
type cookieJar struct {
	id       string   // journey~backend
	paths    []string // the Path every stored cookie gets: the journey's ("/" on the vendor's origin)
	onOrigin bool     // the vendor's origin: cookies keep their names, all of it is the vendor's
	budget   int      // the most cookies it puts in the browser
	maxNames int      // the vendor's names it holds: the budget over the paths each is stored at
	maxBytes int
	maxAge   time.Duration
	now      func() time.Time
}

// Why a vendor cookie was not stored; metric label values.
const (
	dropInvalid = "invalid" // no name a browser and a jar can both keep
	dropCount   = "count"   // the jar holds its most cookies
	dropBytes   = "bytes"   // the jar's names and values would pass its bytes
	dropPath    = "path"    // set on a path the browser does not send the jar on: what it holds is unknown there
)

// maxRequestJarBytes bounds the cookies of all jars one request carries
// together: jars share paths (vendors taking turns on one journey, a
// journey of "/"), and each within its own budget they could pass Caddy's
// 16 KiB header limit together, so that every page there would be refused
// (431). A cookie that would take them over it is not stored. Half the
// limit leaves the rest to the brand's cookies and the other headers.
const maxRequestJarBytes = 8 << 10

// dropReasons are all the reasons, each a counter of every backend's.
var dropReasons = []string{dropInvalid, dropCount, dropBytes, dropPath}

func newCookieJar(j *config.Journey, b *config.Backend) *cookieJar {
	jar := &cookieJar{id: j.Name + "~" + b.Name, paths: cookiePaths(j.Paths), now: time.Now}
	jar.budget, jar.maxBytes, jar.maxAge = b.Cookies.Limits()
	jar.maxNames = max(1, jar.budget/len(jar.paths))
	return jar
}

// forOrigin is the jar of the backend on its own origin, under the same
// budget: a vendor origin shares the browser's cookies of the site (the
// registrable domain) with the brand host, so cookies set there can make
// the browser evict the brand's as well. There the cookies keep the names
// the vendor set, host-only, at Path=/ (so that every request shows all
// the browser holds, which the budget is counted from).
func (jar *cookieJar) forOrigin() *cookieJar {
	o := *jar
	o.onOrigin, o.paths, o.maxNames = true, []string{"/"}, jar.budget
	return &o
}

// storedName is the name a cookie the backend set is stored under.
func (jar *cookieJar) storedName(name string) string {
	if jar.onOrigin {
		return name
	}
	return jarName(jar.id, name)
}

// sentOn reports whether the browser sends the jar's cookies on a request
// for path, as the browser writes it (escaped): it path-matches one of the
// jar's paths, letter case included. Caddy routes /SUPPORT to a journey of
// /support*, but the browser sends it none of the jar's Path=/support
// cookies, so there the jar looks empty whatever it holds.
func (jar *cookieJar) sentOn(path string) bool {
	for _, p := range jar.paths {
		if pathMatch(path, p) {
			return true
		}
	}
	return false
}

// cookiePaths are the cookie paths that cover a journey's path patterns:
// each pattern's literal start, up to its first wildcard ("/support*" is
// /support, "/help/*" /help/). A pattern that starts with a wildcard
// covers every path, and so does "/".
func cookiePaths(patterns []string) []string {
	var paths []string
	for _, p := range patterns {
		prefix, _, _ := strings.Cut(p, "*")
		if prefix == "" || prefix[0] != '/' {
			return []string{"/"}
		}
		paths = append(paths, prefix)
	}
	// A path that another covers (by RFC 6265's path-match) adds nothing.
	kept := paths[:0]
	for i, p := range paths {
		covered := false
		for k, q := range paths {
			if k != i && pathMatch(p, q) && (p != q || k < i) {
				covered = true
				break
			}
		}
		if !covered {
			kept = append(kept, p)
		}
	}
	return kept
}

// pathMatch is RFC 6265's path-match: whether a cookie of path cookiePath
// is sent on requests for requestPath.
func pathMatch(requestPath, cookiePath string) bool {
	if !strings.HasPrefix(requestPath, cookiePath) {
		return false
	}
	return len(requestPath) == len(cookiePath) || strings.HasSuffix(cookiePath, "/") || requestPath[len(cookiePath)] == '/'
}

// jarUsage is what a customer's browser holds in one backend's jar, as its
// request shows: the cookies the jar keeps (within budget) and those over
// it, which the response expires.
type jarUsage struct {
	held   []jarEntry
	others int      // bytes of the other jars' cookies the request carries
	excess []string // stored names over budget
	// unseen: the request's path is one the browser does not send the jar
	// on, so what it holds is unknown and nothing new is stored.
	unseen bool
}

type jarEntry struct {
	name string // as the backend set it
	size int    // of the stored name and value
}

func (u jarUsage) bytes() int {
	n := 0
	for _, e := range u.held {
		n += e.size
	}
	return n
}

// backendCookies returns the Cookie header a backend receives, built from
// the customer's: for an outsourced backend (jar non-nil) its own jar under
// the names it set, within the jar's budget, and the customer's cookies
// that are neither the brand's nor in a jar (a jar cookie wins over a
// customer cookie of the same name); for an in-house backend everything
// but the jars. It returns the customer's lines themselves when nothing is
// to change, and nil when no cookie is left; and what the jar holds.
func backendCookies(lines []string, jar *cookieJar, brand brandCookies) ([]string, jarUsage) {
	var usage jarUsage
	if !hasJarCookie(lines) && (jar == nil || !hasAnyCookie(lines, brand)) {
		return lines, usage
	}
	if jar != nil {
		for name, part := range cookieline.Parts(lines) {
			id, original, ok := jarOf(name)
			if !ok || id != jar.id {
				if isJarName(name) {
					usage.others += len(part)
				}
				continue
			}
			usage.hold(jar, original, name, len(part))
		}
	}
	var out strings.Builder
	out.Grow(linesLen(lines)) // what is kept is at most what came, in one allocation
	add := func(parts ...string) {
		if out.Len() > 0 {
			out.WriteString("; ")
		}
		for _, p := range parts {
			out.WriteString(p)
		}
	}
	for name, part := range cookieline.Parts(lines) {
		if id, original, ok := jarOf(name); ok {
			if jar != nil && id == jar.id && usage.holdsStored(name, original) {
				add(original, part[len(name):])
			}
			continue
		}
		if isJarName(name) {
			continue // an earlier jar, or a malformed jar name: nobody's
		}
		if jar != nil && (isBrandCookie(part, brand) || usage.holds(name)) {
			continue
		}
		add(part)
	}
	if out.Len() == 0 {
		return nil, usage
	}
	return []string{out.String()}, usage
}

func (u jarUsage) holds(original string) bool {
	for _, e := range u.held {
		if e.name == original {
			return true
		}
	}
	return false
}

// hold counts one of the jar's cookies the request carries (the name its
// backend set, the name it is stored under, the size of its pair): held
// while the jar's budget has room and the name is not held already, and
// otherwise over the budget, to be expired. It reports whether it is held.
func (u *jarUsage) hold(jar *cookieJar, original, stored string, size int) bool {
	if len(u.held) >= jar.maxNames || u.bytes()+size > jar.maxBytes || u.holds(original) {
		u.excess = append(u.excess, stored)
		return false
	}
	u.held = append(u.held, jarEntry{original, size})
	return true
}

// holdsStored reports whether a stored cookie is within budget (not one of
// the excess, which may share its original name with a kept one).
func (u jarUsage) holdsStored(stored, original string) bool {
	for _, x := range u.excess {
		if x == stored {
			return false
		}
	}
	return u.holds(original)
}

// store moves the cookies of a vendor's response into its jar: renamed,
// host-only (Domain removed), scoped to the journey's paths, lived at most
// the jar's max age, within its budget given what the browser holds
// already. A cookie the jar cannot keep is dropped and counted in stats.
// Cookies the browser holds over budget are expired. The first brandLines
// lines of Set-Cookie were in the response before the vendor answered
// (the brand's own, frontdoor's expiring of stray jars): they pass as
// they are.
func (jar *cookieJar) store(h http.Header, brandLines int, inUse jarUsage, stats *backendStats) {
	lines := h["Set-Cookie"]
	brandLines = min(brandLines, len(lines))
	if len(lines) == brandLines && len(inUse.excess) == 0 {
		return
	}
	now := jar.now()
	held := append([]jarEntry(nil), inUse.held...)
	out := slices.Clip(lines[:brandLines]) // appending copies: the brand's lines stay as they were
	for _, line := range lines[brandLines:] {
		c, ok := parseSetCookie(line, now)
		if _, rest := splitCookiePrefix(c.name); !ok || rest == "" || !validCookieName(c.name) || jar.onOrigin && isOriginCookie(c.name) {
			stats.cookieDropped(dropInvalid)
			continue // no name, only a prefix ("__Host-"), or frontdoor's own: nothing to keep it under
		}
		stored := jar.storedName(c.name)
		i := indexEntry(held, c.name)
		if !c.expires.IsZero() && !c.expires.After(now) {
			if i >= 0 {
				held = append(held[:i], held[i+1:]...)
			}
			out = jar.expire(out, stored)
			continue
		}
		if inUse.unseen {
			stats.cookieDropped(dropPath)
			continue
		}
		size := len(stored) + 1 + len(c.value)
		used, count := 0, len(held)
		for k, e := range held {
			if k != i {
				used += e.size
			}
		}
		if i < 0 {
			count++
		}
		switch {
		case count > jar.maxNames:
			stats.cookieDropped(dropCount)
			continue
		case used+size > jar.maxBytes || size > maxCookiePair || inUse.others+used+size > maxRequestJarBytes:
			stats.cookieDropped(dropBytes)
			continue
		}
		if i >= 0 {
			held[i].size = size
		} else {
			held = append(held, jarEntry{c.name, size})
		}
		maxAge := ""
		if !c.expires.IsZero() {
			lifetime := min(c.expires.Sub(now), jar.maxAge)
			maxAge = "; Max-Age=" + strconv.FormatInt(int64(lifetime/time.Second), 10)
		}
		attrs := ""
		if len(c.attrs) > 0 {
			attrs = "; " + strings.Join(c.attrs, "; ")
		}
		for _, path := range jar.paths {
			out = append(out, stored+"="+c.value+"; Path="+path+maxAge+attrs)
		}
	}
	for _, name := range inUse.excess {
		out = jar.expire(out, name)
	}
	if len(out) == 0 {
		delete(h, "Set-Cookie")
		return
	}
	h["Set-Cookie"] = out
}

func indexEntry(entries []jarEntry, name string) int {
	for i, e := range entries {
		if e.name == name {
			return i
		}
	}
	return -1
}

// expire adds the lines that delete a stored cookie at each of the jar's
// paths.
func (jar *cookieJar) expire(out []string, stored string) []string {
	for _, path := range jar.paths {
		out = append(out, expiringCookie(stored, path))
	}
	return out
}

// expiringCookie is the Set-Cookie line that deletes a cookie of that name
// and path.
func expiringCookie(name, path string) string {
	line := name + "=; Path=" + path + "; Max-Age=0"
	if prefix, _ := splitCookiePrefix(name); prefix != "" {
		line += "; Secure"
	}
	return line
}

// maxStrayDepth bounds the paths at which a stray jar cookie is expired,
// and maxStrayNames how many stray names one response expires: a Cookie
// header of thousands of them gets a bounded answer, and the rest go on
// the customer's next requests.
const (
	maxStrayDepth = 8
	maxStrayNames = 8
)

// expireStrayJars deletes the jar cookies a customer's browser still holds
// that no backend of this config owns: cookies of earlier jars (before jars
// were scoped to journeys, a vendor could fill them with Path=/ until every
// brand page was refused) and of backends since removed. A cookie is sent
// for every ancestor of its path, so it is deleted at each ancestor of the
// request's path: one of them is its own.
func expireStrayJars(w http.Header, lines []string, jars map[string]bool, u *url.URL) {
	if !hasJarCookie(lines) {
		return
	}
	var stray [maxStrayNames]string
	n := 0
	for name := range cookieline.Parts(lines) {
		if !isJarName(name) || slices.Contains(stray[:n], name) {
			continue
		}
		if id, _, ok := jarOf(name); ok && jars[id] {
			continue
		}
		stray[n] = name
		if n++; n == len(stray) {
			break
		}
	}
	if n == 0 {
		return
	}
	paths := cookieline.MatchingPaths(u.EscapedPath(), 2*maxStrayDepth)
	for _, name := range stray[:n] {
		for _, path := range paths {
			w.Add("Set-Cookie", expiringCookie(name, path))
		}
	}
}

// validCookieName reports whether a name is an RFC 6265 cookie-name: an
// HTTP token.
func validCookieName(name string) bool {
	if name == "" {
		return false
	}
	for i := 0; i < len(name); i++ {
		if !isTokenChar(name[i]) {
			return false
		}
	}
	return true
}

func isTokenChar(c byte) bool {
	switch {
	case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		return true
	}
	return strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0
}

// cookiesFor is the Cookie header a backend receives: on its origin the
// customer's cookies there less the brand's and frontdoor's own, which
// are the vendor's own; elsewhere its jar (backendCookies).
func (h *Handler) cookiesFor(lines []string, b *backendRoute) ([]string, jarUsage) {
	if !b.onOrigin {
		return backendCookies(lines, b.response.jar, h.vendorCookies)
	}
	jar := b.response.jar
	var usage jarUsage
	var out strings.Builder
	for name, part := range cookieline.Parts(lines) {
		if isBrandCookie(part, h.vendorCookies) || isOriginCookie(name) {
			continue
		}
		if !usage.hold(jar, name, name, len(part)) {
			continue // over the budget: expired, not sent
		}
		if out.Len() > 0 {
			out.WriteString("; ")
		}
		out.WriteString(part)
	}
	if out.Len() == 0 {
		return nil, usage
	}
	return []string{out.String()}, usage
}

// linesLen is the length of header lines joined by "; ".
func linesLen(lines []string) int {
	n := 2 * max(len(lines)-1, 0)
	for _, l := range lines {
		n += len(l)
	}
	return n
}

// hasAnyCookie reports whether a Cookie header holds one of the brand's
// cookies (isBrandCookie).
func hasAnyCookie(lines []string, brand brandCookies) bool {
	for _, part := range cookieline.Parts(lines) {
		if isBrandCookie(part, brand) {
			return true
		}
	}
	return false
}

// isBrandCookie reports whether a "name=value" part of a Cookie header is,
// or carries, one of the brand's cookies as some vendor's parser reads
// it: under another spelling of its name, or after a ',' or a space in
// another cookie's value (cookieline.Names). Such a part never reaches a
// vendor.
func isBrandCookie(part string, brand brandCookies) bool {
	for name := range cookieline.Names(part) {
		if name != "" && brand.has(name) { // the empty parts between two ';' name nothing
			return true
		}
	}
	return false
}

// brandCookies are the canonical names (cookieline.Canonical) of the
// brand's cookies, which isBrandCookie reads for every cookie of every
// request to a vendor: a handful, so a slice, which is read faster than a
// map is ranged over.
type brandCookies []string

// brandCookieNames is the brandCookies of the given cookie names.
func brandCookieNames(names ...string) brandCookies {
	set := make(brandCookies, 0, len(names))
	for _, n := range names {
		if c := cookieline.Canonical(n); !set.has(c) {
			set = append(set, c)
		}
	}
	return set
}

// has reports whether a canonical cookie name is one of the brand's, in
// any letter case (ASP.NET Core reads names so).
func (b brandCookies) has(name string) bool {
	for _, c := range b {
		if strings.EqualFold(name, c) {
			return true
		}
	}
	return false
}

// isOriginCookie reports whether a cookie name is one of frontdoor's on
// an origin, with or without a prefix, in any case: such cookies never
// reach the vendor and the vendor cannot set them.
func isOriginCookie(name string) bool {
	_, rest := splitCookiePrefix(name)
	return strings.EqualFold(rest, originSessionCookie) || strings.EqualFold(rest, originStateCookie)
}
