package accept

import "testing"

func TestQuality(t *testing.T) {
	cases := []struct {
		params string
		q      float64
		ok     bool
	}{
		{"", 1, true},
		{"q=0.5", 0.5, true},
		{" Q = 0 ", 0, true},
		{"level=1;q=0.8", 0.8, true},
		{"q=1;q=0", 1, true}, // the first q is the element's; later ones are extensions
		{"q=abc", 0, false},
		{"q=1.5", 0, false},
		{"q=-0.1", 0, false},
		{"q=NaN", 0, false},
	}
	for _, c := range cases {
		q, ok := Quality(c.params)
		if q != c.q || ok != c.ok {
			t.Errorf("Quality(%q) = %v, %v; want %v, %v", c.params, q, ok, c.q, c.ok)
		}
	}
}
