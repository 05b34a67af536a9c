package session

import (
	"iter"
	"slices"
	"sync/atomic"
	"unicode/utf8"
)

// MaxValueLen is the longest context value handed to backends, in bytes.
// Longer values are dropped: a header that size is a mistake or an attack,
// and some backends reject large headers outright.
const MaxValueLen = 1024

// FieldSet is the set of context fields a journey's backends may see,
// built once at config time. A lookup fetches these fields and no other,
// so a customer's data that no backend of the journey is allowed to see
// never leaves Redis.
type FieldSet struct {
	id    uint64   // distinguishes field sets in the cache key
	names []string // deduplicated, in the order first given
}

// fieldSetIDs numbers FieldSets; starting at 1 leaves 0 unused.
var fieldSetIDs atomic.Uint64

// NewFieldSet returns the field set of the given Redis hash field names.
// Duplicates and empty names are dropped; names are case-sensitive, as
// hash fields are. An empty set is valid: lookups with it only tell
// whether the session exists.
func NewFieldSet(fields []string) *FieldSet {
	fs := &FieldSet{id: fieldSetIDs.Add(1)}
	for _, f := range fields {
		if f != "" && !slices.Contains(fs.names, f) {
			fs.names = append(fs.names, f)
		}
	}
	return fs
}

// Names returns the field names of the set, in order.
func (fs *FieldSet) Names() []string {
	return slices.Clone(fs.names)
}

// Len returns the number of fields in the set.
func (fs *FieldSet) Len() int {
	return len(fs.names)
}

// index returns the position of name in the set, or -1. Field sets are a
// handful of names: a scan beats hashing.
func (fs *FieldSet) index(name string) int {
	for i, n := range fs.names {
		if n == name {
			return i
		}
	}
	return -1
}

// Context is the customer context of one session: the values of a
// FieldSet's fields that the session's hash holds. It is immutable and
// shared between the requests the cache serves it to.
//
// A nil *Context is the context of no session: it has no fields.
type Context struct {
	fs     *FieldSet
	values []value // by position in fs.names
	n      int     // number of present values
}

// value is one field's value; ok is false when the hash has no such field
// or its value was dropped.
type value struct {
	s  string
	ok bool
}

// Get returns the value of field and whether the session has it. Fields
// outside the lookup's FieldSet are never present.
func (c *Context) Get(field string) (string, bool) {
	if c == nil {
		return "", false
	}
	i := c.fs.index(field)
	if i < 0 {
		return "", false
	}
	v := c.values[i]
	return v.s, v.ok
}

// Len returns the number of fields present.
func (c *Context) Len() int {
	if c == nil {
		return 0
	}
	return c.n
}

// Fields iterates over the fields present, as name and value, in the order
// of the FieldSet. It allocates nothing.
func (c *Context) Fields() iter.Seq2[string, string] {
	return func(yield func(string, string) bool) {
		if c == nil {
			return
		}
		for i, v := range c.values {
			if v.ok && !yield(c.fs.names[i], v.s) {
				return
			}
		}
	}
}

// idChars marks the bytes allowed in a session id.
var idChars = func() (t [256]bool) {
	for c := '0'; c <= '9'; c++ {
		t[c] = true
	}
	for c := 'a'; c <= 'z'; c++ {
		t[c] = true
		t[c-'a'+'A'] = true
	}
	for _, c := range "._~+/=-" {
		t[c] = true
	}
	return t
}()

// ValidID reports whether id is a plausible session id: 8 to 256 bytes of
// letters, digits and ._~+/=- (what base64, base64url, hex and UUIDs are
// made of). Anything else is never sent to Redis: an attacker's cookie
// cannot make the gateway query arbitrary keys, build huge keys, or use a
// Cluster hash tag.
func ValidID(id string) bool {
	if len(id) < 8 || len(id) > 256 {
		return false
	}
	for i := 0; i < len(id); i++ {
		if !idChars[id[i]] {
			return false
		}
	}
	return true
}

// validValue reports whether v can be handed to a backend as a header
// value: valid UTF-8 of at most MaxValueLen bytes without control
// characters. CR and LF would let a value inject headers; the other
// controls, TAB included, have no business in a header and some servers
// mishandle them. C1 controls (U+0080 to U+009F) are refused too.
func validValue(v string) bool {
	if len(v) > MaxValueLen {
		return false
	}
	for i := 0; i < len(v); {
		c := v[i]
		if c < utf8.RuneSelf {
			if c < 0x20 || c == 0x7f {
				return false
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(v[i:])
		if r == utf8.RuneError && size == 1 {
			return false
		}
		if r <= 0x9f {
			return false
		}
		i += size
	}
	return true
}
