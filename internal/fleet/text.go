package fleet

import (
	"strings"
	"unicode/utf8"
)

// CleanText makes text from a backend or an operator safe to store and
// show: invalid UTF-8 becomes U+FFFD, tabs and line breaks (C0's \t \n
// \v \f \r, U+0085, U+2028, U+2029) become a space, and every other
// control character (C0, DEL, C1) and the bidirectional formatting
// characters (U+061C, U+200E, U+200F, U+202A–U+202E, U+2066–U+2069),
// which could clear an operator's terminal, move the cursor or reorder
// what it shows, are removed.
func CleanText(s string) string {
	if isPlainASCII(s) {
		return s
	}
	var b strings.Builder
	b.Grow(len(s))
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		i += size
		switch {
		case r == utf8.RuneError && size == 1:
			b.WriteRune(utf8.RuneError)
		case r == '\t', r == '\n', r == '\v', r == '\f', r == '\r', r == 0x85, r == 0x2028, r == 0x2029:
			b.WriteByte(' ')
		case isControlOrBidi(r):
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

// isPlainASCII reports whether s is printable ASCII only, which needs no
// cleaning.
func isPlainASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c >= 0x7f {
			return false
		}
	}
	return true
}

// isControlOrBidi reports whether r is a C0 or C1 control, DEL, or a
// bidirectional formatting character.
func isControlOrBidi(r rune) bool {
	switch {
	case r < 0x20, r >= 0x7f && r <= 0x9f:
		return true
	case r == 0x061c, r == 0x200e, r == 0x200f:
		return true
	case r >= 0x202a && r <= 0x202e, r >= 0x2066 && r <= 0x2069:
		return true
	}
	return false
}
