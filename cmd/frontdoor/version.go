package main

import (
	"runtime/debug"

	"github.com/caddyserver/caddy/v2"
)

// version and --version print frontdoor's version beside Caddy's, e.g.
// "frontdoor v1.4.0, Caddy v2.11.9 h1:…". CustomVersion is Caddy's own
// hook for builds that embed it: Caddy prepends it to its full version.
func init() {
	bi, _ := debug.ReadBuildInfo()
	caddy.CustomVersion = "frontdoor " + version(bi) + ", Caddy"
}

// version is frontdoor's version as the build recorded it: the module
// version (a tag, or a pseudo-version Go derives from the checkout's
// commit), else "(devel)" with the commit's revision when the build
// recorded one (with "+dirty" for uncommitted changes), else "(devel)".
func version(bi *debug.BuildInfo) string {
	if bi == nil {
		return "unknown"
	}
	v := bi.Main.Version
	if v == "" {
		v = "(devel)"
	}
	if v != "(devel)" {
		return v
	}
	var revision, dirty string
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			revision = s.Value
		case "vcs.modified":
			if s.Value == "true" {
				dirty = "+dirty"
			}
		}
	}
	if revision == "" {
		return v
	}
	if len(revision) > 12 {
		revision = revision[:12]
	}
	return v + " " + revision + dirty
}
