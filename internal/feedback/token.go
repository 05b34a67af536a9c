// Package feedback mints and checks the tokens behind the customer's own
// feedback on a page: escalating to the brand's team, and answering "did
// this solve your problem?". A token is an HMAC over what it is for (the
// journey, the backend that served the page, the request reference, when
// it was minted) and the customer's session, so that it cannot be forged,
// used by another customer, or kept for later; the Ledger redeems it once
// across the fleet and counts a rating once per customer and backend.
//
// The package knows nothing of Caddy or HTTP. Nothing it returns contains
// a session id.
package feedback

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base32"
	"encoding/hex"
	"errors"
	"strconv"
	"strings"
	"time"
)

// Validity is how long a token can be used after it was minted.
const Validity = 12 * time.Hour

// Claims is what a token says: the page it came with.
type Claims struct {
	Journey, Backend string
	Ref              string    // the request reference of the page
	Minted           time.Time // to the second
	// Anonymous is set on a token minted for a visitor without a session:
	// anyone holding it may use it, and what it counts is anonymous.
	Anonymous bool
	// ID identifies the token for redemption; set by Verify.
	ID string
}

// Why a token is refused; metric label values.
var (
	ErrForged        = errors.New("feedback token: not minted by this fleet")
	ErrExpired       = errors.New("feedback token: expired")
	ErrOtherCustomer = errors.New("feedback token: minted for another session")
)

// Reasons of the errors above, for metrics.
const (
	ReasonForged        = "forged"
	ReasonExpired       = "expired"
	ReasonOtherCustomer = "other_customer"
)

// Reason names a Verify error, as one of the Reason constants.
func Reason(err error) string {
	switch {
	case errors.Is(err, ErrExpired):
		return ReasonExpired
	case errors.Is(err, ErrOtherCustomer):
		return ReasonOtherCustomer
	}
	return ReasonForged
}

// encoding keeps tokens to letters and digits: they go into a URL and a
// banner's markup unescaped.
var encoding = base32.StdEncoding.WithPadding(base32.NoPadding)

const (
	macSize     = 16   // bytes of HMAC-SHA256 kept
	bindSize    = 12   // bytes of the session binding
	maxTokenLen = 1024 // characters; longer is no token of ours
	sep         = "\x00"
)

// mint returns a token for c and the session id (empty: anonymous) under
// key.
func mint(key []byte, sessionID string, c Claims) string {
	bind := ""
	if sessionID != "" {
		bind = hex.EncodeToString(binding(key, sessionID))
	}
	payload := strings.Join([]string{c.Journey, c.Backend, c.Ref, strconv.FormatInt(c.Minted.Unix(), 10), bind}, sep)
	raw := append([]byte(payload), sign(key, payload)...)
	return encoding.EncodeToString(raw)
}

func sign(key []byte, payload string) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte("token" + sep))
	m.Write([]byte(payload))
	return m.Sum(nil)[:macSize]
}

// binding ties a token to a session without carrying its id.
func binding(key []byte, sessionID string) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte("session" + sep))
	m.Write([]byte(sessionID))
	return m.Sum(nil)[:bindSize]
}

// verify checks a token against each of keys and the requester's session
// id (empty: none) at now.
func verify(keys [][]byte, token, sessionID string, now time.Time) (Claims, error) {
	if len(token) == 0 || len(token) > maxTokenLen {
		return Claims{}, ErrForged
	}
	raw, err := encoding.DecodeString(token)
	if err != nil || len(raw) <= macSize {
		return Claims{}, ErrForged
	}
	payload, mac := string(raw[:len(raw)-macSize]), raw[len(raw)-macSize:]
	var key []byte
	for _, k := range keys {
		if k != nil && hmac.Equal(sign(k, payload), mac) {
			key = k
			break
		}
	}
	if key == nil {
		return Claims{}, ErrForged
	}
	parts := strings.Split(payload, sep)
	if len(parts) != 5 {
		return Claims{}, ErrForged
	}
	unix, err := strconv.ParseInt(parts[3], 10, 64)
	if err != nil {
		return Claims{}, ErrForged
	}
	c := Claims{Journey: parts[0], Backend: parts[1], Ref: parts[2], Minted: time.Unix(unix, 0),
		Anonymous: parts[4] == "", ID: hex.EncodeToString(mac)}
	if now.Before(c.Minted.Add(-time.Minute)) || !now.Before(c.Minted.Add(Validity)) {
		return Claims{}, ErrExpired
	}
	if !c.Anonymous {
		want, err := hex.DecodeString(parts[4])
		if err != nil || sessionID == "" || !bytes.Equal(want, binding(key, sessionID)) {
			return Claims{}, ErrOtherCustomer
		}
	}
	return c, nil
}

// Expires is when the token of c stops being valid.
func (c Claims) Expires() time.Time { return c.Minted.Add(Validity) }
