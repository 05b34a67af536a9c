package caddymodule

import (
	"encoding/json"
	"reflect"
	"testing"
)

func TestWithEdgeTransport(t *testing.T) {
	const waits = `"response_header_timeout":10000000000,"write_timeout":10000000000,"max_response_header_size":65536`
	cases := []struct {
		name string
		in   string
		want string // "" means returned unchanged
	}{
		{"no transport gets an http one with the edge pool and waits",
			`{"handler":"reverse_proxy","upstreams":[{"dial":"127.0.0.1:9001"}]}`,
			`{"handler":"reverse_proxy","upstreams":[{"dial":"127.0.0.1:9001"}],
			  "transport":{"protocol":"http","keep_alive":{"max_idle_conns_per_host":512},` + waits + `}}`},
		{"http transport keeps its other settings",
			`{"handler":"reverse_proxy","transport":{"protocol":"http","dial_timeout":3000000000,"tls":{}}}`,
			`{"handler":"reverse_proxy","transport":{"protocol":"http","dial_timeout":3000000000,"tls":{},
			  "keep_alive":{"max_idle_conns_per_host":512},` + waits + `}}`},
		{"other keep-alive settings kept",
			`{"handler":"reverse_proxy","transport":{"protocol":"http","keep_alive":{"max_idle_conns":100,"idle_timeout":60000000000}}}`,
			`{"handler":"reverse_proxy","transport":{"protocol":"http","keep_alive":{"max_idle_conns":100,"idle_timeout":60000000000,"max_idle_conns_per_host":512},` + waits + `}}`},
		{"null keep-alive",
			`{"handler":"reverse_proxy","transport":{"protocol":"http","keep_alive":null}}`,
			`{"handler":"reverse_proxy","transport":{"protocol":"http","keep_alive":{"max_idle_conns_per_host":512},` + waits + `}}`},
		// What the user set, even to zero, is theirs.
		{"user pool kept",
			`{"handler":"reverse_proxy","transport":{"protocol":"http","keep_alive":{"max_idle_conns_per_host":8}}}`,
			`{"handler":"reverse_proxy","transport":{"protocol":"http","keep_alive":{"max_idle_conns_per_host":8},` + waits + `}}`},
		{"user waits kept, zero too",
			`{"handler":"reverse_proxy","transport":{"protocol":"http","keep_alive":{"max_idle_conns_per_host":0},"response_header_timeout":0,"write_timeout":"30s","max_response_header_size":1048576}}`,
			`{"handler":"reverse_proxy","transport":{"protocol":"http","keep_alive":{"max_idle_conns_per_host":0},"response_header_timeout":0,"write_timeout":"30s","max_response_header_size":1048576}}`},
		// Other transports have no such pool.
		{"fastcgi untouched",
			`{"handler":"reverse_proxy","transport":{"protocol":"fastcgi","root":"/srv"}}`, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := editProxy(json.RawMessage(c.in), edgeTransport)
			if err != nil {
				t.Fatal(err)
			}
			if c.want == "" {
				if string(got) != c.in {
					t.Errorf("changed to %s", got)
				}
				return
			}
			var gotV, wantV any
			if err := json.Unmarshal(got, &gotV); err != nil {
				t.Fatalf("result is not JSON: %v: %s", err, got)
			}
			if err := json.Unmarshal([]byte(c.want), &wantV); err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(gotV, wantV) {
				t.Errorf("got  %s\nwant %s", got, c.want)
			}
		})
	}
}

func TestWithEdgeTransportErrors(t *testing.T) {
	for _, in := range []string{
		``,
		`{`,
		`[]`,
		`null`,
		`{"handler":"reverse_proxy","transport":"http"}`,
	} {
		if got, err := editProxy(json.RawMessage(in), edgeTransport); err == nil {
			t.Errorf("editProxy(%s, edgeTransport) = %s, want an error", in, got)
		}
	}
}

func TestWithPassiveHealth(t *testing.T) {
	got, err := editProxy(json.RawMessage(`{"handler":"reverse_proxy","upstreams":[{"dial":"127.0.0.1:1"}]}`), passiveHealth)
	if err != nil {
		t.Fatal(err)
	}
	var v struct {
		HealthChecks struct {
			Passive struct {
				FailDuration string `json:"fail_duration"`
				MaxFails     int    `json:"max_fails"`
			} `json:"passive"`
		} `json:"health_checks"`
		Upstreams []any `json:"upstreams"`
	}
	if err := json.Unmarshal(got, &v); err != nil {
		t.Fatal(err)
	}
	if p := v.HealthChecks.Passive; p.FailDuration != "10s" || p.MaxFails != 5 || len(v.Upstreams) != 1 {
		t.Errorf("got %s", got)
	}
	// The user's own health checks, active or passive, are left alone.
	for _, in := range []string{
		`{"handler":"reverse_proxy","health_checks":{"active":{"uri":"/health"}}}`,
		`{"handler":"reverse_proxy","health_checks":{"passive":{"fail_duration":"1m"}}}`,
	} {
		got, err := editProxy(json.RawMessage(in), passiveHealth)
		if err != nil || string(got) != in {
			t.Errorf("editProxy(%s, passiveHealth) = %s, %v", in, got, err)
		}
	}
	if _, err := editProxy(json.RawMessage(`[`), passiveHealth); err == nil {
		t.Error("accepted broken JSON")
	}
}
