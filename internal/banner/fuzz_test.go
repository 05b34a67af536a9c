package banner

import (
	"bytes"
	"strings"
	"testing"

	"golang.org/x/net/html"
	"golang.org/x/net/html/atom"
)

// fuzzBanner has no proper prefix that is also a suffix, so inserting it
// cannot form an extra occurrence with the bytes around it, and it is
// markup that leaves the tokenizer where it found it in the data state.
const fuzzBanner = `<div id="fd">[[FRONTDOOR]]</div>`

// referencePlace is where golang.org/x/net/html's Tokenizer, the
// maintained Go implementation of the same specification, says the banner
// goes: the offset of the first "body" end tag token outside a template,
// or of the first "plaintext" start tag (with the templates open there), or
// -1. A tag the input ends in the middle of is no token, but the Injector
// decides at the end of its name: such a tag counts if its name is read,
// and "<plaintext" counts at the very end of the input.
// Foreign content is the tree builder's, which the Tokenizer does not
// follow: callers leave out inputs with svg or math.
func referencePlace(input []byte) (at int, plaintext bool, templates int) {
	z := html.NewTokenizer(bytes.NewReader(input))
	off := 0
	for {
		tt := z.Next()
		if tt == html.ErrorToken {
			rest := input[off:]
			if name, ok := unfinishedTagName(rest); ok && templates == 0 && name == "/body" {
				return off, false, 0
			} else if ok && name == "plaintext" {
				return off, true, templates
			}
			return -1, false, templates
		}
		name, _ := z.TagName()
		switch {
		case tt == html.EndTagToken && string(name) == "body" && templates == 0:
			return off, false, 0
		case (tt == html.StartTagToken || tt == html.SelfClosingTagToken) && string(name) == "plaintext":
			return off, true, templates
		case (tt == html.StartTagToken || tt == html.SelfClosingTagToken) && string(name) == "template":
			templates++
		case tt == html.EndTagToken && string(name) == "template" && templates > 0:
			templates--
		}
		off += len(z.Raw())
	}
}

// unfinishedTagName returns the lower-cased name ("/body" for an end tag) of
// the tag rest starts with, if its name is complete.
func unfinishedTagName(rest []byte) (string, bool) {
	if len(rest) < 2 || rest[0] != '<' {
		return "", false
	}
	k := 1
	if rest[1] == '/' {
		k = 2
	}
	if k >= len(rest) || !isAlpha(rest[k]) {
		return "", false
	}
	end := bytes.IndexFunc(rest[k:], func(r rune) bool { return r < 0x80 && (isHTMLSpace(byte(r)) || r == '/' || r == '>') })
	if end < 0 {
		// A body ending in "<plaintext" is decided at its end: a banner
		// appended after it would become part of the tag's name, so the
		// Injector puts it before, where the tag would have gone.
		if k == 1 && strings.EqualFold(string(rest[1:]), "plaintext") {
			return "plaintext", true
		}
		return "", false
	}
	return strings.ToLower(string(rest[1 : k+end])), true
}

func hasForeign(input []byte) bool {
	l := bytes.ToLower(input)
	return bytes.Contains(l, []byte("<svg")) || bytes.Contains(l, []byte("<math"))
}

// injectSplit runs input through an Injector in the writes splits asks for
// (see FuzzInjector), checking what is held back after each.
func injectSplit(t *testing.T, input, splits, banner []byte) ([]byte, Result) {
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
		if inj.result != Injected {
			consumed := len(input) - len(rest)
			if !bytes.Equal(out.Bytes(), input[:out.Len()]) {
				t.Fatalf("after %d bytes in, output %q is not a prefix of the input", consumed, out.Bytes())
			}
			if held := consumed - out.Len(); held != inj.nheld || held > maxHeld {
				t.Fatalf("after %d bytes in, %d bytes are held back; at most %d may be", consumed, held, maxHeld)
			}
		}
	}
	result, err := inj.Close()
	if err != nil {
		t.Fatal(err)
	}
	return out.Bytes(), result
}

// FuzzInjector checks that, however the input is cut into writes and
// whatever flushes are asked for in between, the Injector puts the banner
// where golang.org/x/net/html's Tokenizer finds the first body end tag (or
// plaintext start tag), never holds back more than maxHeld bytes, and adds
// the banner exactly once; when it appends the banner, the Tokenizer reads
// the banner as markup outside any template. Each byte of splits is one
// write: its low 7 bits are the size of the write and its high bit asks
// for a Flush after it.
func FuzzInjector(f *testing.F) {
	for _, s := range []string{
		"<html><body>hello</body></html>", "a</BODY \n>b</body>", "</bod</body\t\t\t>", "</bodyx></body",
		"no end tag at all <<<", "<!-- </body> --></body>", "<!--></body>", "<!---></body>", "<!-- --!></body>",
		"<script><!--<script></script></body>--></script></body>", "<title></body></title></body>",
		`<p a="</body>" b='</body>' c=</body>></body>`, "<template><template></template></body></template></body>",
		"<plaintext></body>", "<template><plaintext>", "<textarea>x", "<xmp></body>", "<!DOCTYPE </body>",
		"<? </body>", "</1 </body>", "<noscript></body></noscript>", "<script>a<!--b", "<a href='",
		"<plAinteXt", "<template><PlainText", "<!--<plaintext", "<plaintextx",
	} {
		f.Add([]byte(s), []byte{3, 9, 0x80 | 14})
		f.Add([]byte(s), []byte{1})
	}

	banner := []byte(fuzzBanner)
	f.Fuzz(func(t *testing.T, input, splits []byte) {
		out, result := injectSplit(t, input, splits, banner)
		in := bytes.Count(input, banner)
		if result == Appended && bytes.HasPrefix(out, input) && bytes.HasSuffix(out, banner) {
			// Appended at the end (not before a final "<plaintext"):
			// what closes the page goes between it and the banner, and
			// may finish a banner the input left unfinished. Such a
			// banner starts in the input; none may start in the closers.
			closed := out[:len(out)-len(banner)]
			if i := bytes.LastIndex(closed, banner); i >= len(input) {
				t.Fatalf("a banner at %d is in what closes the page: %q", i, closed[len(input):])
			}
			in = bytes.Count(closed, banner)
		}
		if got := bytes.Count(out, banner); got != in+1 {
			t.Fatalf("banner occurs %d times in the output and %d times in the input", got, in)
		}
		if hasForeign(input) {
			return // TestInjectorForeignContent and FuzzInjectorTree
		}
		at, plaintext, templates := referencePlace(input)
		switch {
		case at >= 0 && !plaintext:
			want := append(append(append([]byte{}, input[:at]...), banner...), input[at:]...)
			if result != Injected || !bytes.Equal(out, want) {
				t.Fatalf("got %q (%v); want %q (injected)", out, result, want)
			}
		case at >= 0:
			closers := strings.Repeat("</template>", templates)
			want := append(append(append(append([]byte{}, input[:at]...), closers...), banner...), input[at:]...)
			if !bytes.Equal(out, want) {
				t.Fatalf("got %q (%v); want %q", out, result, want)
			}
		default:
			if result != Appended || !bytes.HasPrefix(out, input) || !bytes.HasSuffix(out, banner) {
				t.Fatalf("got %q (%v); want the input, closing markup and the banner", out, result)
			}
			// The Tokenizer reads the banner's first tag as a start tag
			// at its place, outside any template.
			_, _, open := referencePlace(out[:len(out)-len(banner)])
			z := html.NewTokenizer(bytes.NewReader(out))
			off := 0
			for off < len(out)-len(banner) {
				if z.Next() == html.ErrorToken {
					t.Fatalf("tokenizer stopped at %d in %q", off, out)
				}
				off += len(z.Raw())
			}
			if tt := z.Next(); off != len(out)-len(banner) || tt != html.StartTagToken || z.Token().DataAtom != atom.Div || open != 0 {
				t.Fatalf("in %q the banner is not markup outside a template (token at %d, %d templates open)", out, off, open)
			}
		}
	})
}

// FuzzInjectorTree parses the Injector's output with golang.org/x/net/html's
// parser (scripting enabled, as in a browser) and checks that the banner is
// one element of the document, in HTML content, outside any template:
// what a customer sees. It covers foreign content, which the Tokenizer
// alone does not follow. Inputs with elements whose content a browser may
// not render at all (select, frameset, object, and so on) are out of a
// bounded state's reach and left out.
//
// A page that ends inside an svg or MathML integration point with HTML
// elements open in it keeps the banner there, where it renders only if the
// vendor's foreignObject does: nothing but the end of the page closes it.
func FuzzInjectorTree(f *testing.F) {
	for _, s := range []string{
		"<svg><![CDATA[ > </body> ]]></svg></body>", "<svg><foreignObject><style></body></style></foreignObject></svg></body>",
		"<math><mi><textarea></body></textarea></mi></math></body>", "<svg><title></body>", "<svg><desc><p>",
		"<svg><p><![CDATA[ > </body>", "<math><annotation-xml encoding=text/html><style></body>", "<svg><font color=red></body>",
		"<template><svg></template></body>", "<svg><svg></svg><![CDATA[</body>]]>",
	} {
		f.Add([]byte(s), []byte{5})
	}
	banner := []byte(fuzzBanner)
	f.Fuzz(func(t *testing.T, input, splits []byte) {
		l := bytes.ToLower(input)
		for _, skip := range []string{"select", "frame", "object", "applet", "table", "caption", "col", "tbody", "thead", "tfoot", "tr", "td", "th", "html", "head", "body", "plaintext"} {
			if bytes.Contains(l, []byte("<"+skip)) {
				return
			}
		}
		if hasForeign(input) && bytes.Contains(l, []byte("<template")) {
			// x/net/html's parser drops everything after a template in
			// an svg integration point; Chromium does not.
			return
		}
		out, _ := injectSplit(t, input, splits, banner)
		doc, err := html.ParseWithOptions(bytes.NewReader(out), html.ParseOptionEnableScripting(true))
		if err != nil {
			t.Fatal(err)
		}
		var found []*html.Node
		for n := range doc.Descendants() {
			if n.Type == html.ElementNode && n.DataAtom == atom.Div && n.Namespace == "" && len(n.Attr) == 1 && n.Attr[0].Val == "fd" {
				found = append(found, n)
			}
		}
		if len(found) != 1+bytes.Count(input, banner) {
			t.Fatalf("%d banner elements in the tree of %q", len(found), out)
		}
		for _, n := range found {
			html := true // the nearest foreign ancestor is an integration point
			for a := n.Parent; a != nil; a = a.Parent {
				if a.DataAtom == atom.Template {
					t.Fatalf("in %q the banner is inside a template", out)
				}
				if a.Namespace == "" || !html {
					continue
				}
				// A page that ends inside an svg or MathML integration
				// point with HTML elements open in it keeps the banner
				// there: nothing but the end of the page closes it.
				switch a.Data {
				case "foreignObject", "desc", "title", "mi", "mo", "mn", "ms", "mtext", "annotation-xml":
					html = false
				default:
					t.Fatalf("in %q the banner is inside %s %s", out, a.Namespace, a.Data)
				}
			}
		}
	})
}

// FuzzSkipAhead checks that the tokenizer's fast path (skip, which jumps
// over text, tag names and attributes with a loop or bytes.IndexByte) is
// exactly the tokenizer stepped byte by byte: for any page, cut into any
// writes, with scripting on or off, both Injectors have written the same
// bytes and hold the same ones back after every write, end in the same
// tokenizer state, and close with the same output and result.
func FuzzSkipAhead(f *testing.F) {
	for _, s := range []string{
		string(testPage(2 << 10)), `<p a="</body>" b='</body>' c=</body>></body>`, "<a href=x/></body>",
		"<a b c = 'd'e=\"f\"g/ h></body>", "<svg><font color=red></body>", "<svg><font face='x' size></svg></body>",
		"<math><annotation-xml encoding=text/html><style></body>", "<div =a><span/ x></body",
		"<script>a<!--<script>b</script>-->c</script></body>", "<template><a title='</template>'></template></body>",
		"<textarea a='</textarea>'></textarea></body>", "<!-- a -- > --></body>", "<![CDATA[x]]></body>",
	} {
		f.Add([]byte(s), []byte{3, 9, 0x80 | 14}, true)
		f.Add([]byte(s), []byte{1}, false)
		f.Add([]byte(s), []byte{0x7f, 0x7f}, true)
	}
	banner := []byte(fuzzBanner)
	f.Fuzz(func(t *testing.T, input, splits []byte, scripting bool) {
		var fastOut, stepOut bytes.Buffer
		fast, stepped := NewInjector(&fastOut, banner), NewInjector(&stepOut, banner)
		stepped.stepOnly = true
		fast.SetScripting(scripting)
		stepped.SetScripting(scripting)
		rest := input
		for k := 0; len(rest) > 0; k++ {
			n := len(rest)
			if k < len(splits) {
				n = min(int(splits[k]&0x7f), len(rest))
			}
			for _, inj := range []*Injector{fast, stepped} {
				if written, err := inj.Write(rest[:n]); err != nil || written != n {
					t.Fatalf("Write of %d bytes = %d, %v", n, written, err)
				}
			}
			rest = rest[n:]
			if !bytes.Equal(fastOut.Bytes(), stepOut.Bytes()) || fast.nheld != stepped.nheld || fast.result != stepped.result {
				t.Fatalf("after %d bytes in, the fast path wrote %q holding %d (%v), stepping %q holding %d (%v)",
					len(input)-len(rest), fastOut.Bytes(), fast.nheld, fast.result, stepOut.Bytes(), stepped.nheld, stepped.result)
			}
			if fast.result != Injected && !sameTokenizerState(&fast.tok, &stepped.tok) {
				t.Fatalf("after %d bytes in, the fast path's tokenizer is %+v, stepping's %+v", len(input)-len(rest), fast.tok, stepped.tok)
			}
		}
		fastResult, fastErr := fast.Close()
		stepResult, stepErr := stepped.Close()
		if fastErr != nil || stepErr != nil {
			t.Fatal(fastErr, stepErr)
		}
		if fastResult != stepResult || !bytes.Equal(fastOut.Bytes(), stepOut.Bytes()) {
			t.Fatalf("the fast path closed with %q (%v), stepping with %q (%v)", fastOut.Bytes(), fastResult, stepOut.Bytes(), stepResult)
		}
	})
}

// sameTokenizerState compares what the fast path must keep as stepping
// does: everything but the attribute name being read, which is reset
// before every name, whether it made a <font> break out of foreign
// content, which decides only for a tag read in foreign content, whose
// attributes the fast path steps, and, outside a tag, the last tag's name,
// which the next tag resets.
func sameTokenizerState(a, b *tokenizer) bool {
	ac, bc := *a, *b
	ac.attr, ac.attrLen, bc.attr, bc.attrLen = [5]byte{}, 0, [5]byte{}, 0
	if !ac.inForeign() || ac.state < sTagName || ac.state > sSelfClosingStartTag {
		ac.fontAttr, bc.fontAttr = false, false
	}
	if reading := func(t tokenizer) bool { return t.state >= sTagName && t.state <= sSelfClosingStartTag }; !reading(ac) && !reading(bc) {
		// Outside a tag, the last tag's name is dead (startTag resets
		// it); the fast path skips ordinary tags without reading them.
		ac.endTag, ac.selfClosing, ac.name, ac.nameLen = false, false, [maxName]byte{}, 0
		bc.endTag, bc.selfClosing, bc.name, bc.nameLen = false, false, [maxName]byte{}, 0
	}
	// Only the name's first nameLen bytes are read; those after are left
	// from a longer name.
	clear(ac.name[min(ac.nameLen, maxName):])
	clear(bc.name[min(bc.nameLen, maxName):])
	return ac == bc
}
