// Package utf8cut shortens text to a byte budget without splitting a
// character, for the notes, headers and page excerpts frontdoor records.
package utf8cut

import "unicode/utf8"

// Prefix returns the longest prefix of s that is at most n bytes long and
// ends on a character boundary.
func Prefix(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}
