package banner

import (
	"bytes"
	"testing"
)

// fuzzBanner has no proper prefix that is also a suffix, so inserting it
// cannot form an extra occurrence with the bytes around it, and it has no
// "</body", so it cannot change where the end tag is.
const fuzzBanner = `<div id="fd">[[FRONTDOOR]]</div>`

// referenceInject is the obvious, non-streaming version of the Injector: find
// the first "</body", up to maxTagWhitespace whitespace bytes and ">" in the
// whole input, and put the banner there or at the end.
func referenceInject(input, banner []byte) ([]byte, Result) {
	for k := range input {
		if !hasLowerPrefix(input[k:], endTagName) {
			continue
		}
		end := k + len(endTagName)
		for end < len(input) && end-k-len(endTagName) < maxTagWhitespace && isHTMLSpace(input[end]) {
			end++
		}
		if end < len(input) && input[end] == '>' {
			out := append(append(append([]byte{}, input[:k]...), banner...), input[k:]...)
			return out, Injected
		}
	}
	return append(append([]byte{}, input...), banner...), Appended
}

// hasLowerPrefix reports whether b starts with prefix, which is in lower case,
// comparing ASCII letters in any case.
func hasLowerPrefix(b []byte, prefix string) bool {
	if len(b) < len(prefix) {
		return false
	}
	for k := range len(prefix) {
		c := b[k]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != prefix[k] {
			return false
		}
	}
	return true
}

func TestFuzzBannerHasNoBorder(t *testing.T) {
	for n := 1; n < len(fuzzBanner); n++ {
		if fuzzBanner[:n] == fuzzBanner[len(fuzzBanner)-n:] {
			t.Fatalf("fuzz banner starts and ends with %q", fuzzBanner[:n])
		}
	}
}

// FuzzInjector checks that, however the input is cut into writes and
// whatever flushes are asked for in between, the Injector writes the same as
// referenceInject, never holds back more than maxHeld bytes, and adds the
// banner exactly once. Each byte of splits is one write: its low 7 bits are
// the size of the write and its high bit asks for a Flush after it.
func FuzzInjector(f *testing.F) {
	f.Add([]byte("<html><body>hello</body></html>"), []byte{3, 9, 0x80 | 14})
	f.Add([]byte("a</BODY \n>b</body>"), []byte{1})
	f.Add([]byte("</bod</body\t\t\t>"), []byte{4, 0, 2, 0x83})
	f.Add([]byte("</bodyx></body"), []byte{127})
	f.Add([]byte("no end tag at all <<<"), []byte{})
	f.Add(append(append([]byte("</body"), bytes.Repeat([]byte(" "), maxTagWhitespace+1)...), '>'), []byte{70, 1})

	banner := []byte(fuzzBanner)
	f.Fuzz(func(t *testing.T, input, splits []byte) {
		want, wantResult := referenceInject(input, banner)

		var out bytes.Buffer
		inj := NewInjector(&out, banner)
		rest := input
		for k := 0; len(rest) > 0; k++ {
			n := len(rest)
			flush := false
			if k < len(splits) {
				n = min(int(splits[k]&0x7f), len(rest))
				flush = splits[k]&0x80 != 0
			}
			written, err := inj.Write(rest[:n])
			if err != nil || written != n {
				t.Fatalf("Write of %d bytes = %d, %v", n, written, err)
			}
			rest = rest[n:]
			if flush {
				if err := inj.Flush(); err != nil {
					t.Fatal(err)
				}
			}

			// What is out so far must be the start of the expected output,
			// missing at most the held-back bytes.
			consumed := len(input) - len(rest)
			if !bytes.HasPrefix(want, out.Bytes()) {
				t.Fatalf("after %d bytes in, output %q is not a prefix of %q", consumed, out.Bytes(), want)
			}
			passed := out.Len()
			if inj.result == Injected {
				passed -= len(banner)
			}
			if held := consumed - passed; held < 0 || held > maxHeld {
				t.Fatalf("after %d bytes in, %d bytes are held back; at most %d may be", consumed, held, maxHeld)
			}
		}
		result, err := inj.Close()
		if err != nil {
			t.Fatal(err)
		}

		if result != wantResult || !bytes.Equal(out.Bytes(), want) {
			t.Fatalf("got %q (%v); want %q (%v)", out.Bytes(), result, want, wantResult)
		}
		if got, in := bytes.Count(out.Bytes(), banner), bytes.Count(input, banner); got != in+1 {
			t.Fatalf("banner occurs %d times in the output and %d times in the input", got, in)
		}
	})
}
