package caddymodule

import (
	"strings"
	"testing"
)

func TestNewRequestID(t *testing.T) {
	const n = 100_000
	seen := make(map[string]bool, n)
	for range n {
		id := newRequestID()
		if len(id) != 13 {
			t.Fatalf("%q: length %d, want 13", id, len(id))
		}
		// Crockford's alphabet has no I, L, O or U: a reference read
		// aloud over the phone cannot be misheard as another.
		if i := strings.IndexFunc(id, func(r rune) bool { return !strings.ContainsRune(crockford, r) }); i >= 0 {
			t.Fatalf("%q: %q is not in Crockford's alphabet", id, id[i])
		}
		if seen[id] {
			t.Fatalf("%q generated twice in %d ids", id, len(seen))
		}
		seen[id] = true
	}
}

func TestCrockfordAlphabet(t *testing.T) {
	if len(crockford) != 32 {
		t.Fatalf("alphabet has %d symbols, want 32", len(crockford))
	}
	for _, c := range "ILOU" {
		if strings.ContainsRune(crockford, c) {
			t.Errorf("alphabet contains the ambiguous %q", c)
		}
	}
	for i := range len(crockford) {
		if strings.IndexByte(crockford, crockford[i]) != i {
			t.Errorf("%q appears twice", crockford[i])
		}
	}
}

// Every position carries entropy: over many ids each of the 12 low
// positions takes every symbol (the first carries the 4 remaining bits of
// 64, so it takes 16).
func TestNewRequestIDUsesWholeAlphabet(t *testing.T) {
	var seen [13]map[byte]bool
	for i := range seen {
		seen[i] = map[byte]bool{}
	}
	for range 20_000 {
		id := newRequestID()
		for i := range len(id) {
			seen[i][id[i]] = true
		}
	}
	if got := len(seen[0]); got != 16 {
		t.Errorf("first position takes %d symbols, want 16", got)
	}
	for i := 1; i < 13; i++ {
		if got := len(seen[i]); got != 32 {
			t.Errorf("position %d takes %d symbols, want 32", i, got)
		}
	}
}
