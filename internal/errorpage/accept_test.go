package errorpage

import "testing"

func TestPrefersJSON(t *testing.T) {
	for _, tc := range []struct {
		name   string
		accept []string
		json   bool
	}{
		{"no header", nil, false},
		{"empty header", []string{""}, false},
		{"anything", []string{"*/*"}, false},
		{"curl", []string{"*/*"}, false},
		{"json", []string{"application/json"}, true},
		{"problem json", []string{"application/problem+json"}, true},
		{"vendor json with q", []string{"application/vnd.api+json;q=0.9"}, true},
		{"upper case", []string{"APPLICATION/JSON"}, true},
		{"html", []string{"text/html"}, false},
		{"browser", []string{"text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,*/*;q=0.8"}, false},
		{"API client naming json before a wildcard", []string{"application/json, text/plain, */*"}, true},
		{"both named is a tie for HTML", []string{"application/json, text/html"}, false},
		{"html lower q", []string{"text/html;q=0.5, application/json"}, true},
		{"json lower q", []string{"application/json;q=0.5, text/html"}, false},
		{"json refused", []string{"application/json;q=0, */*"}, false},
		{"html refused", []string{"text/html;q=0, */*"}, true},
		{"wildcard higher than json", []string{"*/*;q=1, application/json;q=0.9"}, false},
		{"wildcard lower than json", []string{"*/*;q=0.8, application/json;q=0.9"}, true},
		{"application wildcard", []string{"application/*"}, true},
		{"text wildcard", []string{"text/*"}, false},
		{"neither acceptable", []string{"image/png"}, false},
		{"q in upper case", []string{"application/json; Q=0.1, text/html;q=0.05"}, true},
		{"parameters before q", []string{"application/json;charset=utf-8;q=0.8, text/html;q=0.7"}, true},
		{"extension after q", []string{"text/html;q=0.1;ext=1, application/json;q=0.2"}, true},
		{"bad q ignored", []string{"application/json;q=abc, text/html;q=0.1"}, false},
		{"q above 1 ignored", []string{"application/json;q=2"}, false},
		{"NaN q ignored", []string{"application/json;q=NaN"}, false},
		{"Java default", []string{"text/html, image/gif, image/jpeg, *; q=.2, */*; q=.2"}, false},
		{"bare star", []string{"*"}, false},
		{"several header lines", []string{"text/html;q=0.1", "application/json"}, true},
		{"json lookalike", []string{"application/jsonx, text/html;q=0.1"}, false},
		{"not a media type", []string{"json"}, false},
		{"wildcard type with subtype", []string{"*/json"}, false},
		{"spaces", []string{"  application/json  ;  q=0.9  ,text/html ; q=0.8"}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := prefersJSON(tc.accept); got != tc.json {
				t.Fatalf("prefersJSON(%q) = %v; want %v", tc.accept, got, tc.json)
			}
		})
	}
}
