package assertion

import "testing"

// BenchmarkSign measures the per-request cost with claims of a realistic
// size: an outsourced backend that may see three context fields.
func BenchmarkSign(b *testing.B) {
	for _, alg := range testAlgs {
		b.Run(alg, func(b *testing.B) {
			s := newTestSigner(b, alg)
			c := testClaims()
			b.ReportAllocs()
			for b.Loop() {
				if _, err := s.Sign(c, testNow); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkSignParallel is Sign under the contention of a busy gateway,
// where the scratch buffer pool matters.
func BenchmarkSignParallel(b *testing.B) {
	for _, alg := range testAlgs {
		b.Run(alg, func(b *testing.B) {
			s := newTestSigner(b, alg)
			c := testClaims()
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if _, err := s.Sign(c, testNow); err != nil {
						b.Error(err)
						return
					}
				}
			})
		})
	}
}

// BenchmarkPayload is the part of Sign that is frontdoor's own work, apart
// from the signature itself.
func BenchmarkPayload(b *testing.B) {
	c := testClaims()
	buf := make([]byte, 0, 1024)
	b.ReportAllocs()
	for b.Loop() {
		buf = appendPayload(buf[:0], &c, 1741964966, 1741965086)
	}
	b.SetBytes(int64(len(buf)))
}
