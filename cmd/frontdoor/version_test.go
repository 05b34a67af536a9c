package main

import (
	"runtime/debug"
	"testing"
)

func TestVersionFromBuildInfo(t *testing.T) {
	vcs := func(rev, modified string) []debug.BuildSetting {
		return []debug.BuildSetting{{Key: "vcs", Value: "git"}, {Key: "vcs.revision", Value: rev}, {Key: "vcs.modified", Value: modified}}
	}
	cases := []struct {
		name string
		bi   *debug.BuildInfo
		want string
	}{
		{"tagged module", &debug.BuildInfo{Main: debug.Module{Version: "v1.4.0"}}, "v1.4.0"},
		{"pseudo-version from the checkout", &debug.BuildInfo{Main: debug.Module{Version: "v0.0.0-20261129193439-33c6f0470d44+dirty"}},
			"v0.0.0-20261129193439-33c6f0470d44+dirty"},
		{"devel with a revision", &debug.BuildInfo{Main: debug.Module{Version: "(devel)"}, Settings: vcs("33c6f0470d44c5df60aa011c9a0fb68e4b8c0594", "false")},
			"(devel) 33c6f0470d44"},
		{"devel with local changes", &debug.BuildInfo{Main: debug.Module{Version: "(devel)"}, Settings: vcs("33c6f0470d44c5df60aa011c9a0fb68e4b8c0594", "true")},
			"(devel) 33c6f0470d44+dirty"},
		{"no version control", &debug.BuildInfo{Main: debug.Module{Version: "(devel)"}}, "(devel)"},
		{"no build info", nil, "unknown"},
	}
	for _, c := range cases {
		if got := version(c.bi); got != c.want {
			t.Errorf("%s: %q, want %q", c.name, got, c.want)
		}
	}
}
