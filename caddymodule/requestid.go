package caddymodule

import "math/rand/v2"

// crockford is Crockford's base32 alphabet: no I, L, O or U, so a
// reference read aloud over the phone is hard to get wrong.
const crockford = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"

// newRequestID returns a 13-character reference from 64 random bits. The
// runtime's ChaCha8 generator is unpredictable and needs no lock, which
// matters on the hot path; uniqueness, not secrecy, is what is needed.
func newRequestID() string {
	v := rand.Uint64()
	var b [13]byte
	for i := len(b) - 1; i >= 0; i-- {
		b[i] = crockford[v&31]
		v >>= 5
	}
	return string(b[:])
}
