package session

import (
	"slices"
	"testing"
)

func TestFieldSet(t *testing.T) {
	fs := NewFieldSet([]string{"customer_id", "tier", "", "customer_id", "Tier"})
	if want := []string{"customer_id", "tier", "Tier"}; !slices.Equal(fs.Names(), want) {
		t.Errorf("Names() = %v, want %v", fs.Names(), want)
	}
	if fs.Len() != 3 {
		t.Errorf("Len() = %d, want 3", fs.Len())
	}
	fs.Names()[0] = "changed"
	if fs.Names()[0] != "customer_id" {
		t.Error("Names() exposes the set's own slice")
	}
	if NewFieldSet(nil).Len() != 0 {
		t.Error("empty set not empty")
	}
	if NewFieldSet(nil).id == NewFieldSet(nil).id {
		t.Error("two field sets share an id")
	}
}

func TestContextFieldsEarlyStop(t *testing.T) {
	fs := NewFieldSet([]string{"a", "b", "c"})
	c := &Context{fs: fs, values: []value{{"1", true}, {"", false}, {"3", true}}, n: 2}
	var seen []string
	for k := range c.Fields() {
		seen = append(seen, k)
		break
	}
	if !slices.Equal(seen, []string{"a"}) {
		t.Errorf("saw %v, want [a]", seen)
	}
}

// TestContextNoAllocs checks that reading a context, as the gateway does
// on every request to build headers, allocates nothing.
func TestContextNoAllocs(t *testing.T) {
	fs := NewFieldSet([]string{"customer_id", "first_name", "tier"})
	c := &Context{fs: fs, values: []value{{"C-1", true}, {"Ann", true}, {"gold", true}}, n: 3}
	var n int
	allocs := testing.AllocsPerRun(1000, func() {
		for k, v := range c.Fields() {
			n += len(k) + len(v)
		}
		if v, ok := c.Get("tier"); ok {
			n += len(v)
		}
	})
	if allocs != 0 {
		t.Errorf("%v allocations per run, want 0", allocs)
	}
}
