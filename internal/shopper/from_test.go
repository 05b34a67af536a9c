package shopper

import (
	"net/netip"
	"testing"
)

// randomIn takes addresses of the range only, never an IPv4 network's
// own address or broadcast (the first and last of a range of four or
// more), and spreads over it.
func TestRandomIn(t *testing.T) {
	for _, tc := range []struct {
		prefix   string
		distinct int // at least, of 2000 draws
		avoid    []string
	}{
		{"203.0.113.0/24", 200, []string{"203.0.113.0", "203.0.113.255"}},
		{"203.0.113.77/24", 200, []string{"203.0.113.0", "203.0.113.255"}}, // a host address names its range
		{"198.51.100.0/30", 2, []string{"198.51.100.0", "198.51.100.3"}},
		{"198.51.100.6/31", 2, nil},
		{"198.51.100.7/32", 1, nil},
		{"10.0.0.0/8", 1900, []string{"10.0.0.0", "10.255.255.255"}},
		{"2001:db8:77::/48", 2000, []string{"2001:db8:77::"}},
		{"2001:db8::5/128", 1, nil},
		{"2001:db8:1:2:3:4:5:0/113", 1900, []string{"2001:db8:1:2:3:4:5:0", "2001:db8:1:2:3:4:5:7fff"}},
	} {
		prefix := netip.MustParsePrefix(tc.prefix)
		seen := map[netip.Addr]bool{}
		for range 2000 {
			a := randomIn(prefix)
			if !prefix.Contains(a) {
				t.Fatalf("%s: drew %s, outside it", tc.prefix, a)
			}
			seen[a] = true
		}
		for _, avoid := range tc.avoid {
			if seen[netip.MustParseAddr(avoid)] {
				t.Errorf("%s: drew %s", tc.prefix, avoid)
			}
		}
		if len(seen) < tc.distinct {
			t.Errorf("%s: %d distinct addresses in 2000 draws, want at least %d", tc.prefix, len(seen), tc.distinct)
		}
	}
}

// A probe without from comes from the loopback address; with from, from
// an address of its ranges and an ephemeral port.
func TestClientAddr(t *testing.T) {
	if got := (&probe{}).clientAddr(); got != loopbackClient {
		t.Errorf("without from: %s, want %s", got, loopbackClient)
	}
	p := &probe{from: []netip.Prefix{netip.MustParsePrefix("203.0.113.0/24"), netip.MustParsePrefix("2001:db8:77::/48")}}
	v4, v6 := 0, 0
	for range 200 {
		ap, err := netip.ParseAddrPort(p.clientAddr())
		if err != nil || ap.Port() < 1024 {
			t.Fatalf("clientAddr %v (%v): want an address and an ephemeral port", ap, err)
		}
		switch {
		case p.from[0].Contains(ap.Addr()):
			v4++
		case p.from[1].Contains(ap.Addr()):
			v6++
		default:
			t.Fatalf("clientAddr %s: in none of %v", ap, p.from)
		}
	}
	if v4 == 0 || v6 == 0 {
		t.Errorf("200 runs came from the IPv4 range %d times and the IPv6 one %d: each run takes one at random", v4, v6)
	}
}
