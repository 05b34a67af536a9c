package banner

import "bytes"

// This file is the part of the WHATWG HTML tokenizer
// (https://html.spec.whatwg.org/#tokenization) that decides where markup
// is, together with the few tree-construction facts a bounded state can
// keep that decide whether a "</body>" ends the body a customer sees.
//
// The tokenizer runs one byte at a time and keeps no token: only the state,
// the lower-cased start of the current tag name (enough to tell the names
// that switch the tokenizer's state), a match index for end tags of raw
// text, a count of open templates and a small stack of open svg/math
// roots and HTML integration points. Its memory is the same whatever the
// page. Character references never change a state that matters here (they
// cannot consume '<' or '>'), so they are not followed; neither is the
// newline normalisation, which only turns whitespace into whitespace.

// state is a state of the tokenizer, named as in the specification. The
// DOCTYPE states are one: every one of them ends at '>'.
type state uint8

const (
	sData state = iota
	sRCDATA
	sRAWTEXT
	sScriptData
	sPlaintext
	sTagOpen
	sEndTagOpen
	sTagName
	sRawLessThan // RCDATA or RAWTEXT less-than sign; t.rawState says which
	sRawEndTagOpen
	sRawEndTagName
	sScriptLessThan
	sScriptEndTagOpen
	sScriptEndTagName
	sScriptEscapeStart
	sScriptEscapeStartDash
	sScriptEscaped
	sScriptEscapedDash
	sScriptEscapedDashDash
	sScriptEscapedLessThan
	sScriptEscapedEndTagOpen
	sScriptEscapedEndTagName
	sScriptDoubleEscapeStart
	sScriptDoubleEscaped
	sScriptDoubleEscapedDash
	sScriptDoubleEscapedDashDash
	sScriptDoubleEscapedLessThan
	sScriptDoubleEscapeEnd
	sBeforeAttrName
	sAttrName
	sAfterAttrName
	sBeforeAttrValue
	sAttrValueDouble
	sAttrValueSingle
	sAttrValueUnquoted
	sAfterAttrValueQuoted
	sSelfClosingStartTag
	sBogusComment
	sMarkupDeclarationOpen
	sCommentStart
	sCommentStartDash
	sComment
	sCommentLessThan
	sCommentLessThanBang
	sCommentLessThanBangDash
	sCommentLessThanBangDashDash
	sCommentEndDash
	sCommentEnd
	sCommentEndBang
	sDoctype
	sCDATASection
	sCDATASectionBracket
	sCDATASectionEnd
)

// event is what a byte means to the Injector.
type event uint8

const (
	evNone event = iota
	// evHold: this '<' may start the body's end tag or a <plaintext> start
	// tag; hold it (and what follows) until the tokenizer decides.
	evHold
	// evRelease: what is held is neither.
	evRelease
	// evRehold: what is held is neither, and this '<' may be.
	evRehold
	// evBodyEnd: what is held is "</body" and this byte ends its name: the
	// banner goes before it.
	evBodyEnd
	// evPlaintext: what is held is "<plaintext" and this byte ends its
	// name: everything after the tag is text, so the banner goes before it.
	evPlaintext
)

// candidate is what a held '<' may still turn out to be.
type candidate uint8

const (
	candNone  candidate = iota
	candAny             // "<": either
	candBody            // "</" and the start of "body"
	candPlain           // "<" and the start of "plaintext"
)

// maxName is how much of a tag name the tokenizer keeps: the longest name
// it has to recognise is "annotation-xml".
const maxName = 16

// maxForeign is how many open svg/math roots and integration points the
// tokenizer tells apart; deeper ones are counted and taken to be roots.
const maxForeign = 32

// Kinds of foreign stack entries: a namespace and a name.
const (
	nsSVG  uint8 = 1 << 6
	nsMath uint8 = 2 << 6

	fRoot          uint8 = iota // <svg> or <math>, or a nested one
	fForeignObject              // svg integration points...
	fDesc
	fTitle
	fMI // ...and MathML text integration points and annotation-xml
	fMO
	fMN
	fMS
	fMText
	fAnnotationXML
)

type foreignEntry struct {
	kind uint8 // namespace | name
	tmpl int32 // templates open when it was pushed
	name uint8 // fRoot entries: 0 svg, 1 math (the name, not the namespace)
}

// tokenizer is the state of the HTML tokenizer and of the bounded part of
// tree construction that matters for the banner. The zero value is a
// tokenizer at the start of a document with scripting enabled once
// scriptingOff is false.
type tokenizer struct {
	state    state
	rawState state // sRCDATA or sRAWTEXT, for the shared raw states

	// The tag being read.
	endTag      bool
	selfClosing bool
	name        [maxName]byte
	nameLen     int // > maxName: longer than any name that matters
	attr        [5]byte
	attrLen     int
	fontAttr    bool // the tag has a color, face or size attribute

	// rawName is the appropriate end tag's name in RCDATA, RAWTEXT and
	// script data; match counts how much of it (or of "script" in the
	// double-escape states, or of a markup declaration keyword) matched.
	rawName string
	match   int
	keyword string

	// Tree construction.
	templates int // open HTML template elements
	foreign   [maxForeign]foreignEntry
	nforeign  int
	deep      int // entries pushed beyond maxForeign

	scriptingOff bool // a sandbox without allow-scripts: noscript is markup

	cand candidate
}

// isHTMLSpace reports whether c is ASCII whitespace as HTML defines it:
// tab, line feed, form feed, carriage return or space.
func isHTMLSpace(c byte) bool { return byteClass[c]&classSpace != 0 }

// endsTagName reports whether c ends a tag name: whitespace, '/' or '>'.
func endsTagName(c byte) bool { return byteClass[c]&(classSpace|classNameEnd) != 0 }

// byteClass marks the bytes the tokenizer tests on almost every byte of a
// tag: one load instead of a chain of comparisons.
var byteClass = [256]uint8{
	' ': classSpace, '\t': classSpace, '\n': classSpace, '\f': classSpace, '\r': classSpace,
	'/': classNameEnd, '>': classNameEnd, '=': classEquals,
}

const (
	classSpace   = 1 << iota // HTML whitespace
	classNameEnd             // '/' or '>', which end a tag name as whitespace does
	classEquals              // '=', which also ends an attribute name
)

func isAlpha(c byte) bool { return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' }

func lower(c byte) byte {
	if 'A' <= c && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}

// inForeign reports whether the adjusted current node is a foreign element
// that is not an HTML integration point: CDATA sections are recognised,
// and start tags do not switch the tokenizer's state.
func (t *tokenizer) inForeign() bool {
	if t.deep > 0 {
		return true
	}
	return t.nforeign > 0 && t.foreign[t.nforeign-1].kind&0x3f == fRoot
}

// inIntegrationPoint reports whether an HTML integration point is open: it
// bounds the scope, so a </body> inside it is ignored by the browser.
func (t *tokenizer) inIntegrationPoint() bool {
	for _, e := range t.foreign[:t.nforeign] {
		if e.kind&0x3f != fRoot {
			return true
		}
	}
	return false
}

// bodyEndPossible reports whether a </body> end tag now would end the body.
func (t *tokenizer) bodyEndPossible() bool {
	return t.templates == 0 && !t.inIntegrationPoint()
}

// plaintextPossible reports whether a <plaintext> start tag now would turn
// the rest of the page into text.
func (t *tokenizer) plaintextPossible() bool { return !t.inForeign() }

func (t *tokenizer) nameIs(s string) bool {
	return t.nameLen == len(s) && string(t.name[:t.nameLen]) == s
}

func (t *tokenizer) startTag(c byte, end bool) {
	t.endTag, t.selfClosing, t.fontAttr = end, false, false
	t.nameLen = 0
	t.appendName(c)
}

func (t *tokenizer) appendName(c byte) {
	if t.nameLen < maxName {
		t.name[t.nameLen] = lower(c)
	}
	if t.nameLen <= maxName {
		t.nameLen++
	}
}

func (t *tokenizer) appendAttr(c byte) {
	if t.attrLen < len(t.attr) {
		t.attr[t.attrLen] = lower(c)
	}
	if t.attrLen <= len(t.attr) {
		t.attrLen++
	}
}

// endAttrName notes a color, face or size attribute, which makes <font>
// break out of foreign content.
func (t *tokenizer) endAttrName() {
	if t.attrLen <= len(t.attr) {
		switch string(t.attr[:t.attrLen]) {
		case "color", "face", "size":
			t.fontAttr = true
		}
	}
	t.attrLen = 0
}

// candidateName checks the held candidate against the tag name read so
// far: it returns evRelease when the name can no longer be the target.
func (t *tokenizer) candidateName() event {
	target := "body"
	if t.cand == candPlain {
		target = "plaintext"
	}
	n := t.nameLen
	if n > len(target) || t.name[n-1] != target[n-1] {
		t.cand = candNone
		return evRelease
	}
	return evNone
}

// candidateEnd is called when the tag name ends: it decides the candidate.
func (t *tokenizer) candidateEnd() event {
	switch {
	case t.cand == candBody && t.nameIs("body"):
		t.cand = candNone
		return evBodyEnd
	case t.cand == candPlain && t.nameIs("plaintext"):
		t.cand = candNone
		return evPlaintext
	}
	t.cand = candNone
	return evRelease
}

// release drops the candidate if there is one.
func (t *tokenizer) release() event {
	if t.cand == candNone {
		return evNone
	}
	t.cand = candNone
	return evRelease
}

// step consumes one byte and returns what it means for the banner.
func (t *tokenizer) step(c byte) event {
	ev := evNone
	for {
		reconsume := false
		switch t.state {
		case sData:
			if c == '<' {
				t.state = sTagOpen
				if t.bodyEndPossible() || t.plaintextPossible() {
					t.cand = candAny
					if ev == evRelease {
						ev = evRehold // "<<": the first one is text
					} else {
						ev = evHold
					}
				}
			}
		case sRCDATA, sRAWTEXT:
			if c == '<' {
				t.rawState = t.state
				t.state = sRawLessThan
			}
		case sScriptData:
			if c == '<' {
				t.state = sScriptLessThan
			}
		case sPlaintext:

		case sTagOpen:
			switch {
			case c == '!':
				ev = t.release()
				t.state = sMarkupDeclarationOpen
				t.keyword, t.match = "", 0
			case c == '/':
				if t.cand == candAny {
					if t.bodyEndPossible() {
						t.cand = candBody
					} else {
						ev = t.release()
					}
				}
				t.state = sEndTagOpen
			case isAlpha(c):
				t.startTag(c, false)
				t.state = sTagName
				if t.cand == candAny {
					if t.plaintextPossible() {
						t.cand = candPlain
						ev = t.candidateName()
					} else {
						ev = t.release()
					}
				}
			case c == '?':
				ev = t.release()
				t.state = sBogusComment
			default:
				ev = t.release()
				t.state = sData
				reconsume = true
			}
		case sEndTagOpen:
			switch {
			case isAlpha(c):
				t.startTag(c, true)
				t.state = sTagName
				if t.cand == candBody {
					ev = t.candidateName()
				}
			case c == '>':
				ev = t.release()
				t.state = sData
			default:
				ev = t.release()
				t.state = sBogusComment
			}
		case sTagName:
			switch {
			case isHTMLSpace(c):
				if t.cand != candNone {
					ev = t.candidateEnd()
				}
				t.state = sBeforeAttrName
			case c == '/':
				if t.cand != candNone {
					ev = t.candidateEnd()
				}
				t.state = sSelfClosingStartTag
			case c == '>':
				if t.cand != candNone {
					ev = t.candidateEnd()
				}
				t.emitTag()
			default:
				if c == 0 {
					c = 0xff // U+FFFD: no name that matters has it
				}
				t.appendName(c)
				if t.cand != candNone {
					ev = t.candidateName()
				}
			}

		case sRawLessThan:
			if c == '/' {
				t.state = sRawEndTagOpen
				t.match = 0
			} else {
				t.state = t.rawState
				reconsume = true
			}
		case sRawEndTagOpen:
			if isAlpha(c) {
				t.state = sRawEndTagName
			} else {
				t.state = t.rawState
			}
			reconsume = true
		case sRawEndTagName:
			reconsume = t.endTagName(c, t.rawState)

		case sScriptLessThan:
			switch c {
			case '/':
				t.state = sScriptEndTagOpen
				t.match = 0
			case '!':
				t.state = sScriptEscapeStart
			default:
				t.state = sScriptData
				reconsume = true
			}
		case sScriptEndTagOpen:
			if isAlpha(c) {
				t.state = sScriptEndTagName
			} else {
				t.state = sScriptData
			}
			reconsume = true
		case sScriptEndTagName:
			reconsume = t.endTagName(c, sScriptData)
		case sScriptEscapeStart:
			if c == '-' {
				t.state = sScriptEscapeStartDash
			} else {
				t.state = sScriptData
				reconsume = true
			}
		case sScriptEscapeStartDash:
			if c == '-' {
				t.state = sScriptEscapedDashDash
			} else {
				t.state = sScriptData
				reconsume = true
			}
		case sScriptEscaped:
			switch c {
			case '-':
				t.state = sScriptEscapedDash
			case '<':
				t.state = sScriptEscapedLessThan
			}
		case sScriptEscapedDash:
			switch c {
			case '-':
				t.state = sScriptEscapedDashDash
			case '<':
				t.state = sScriptEscapedLessThan
			default:
				t.state = sScriptEscaped
			}
		case sScriptEscapedDashDash:
			switch c {
			case '-':
			case '<':
				t.state = sScriptEscapedLessThan
			case '>':
				t.state = sScriptData
			default:
				t.state = sScriptEscaped
			}
		case sScriptEscapedLessThan:
			switch {
			case c == '/':
				t.state = sScriptEscapedEndTagOpen
				t.match = 0
			case isAlpha(c):
				t.state = sScriptDoubleEscapeStart
				t.match = 0
				reconsume = true
			default:
				t.state = sScriptEscaped
				reconsume = true
			}
		case sScriptEscapedEndTagOpen:
			if isAlpha(c) {
				t.state = sScriptEscapedEndTagName
			} else {
				t.state = sScriptEscaped
			}
			reconsume = true
		case sScriptEscapedEndTagName:
			reconsume = t.endTagName(c, sScriptEscaped)
		case sScriptDoubleEscapeStart:
			reconsume = t.doubleEscape(c, sScriptDoubleEscaped, sScriptEscaped)
		case sScriptDoubleEscaped:
			switch c {
			case '-':
				t.state = sScriptDoubleEscapedDash
			case '<':
				t.state = sScriptDoubleEscapedLessThan
			}
		case sScriptDoubleEscapedDash:
			switch c {
			case '-':
				t.state = sScriptDoubleEscapedDashDash
			case '<':
				t.state = sScriptDoubleEscapedLessThan
			default:
				t.state = sScriptDoubleEscaped
			}
		case sScriptDoubleEscapedDashDash:
			switch c {
			case '-':
			case '<':
				t.state = sScriptDoubleEscapedLessThan
			case '>':
				t.state = sScriptData
			default:
				t.state = sScriptDoubleEscaped
			}
		case sScriptDoubleEscapedLessThan:
			if c == '/' {
				t.state = sScriptDoubleEscapeEnd
				t.match = 0
			} else {
				t.state = sScriptDoubleEscaped
				reconsume = true
			}
		case sScriptDoubleEscapeEnd:
			reconsume = t.doubleEscape(c, sScriptEscaped, sScriptDoubleEscaped)

		case sBeforeAttrName:
			switch {
			case isHTMLSpace(c):
			case c == '/' || c == '>':
				t.state = sAfterAttrName
				reconsume = true
			default:
				// "=" starts a name here too.
				t.attrLen = 0
				t.appendAttr(c)
				t.state = sAttrName
			}
		case sAttrName:
			switch {
			case endsTagName(c):
				t.endAttrName()
				t.state = sAfterAttrName
				reconsume = true
			case c == '=':
				t.endAttrName()
				t.state = sBeforeAttrValue
			default:
				t.appendAttr(c)
			}
		case sAfterAttrName:
			switch {
			case isHTMLSpace(c):
			case c == '/':
				t.state = sSelfClosingStartTag
			case c == '=':
				t.state = sBeforeAttrValue
			case c == '>':
				t.emitTag()
			default:
				t.attrLen = 0
				t.state = sAttrName
				reconsume = true
			}
		case sBeforeAttrValue:
			switch {
			case isHTMLSpace(c):
			case c == '"':
				t.state = sAttrValueDouble
			case c == '\'':
				t.state = sAttrValueSingle
			case c == '>':
				t.emitTag()
			default:
				t.state = sAttrValueUnquoted
				reconsume = true
			}
		case sAttrValueDouble:
			if c == '"' {
				t.state = sAfterAttrValueQuoted
			}
		case sAttrValueSingle:
			if c == '\'' {
				t.state = sAfterAttrValueQuoted
			}
		case sAttrValueUnquoted:
			switch {
			case isHTMLSpace(c):
				t.state = sBeforeAttrName
			case c == '>':
				t.emitTag()
			}
		case sAfterAttrValueQuoted:
			switch {
			case isHTMLSpace(c):
				t.state = sBeforeAttrName
			case c == '/':
				t.state = sSelfClosingStartTag
			case c == '>':
				t.emitTag()
			default:
				t.state = sBeforeAttrName
				reconsume = true
			}
		case sSelfClosingStartTag:
			if c == '>' {
				t.selfClosing = true
				t.emitTag()
			} else {
				t.state = sBeforeAttrName
				reconsume = true
			}

		case sBogusComment:
			if c == '>' {
				t.state = sData
			}
		case sMarkupDeclarationOpen:
			reconsume = t.markupDeclaration(c)
		case sCommentStart:
			switch c {
			case '-':
				t.state = sCommentStartDash
			case '>': // <!-->
				t.state = sData
			default:
				t.state = sComment
				reconsume = true
			}
		case sCommentStartDash:
			switch c {
			case '-':
				t.state = sCommentEnd
			case '>': // <!--->
				t.state = sData
			default:
				t.state = sComment
				reconsume = true
			}
		case sComment:
			switch c {
			case '<':
				t.state = sCommentLessThan
			case '-':
				t.state = sCommentEndDash
			}
		case sCommentLessThan:
			switch c {
			case '!':
				t.state = sCommentLessThanBang
			case '<':
			default:
				t.state = sComment
				reconsume = true
			}
		case sCommentLessThanBang:
			if c == '-' {
				t.state = sCommentLessThanBangDash
			} else {
				t.state = sComment
				reconsume = true
			}
		case sCommentLessThanBangDash:
			if c == '-' {
				t.state = sCommentLessThanBangDashDash
			} else {
				t.state = sCommentEndDash
				reconsume = true
			}
		case sCommentLessThanBangDashDash:
			t.state = sCommentEnd // a nested comment is only a parse error
			reconsume = true
		case sCommentEndDash:
			if c == '-' {
				t.state = sCommentEnd
			} else {
				t.state = sComment
				reconsume = true
			}
		case sCommentEnd:
			switch c {
			case '>':
				t.state = sData
			case '!':
				t.state = sCommentEndBang
			case '-':
			default:
				t.state = sComment
				reconsume = true
			}
		case sCommentEndBang:
			switch c {
			case '-':
				t.state = sCommentEndDash
			case '>': // --!>
				t.state = sData
			default:
				t.state = sComment
				reconsume = true
			}
		case sDoctype:
			if c == '>' {
				t.state = sData
			}
		case sCDATASection:
			if c == ']' {
				t.state = sCDATASectionBracket
			}
		case sCDATASectionBracket:
			if c == ']' {
				t.state = sCDATASectionEnd
			} else {
				t.state = sCDATASection
				reconsume = true
			}
		case sCDATASectionEnd:
			switch c {
			case ']':
			case '>':
				t.state = sData
			default:
				t.state = sCDATASection
				reconsume = true
			}
		}
		if !reconsume {
			return ev
		}
	}
}

// endTagName is the RCDATA, RAWTEXT, script data and script data escaped
// end tag name states: only the appropriate end tag (t.rawName) leaves
// the text. As soon as the name cannot be it, the bytes read are text of
// the state the tag was read in, so the byte is reconsumed there: text
// states treat letters as text, as the name state would have.
func (t *tokenizer) endTagName(c byte, text state) (reconsume bool) {
	appropriate := t.match == len(t.rawName)
	switch {
	case isHTMLSpace(c) && appropriate:
		t.rawEndTag()
		t.state = sBeforeAttrName
	case c == '/' && appropriate:
		t.rawEndTag()
		t.state = sSelfClosingStartTag
	case c == '>' && appropriate:
		t.rawEndTag()
		t.emitTag()
	case isAlpha(c) && t.match < len(t.rawName) && lower(c) == t.rawName[t.match]:
		t.match++
	default:
		t.state = text
		return true
	}
	return false
}

// rawEndTag makes the appropriate end tag the tag being read.
func (t *tokenizer) rawEndTag() {
	t.endTag, t.selfClosing, t.fontAttr = true, false, false
	t.nameLen = copy(t.name[:], t.rawName)
}

// doubleEscape is the script data double escape start and end states:
// "script" followed by whitespace, '/' or '>' moves to match, any other
// name to other.
func (t *tokenizer) doubleEscape(c byte, match, other state) (reconsume bool) {
	const name = "script"
	switch {
	case endsTagName(c):
		if t.match == len(name) {
			t.state = match
		} else {
			t.state = other
		}
	case isAlpha(c) && t.match < len(name) && lower(c) == name[t.match]:
		t.match++
	default:
		// Not "script": the rest of the name is text in other, and so is
		// the byte that ends it.
		t.state = other
		return true
	}
	return false
}

// markupDeclaration is the markup declaration open state, fed one byte at
// a time: "--" opens a comment, "DOCTYPE" (any case) a DOCTYPE, "[CDATA["
// a CDATA section in foreign content; anything else is a bogus comment
// that begins with the bytes read, none of which can end it.
func (t *tokenizer) markupDeclaration(c byte) (reconsume bool) {
	if t.match == 0 {
		switch {
		case c == '-':
			t.keyword = "--"
		case c == 'd' || c == 'D':
			t.keyword = "doctype"
		case c == '[' && t.inForeign():
			t.keyword = "[CDATA["
		default:
			t.state = sBogusComment
			return true
		}
	}
	k := c
	if t.keyword == "doctype" {
		k = lower(c)
	}
	if k != t.keyword[t.match] {
		t.state = sBogusComment
		return true
	}
	t.match++
	if t.match == len(t.keyword) {
		switch t.keyword {
		case "--":
			t.state = sCommentStart
		case "doctype":
			t.state = sDoctype
		default:
			t.state = sCDATASection
		}
	}
	return false
}

// emitTag is reached at the '>' that ends a tag: it applies what the tree
// builder does with the tag that changes the tokenizer's state or the
// bounded tree state, and returns to the data state unless the tag
// switches the tokenizer to another.
func (t *tokenizer) emitTag() {
	t.state = sData
	if t.nameLen > maxName {
		return
	}
	if t.endTag {
		t.emitEndTag()
		return
	}
	if t.inForeign() {
		if !t.breaksOut() {
			t.foreignStartTag()
			return
		}
		for t.inForeign() {
			t.popForeign()
		}
	}
	switch string(t.name[:t.nameLen]) {
	case "svg", "math":
		if !t.selfClosing { // an HTML parser acknowledges it here
			t.pushForeign(t.rootKind(), t.nameIs("math"))
		}
	case "template":
		t.templates++
	case "title", "textarea":
		t.raw(sRCDATA)
	case "style", "xmp", "iframe", "noembed", "noframes":
		t.raw(sRAWTEXT)
	case "noscript":
		if !t.scriptingOff {
			t.raw(sRAWTEXT)
		}
	case "script":
		t.raw(sScriptData)
	case "plaintext":
		t.state = sPlaintext
	}
}

// rootKind is the namespace a <svg> or <math> start tag in HTML content
// creates its element in.
func (t *tokenizer) rootKind() uint8 {
	if t.nameIs("math") {
		return nsMath | fRoot
	}
	return nsSVG | fRoot
}

// raw switches to a text state that only the end tag of the current tag
// name leaves.
func (t *tokenizer) raw(s state) {
	t.state = s
	switch string(t.name[:t.nameLen]) { // constant names: no allocation
	case "title":
		t.rawName = "title"
	case "textarea":
		t.rawName = "textarea"
	case "style":
		t.rawName = "style"
	case "xmp":
		t.rawName = "xmp"
	case "iframe":
		t.rawName = "iframe"
	case "noembed":
		t.rawName = "noembed"
	case "noframes":
		t.rawName = "noframes"
	case "noscript":
		t.rawName = "noscript"
	case "script":
		t.rawName = "script"
	}
}

// breaksOut reports whether a start tag in foreign content leaves it: the
// tree builder pops to the nearest HTML element or integration point.
func (t *tokenizer) breaksOut() bool {
	switch string(t.name[:t.nameLen]) {
	case "b", "big", "blockquote", "body", "br", "center", "code", "dd", "div", "dl", "dt",
		"em", "embed", "h1", "h2", "h3", "h4", "h5", "h6", "head", "hr", "i", "img", "li",
		"listing", "menu", "meta", "nobr", "ol", "p", "pre", "ruby", "s", "small", "span",
		"strong", "strike", "sub", "sup", "table", "tt", "u", "ul", "var":
		return true
	case "font":
		return t.fontAttr
	}
	return false
}

// foreignStartTag is a start tag that stays in foreign content: it is an
// element of the current namespace, which opens an integration point or a
// nested root that an end tag of its name closes.
func (t *tokenizer) foreignStartTag() {
	if t.selfClosing {
		return // acknowledged: nothing stays open
	}
	ns := nsSVG
	if t.deep == 0 && t.foreign[t.nforeign-1].kind&0xc0 == nsMath {
		ns = nsMath
	}
	var name uint8
	switch string(t.name[:t.nameLen]) {
	case "svg", "math":
		t.pushForeign(ns|fRoot, t.nameIs("math"))
		return
	case "foreignobject":
		name = fForeignObject
	case "desc":
		name = fDesc
	case "title":
		name = fTitle
	case "mi":
		name = fMI
	case "mo":
		name = fMO
	case "mn":
		name = fMN
	case "ms":
		name = fMS
	case "mtext":
		name = fMText
	case "annotation-xml":
		// An HTML integration point only with an HTML encoding; taking
		// it as one always errs towards not placing the banner there.
		name = fAnnotationXML
	default:
		return
	}
	if ns == nsSVG && name >= fMI || ns == nsMath && name < fMI {
		return // the other namespace's names are plain elements
	}
	t.pushForeign(ns|name, false)
}

// integrationName returns the name of an integration point entry kind.
func integrationName(kind uint8) string {
	switch kind & 0x3f {
	case fForeignObject:
		return "foreignobject"
	case fDesc:
		return "desc"
	case fTitle:
		return "title"
	case fMI:
		return "mi"
	case fMO:
		return "mo"
	case fMN:
		return "mn"
	case fMS:
		return "ms"
	case fMText:
		return "mtext"
	case fAnnotationXML:
		return "annotation-xml"
	}
	return ""
}

func (t *tokenizer) pushForeign(kind uint8, math bool) {
	if t.nforeign == maxForeign {
		t.deep++
		return
	}
	var name uint8
	if math {
		name = 1
	}
	t.foreign[t.nforeign] = foreignEntry{kind: kind, tmpl: int32(min(t.templates, 1<<30)), name: name}
	t.nforeign++
}

func (t *tokenizer) popForeign() {
	if t.deep > 0 {
		t.deep--
		return
	}
	t.nforeign--
}

// emitEndTag applies an end tag: a template's closes it and whatever
// foreign content was opened inside it; an svg or math root's, or an
// integration point's, closes it when it is open.
func (t *tokenizer) emitEndTag() {
	name := string(t.name[:t.nameLen])
	if t.inForeign() && (name == "br" || name == "p") {
		for t.inForeign() {
			t.popForeign()
		}
		return
	}
	switch name {
	case "template":
		if t.inForeign() || t.templates == 0 {
			return
		}
		t.templates--
		for t.nforeign > 0 && int(t.foreign[t.nforeign-1].tmpl) > t.templates {
			t.deep = 0
			t.nforeign--
		}
		return
	case "svg", "math":
		if t.deep > 0 {
			t.deep--
			return
		}
		want := uint8(0)
		if name == "math" {
			want = 1
		}
		for k := t.nforeign - 1; k >= 0; k-- {
			if e := t.foreign[k]; e.kind&0x3f == fRoot && e.name == want {
				t.nforeign = k
				return
			}
		}
		return
	}
	if t.deep == 0 && t.nforeign > 0 && integrationName(t.foreign[t.nforeign-1].kind) == name {
		t.nforeign--
	}
}

// closer returns markup that moves the tokenizer towards the data state
// with nothing open that would hide what follows: it ends the current tag,
// comment, raw text or CDATA section, then closes templates and foreign
// content. It returns "" once there is nothing left to close.
func (t *tokenizer) closer() string {
	switch t.state {
	case sData:
		switch {
		case t.templates > 0 && (t.nforeign == 0 || int(t.foreign[t.nforeign-1].tmpl) < t.templates):
			return "</template>" // opened inside the innermost foreign content
		case t.nforeign > 0 || t.deep > 0:
			if t.deep > 0 || t.foreign[t.nforeign-1].kind&0x3f == fRoot {
				if t.deep == 0 && t.foreign[t.nforeign-1].name == 1 {
					return "</math>"
				}
				return "</svg>"
			}
			switch t.foreign[t.nforeign-1].kind & 0x3f {
			case fForeignObject:
				return "</foreignObject>"
			case fDesc:
				return "</desc>"
			case fTitle:
				return "</title>"
			case fMI:
				return "</mi>"
			case fMO:
				return "</mo>"
			case fMN:
				return "</mn>"
			case fMS:
				return "</ms>"
			case fMText:
				return "</mtext>"
			}
			return "</annotation-xml>"
		case t.templates > 0:
			return "</template>"
		}
		return ""
	case sTagOpen:
		return " " // "<" then a space is text
	case sAttrValueDouble:
		return `">`
	case sAttrValueSingle:
		return `'>`
	case sEndTagOpen, sTagName, sBeforeAttrName, sAttrName, sAfterAttrName, sBeforeAttrValue,
		sAttrValueUnquoted, sAfterAttrValueQuoted, sSelfClosingStartTag, sBogusComment, sDoctype:
		return ">"
	case sMarkupDeclarationOpen:
		return ">" // a bogus comment, or an empty comment after "<!--"
	case sCommentStart, sCommentStartDash, sComment, sCommentLessThan, sCommentLessThanBang,
		sCommentLessThanBangDash, sCommentLessThanBangDashDash, sCommentEndDash, sCommentEnd, sCommentEndBang:
		return "-->"
	case sCDATASection, sCDATASectionBracket, sCDATASectionEnd:
		return "]]>"
	case sRCDATA, sRAWTEXT, sRawLessThan, sRawEndTagOpen, sRawEndTagName:
		return "</" + t.rawName + ">" // once per page, at its end
	case sScriptData, sScriptLessThan, sScriptEndTagOpen, sScriptEndTagName:
		return "</script>"
	case sScriptEscapeStart, sScriptEscapeStartDash:
		return "</script>"
	case sScriptEscaped, sScriptEscapedDash, sScriptEscapedDashDash, sScriptEscapedLessThan,
		sScriptEscapedEndTagOpen, sScriptEscapedEndTagName, sScriptDoubleEscapeStart,
		sScriptDoubleEscaped, sScriptDoubleEscapedDash, sScriptDoubleEscapedDashDash,
		sScriptDoubleEscapedLessThan, sScriptDoubleEscapeEnd:
		return "-->"
	}
	return "" // PLAINTEXT cannot be closed; the Injector never ends there
}

// skip returns the index of the first byte from p[k] on that the current
// state does not simply consume as text: the tokenizer's fast path. It
// also consumes, with the state changes step would make, the opening of a
// tag that cannot be the body's end or <plaintext> (skipTagOpen), its name
// and, outside foreign content, its attributes (skipAttributes), so that
// step only sees the bytes that may produce an event or end a tag.
// FuzzSkipAhead holds it to stepping every byte.
func (t *tokenizer) skip(p []byte, k int) int {
	var n int
	switch t.state {
	case sData:
		for {
			n = indexByte(p[k:], '<')
			if n < 0 {
				return len(p)
			}
			end := t.skipPlainTag(p, k+n)
			if end == k+n {
				break
			}
			k, n = end, 0
		}
		if m := t.skipTagOpen(p, k+n); m > k+n {
			return t.skip(p, m)
		}
	case sRCDATA, sRAWTEXT, sScriptData:
		n = bytes.IndexByte(p[k:], '<')
	case sAttrValueDouble, sAttrValueSingle:
		if t.nforeign == 0 && t.deep == 0 {
			return t.skipAttributes(p, k)
		}
		quote := byte('"')
		if t.state == sAttrValueSingle {
			quote = '\''
		}
		n = bytes.IndexByte(p[k:], quote)
	case sBogusComment, sDoctype:
		n = bytes.IndexByte(p[k:], '>')
	case sCDATASection:
		n = bytes.IndexByte(p[k:], ']')
	case sComment, sScriptEscaped, sScriptDoubleEscaped:
		for n = k; n < len(p) && p[n] != '-' && p[n] != '<'; n++ {
		}
		return n
	case sPlaintext:
		return len(p)
	case sAttrName:
		if t.nforeign > 0 || t.deep > 0 {
			return k // <font color> may break out of foreign content
		}
		return t.skipAttributes(p, k)
	case sTagName:
		if t.cand != candNone {
			return k // each byte decides the candidate
		}
		for n = k; n < len(p); n++ {
			c := p[n]
			if endsTagName(c) {
				break
			}
			if c == 0 {
				c = 0xff // as step does
			}
			t.appendName(c)
		}
		if n < len(p) && isHTMLSpace(p[n]) {
			t.state = sBeforeAttrName // as step does without a candidate
			return t.skip(p, n+1)
		}
		return n
	case sBeforeAttrName, sAfterAttrName:
		if t.nforeign == 0 && t.deep == 0 {
			return t.skipAttributes(p, k)
		}
		for n = k; n < len(p) && isHTMLSpace(p[n]); n++ {
		}
		return n
	case sBeforeAttrValue, sAfterAttrValueQuoted:
		if t.nforeign == 0 && t.deep == 0 {
			return t.skipAttributes(p, k)
		}
		return k
	case sAttrValueUnquoted:
		if t.nforeign == 0 && t.deep == 0 {
			return t.skipAttributes(p, k)
		}
		for n = k; n < len(p) && !isHTMLSpace(p[n]) && p[n] != '>'; n++ {
		}
		return n
	default:
		return k
	}
	if n < 0 {
		return len(p)
	}
	return k + n
}

// indexByte is bytes.IndexByte for the short runs of a tag-dense page,
// the text between two tags and an attribute's value: it looks at the
// first bytes itself, which costs less than the call and its vector setup,
// and hands the rest of a longer run to bytes.IndexByte.
func indexByte(p []byte, c byte) int {
	const inline = 16
	for i := 0; i < len(p) && i < inline; i++ {
		if p[i] == c {
			return i
		}
	}
	if len(p) <= inline {
		return -1
	}
	if n := bytes.IndexByte(p[inline:], c); n >= 0 {
		return inline + n
	}
	return -1
}

// skipPlainTag consumes, in the data state outside foreign content, the
// whole tag that starts with the '<' at p[at] when it ends within p and its
// name is none that changes the tokenizer's state or the bounded tree state
// (tracked), and returns the index after its '>'; it returns at otherwise,
// with nothing changed. Such a tag leaves the tokenizer as it found it, in
// the data state, so most of a page's tags cost a name check and a scan of
// their attributes instead of a step per state change.
func (t *tokenizer) skipPlainTag(p []byte, at int) int {
	if t.nforeign > 0 || t.deep > 0 {
		return at
	}
	k, end := at+1, false
	if k < len(p) && p[k] == '/' {
		k, end = k+1, true
	}
	if k >= len(p) || !isAlpha(p[k]) {
		return at
	}
	var name [len("plaintext")]byte // the longest tracked name
	n := 0
	for ; k < len(p); k++ {
		c := p[k]
		if endsTagName(c) {
			break
		}
		if n < len(name) {
			name[n] = lower(c)
		}
		n++
	}
	if k == len(p) || n <= len(name) && tracked(name[:n], end) {
		return at
	}
	// After the name: '>' ends the tag, '/' may, whitespace starts the
	// attributes; skipAttributes stops at each '/' or '>' outside a value.
	for p[k] != '>' {
		if p[k] == '/' && k+1 < len(p) && p[k+1] == '>' {
			break // self-closing, which such a tag ignores
		}
		// Whitespace, or a '/' not followed by '>': both lead to the
		// before attribute name state (the byte after a stray '/' is
		// reconsumed there).
		t.state = sBeforeAttrName
		k = t.skipAttributes(p, k+1)
		t.state = sData
		if k == len(p) {
			return at
		}
	}
	if p[k] == '/' {
		k++
	}
	return k + 1
}

// tracked reports whether a tag with the lower-cased name changes what the
// tokenizer tracks outside foreign content: what emitTag acts on for a start
// tag, and the end tags of the body and of a template.
func tracked(name []byte, end bool) bool {
	// Most tags ("div", "a", "span") are ruled out by their first letter
	// without comparing names.
	letters := uint32(trackedStartLetters)
	if end {
		letters = trackedEndLetters
	}
	if len(name) == 0 || name[0] < 'a' || name[0] > 'z' || letters&(1<<(name[0]-'a')) == 0 {
		return false
	}
	if end {
		switch string(name) {
		case "body", "template":
			return true
		}
		return false
	}
	switch string(name) {
	case "svg", "math", "template", "title", "textarea", "style", "xmp", "iframe",
		"noembed", "noframes", "noscript", "script", "plaintext":
		return true
	}
	return false
}

// The first letters of the names tracked reports, start tags and end tags.
const (
	trackedStartLetters = 1<<('s'-'a') | 1<<('m'-'a') | 1<<('t'-'a') | 1<<('x'-'a') |
		1<<('i'-'a') | 1<<('n'-'a') | 1<<('p'-'a')
	trackedEndLetters = 1<<('b'-'a') | 1<<('t'-'a')
)

// skipTagOpen consumes, in the data state, the '<' at p[at] and the
// first letter of a tag name after it (or "</" and the letter) when that
// letter already rules out the tags the Injector holds a '<' for ("body"
// of an end tag, "plaintext" of a start tag), which stepping would hold
// and release again at the letter, and returns the index after them; it
// returns at when it cannot decide there.
func (t *tokenizer) skipTagOpen(p []byte, at int) int {
	switch {
	case at+1 < len(p) && isAlpha(p[at+1]) && lower(p[at+1]) != 'p':
		t.startTag(p[at+1], false)
		t.state = sTagName
		return at + 2
	case at+2 < len(p) && p[at+1] == '/' && isAlpha(p[at+2]) && lower(p[at+2]) != 'b':
		t.startTag(p[at+2], true)
		t.state = sTagName
		return at + 3
	}
	return at
}

// skipAttributes runs the attribute states (before, in and after a name,
// before and in a value) over p[k:] up to the byte that ends the tag ('>')
// or may make it self-closing ('/'), which step takes, and returns its
// index. Outside foreign content nothing in an attribute matters but where
// it ends (the names that do, of <font>, only matter in foreign content),
// so a tag's attributes cost a loop instead of a step per state change.
// The transitions are step's, with its reconsumes followed through.
func (t *tokenizer) skipAttributes(p []byte, k int) int {
	s := t.state
	for ; k < len(p); k++ {
		c := p[k]
		switch s {
		case sBeforeAttrName:
			switch {
			case isHTMLSpace(c):
			case c == '/' || c == '>':
				t.state = s
				return k
			default:
				s = sAttrName
			}
		case sAttrName:
			for byteClass[c] == 0 { // the rest of the name, which nothing in it ends
				if k++; k == len(p) {
					t.state = s
					return k
				}
				c = p[k]
			}
			switch {
			case isHTMLSpace(c):
				s = sAfterAttrName
			case c == '/' || c == '>':
				t.state = s
				return k
			case c == '=':
				s = sBeforeAttrValue
			}
		case sAfterAttrName:
			switch {
			case isHTMLSpace(c):
			case c == '/' || c == '>':
				t.state = s
				return k
			case c == '=':
				s = sBeforeAttrValue
			default:
				s = sAttrName
			}
		case sBeforeAttrValue:
			switch {
			case isHTMLSpace(c):
			case c == '"':
				s = sAttrValueDouble
			case c == '\'':
				s = sAttrValueSingle
			case c == '>':
				t.state = s
				return k
			default:
				s = sAttrValueUnquoted
			}
		case sAttrValueDouble, sAttrValueSingle:
			quote := byte('"')
			if s == sAttrValueSingle {
				quote = '\''
			}
			n := indexByte(p[k:], quote)
			if n < 0 {
				t.state = s
				return len(p)
			}
			k += n
			s = sAfterAttrValueQuoted
		case sAttrValueUnquoted:
			switch {
			case isHTMLSpace(c):
				s = sBeforeAttrName
			case c == '>':
				t.state = s
				return k
			}
		case sAfterAttrValueQuoted:
			switch {
			case isHTMLSpace(c):
				s = sBeforeAttrName
			case c == '/' || c == '>':
				t.state = s
				return k
			default:
				s = sAttrName // reconsumed before a name: it starts one
			}
		default:
			t.state = s
			return k
		}
	}
	t.state = s
	return k
}
