package fleet

import "testing"

func TestCleanText(t *testing.T) {
	for in, want := range map[string]string{
		"promised a refund within 5 days":                "promised a refund within 5 days",
		"Zoë called; 返金 promised":                        "Zoë called; 返金 promised",
		"\x1b[2J\x1b[Hall clear":                         "[2J[Hall clear",
		"col1\tcol2":                                     "col1 col2",
		"line1\r\nline2\nline3\vx\fy":                    "line1  line2 line3 x y",
		"nul\x00del\x7fbell\x07":                         "nuldelbell",
		"c1\u0085next\u009b31m":                          "c1 next31m",
		"ls\u2028ps\u2029end":                            "ls ps end",
		"refund \u202edne\u202c ok":                      "refund dne ok",
		"\u2066isolate\u2069 \u200emark\u200f \u061calm": "isolate mark alm",
		"bad utf8 \xff\xfe end":                          "bad utf8 \ufffd\ufffd end",
		"":                                               "",
	} {
		if got := CleanText(in); got != want {
			t.Errorf("CleanText(%q) = %q, want %q", in, got, want)
		}
	}
}

func BenchmarkCleanTextASCII(b *testing.B) {
	s := "promised a refund within 5 days, case opened with the carrier"
	for b.Loop() {
		CleanText(s)
	}
}
