// Package track signs the links Tailor puts into messages (open pixel,
// click redirect, preference center, unsubscribe, email confirmation) and
// builds the internal events those links record. A token carries what the
// link stands for, so following it needs no lookup and no login; the HMAC
// makes it unforgeable, so a click redirect can only lead where a message
// we rendered pointed.
//
// Every token carries an expiry (Lifetimes): a forwarded or leaked email
// should not open a person's preferences, or keep feeding tracking, for
// ever. The lifetimes, from the token's signing (the render of its message):
//
//   - unsubscribe: 10 years. It must keep working as long as anyone may
//     still read the message (CAN-SPAM asks 30 days at least, and the
//     mailbox providers' one-click rules expect it to simply work); a
//     decade is "always" for an email while not being a key for ever.
//   - preference center: 1 year; every message carries a fresh link.
//   - click redirect: 1 year; an expired one still shows where it led, as
//     a plain link, without recording the click.
//   - open pixel: 180 days; later fetches get the image and record nothing.
//   - double opt-in confirmation: 7 days; then the person asks again.
//
// Tokens signed before expiries existed carry none and keep working.
package track

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
)

// Token kinds: what a signed link may do.
const (
	KindOpen        = "o" // open pixel
	KindClick       = "c" // click redirect to URL
	KindPreferences = "p" // preference center of Profile
	KindUnsubscribe = "u" // one-click unsubscribe of Profile from Channel
	KindConfirm     = "d" // double opt-in confirmation of Channel
)

// Claims is what a token says. Short JSON names keep links short.
type Claims struct {
	Kind     string `json:"k"`
	Profile  string `json:"p"`
	Key      string `json:"m,omitempty"` // message (outbox) key
	Channel  string `json:"c,omitempty"`
	Template string `json:"t,omitempty"`
	Journey  string `json:"j,omitempty"`
	Step     string `json:"s,omitempty"`
	URL      string `json:"u,omitempty"`
	// Expires is the token's end, unix seconds; 0 (tokens signed before
	// expiries existed): none. Sign sets it from Lifetimes when unset.
	Expires int64 `json:"e,omitempty"`
}

// ErrBadToken is a token that does not decode or whose signature is wrong.
var ErrBadToken = errors.New("invalid or tampered link")

// ErrExpired is a genuine token past its expiry; Verify returns its claims
// with it, so that a page can say what the link was for.
var ErrExpired = errors.New("expired link")

// Lifetimes are how long a token of each kind is valid after it is signed
// (see the package comment for why).
var Lifetimes = map[string]time.Duration{
	KindUnsubscribe: 10 * 365 * 24 * time.Hour,
	KindPreferences: 365 * 24 * time.Hour,
	KindClick:       365 * 24 * time.Hour,
	KindOpen:        180 * 24 * time.Hour,
	KindConfirm:     7 * 24 * time.Hour,
}

// Signer signs and verifies tokens with one server secret.
type Signer struct {
	secret []byte
	// Now is the clock expiries are set and checked by (time.Now when
	// nil).
	Now func() time.Time
}

// NewSigner returns a signer over secret, which must be at least 16 bytes.
func NewSigner(secret []byte) (*Signer, error) {
	if len(secret) < 16 {
		return nil, fmt.Errorf("track: secret of %d bytes is too short", len(secret))
	}
	return &Signer{secret: append([]byte(nil), secret...)}, nil
}

func (s *Signer) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}

// macLen is the truncated HMAC length: 128 bits are beyond guessing and keep
// URLs short.
const macLen = 16

// Sign returns the token for c, expiring after its kind's lifetime unless
// c.Expires is set.
func (s *Signer) Sign(c Claims) string {
	if c.Expires == 0 {
		if d, ok := Lifetimes[c.Kind]; ok {
			c.Expires = s.now().Add(d).Unix()
		}
	}
	body, _ := json.Marshal(c) // a struct of strings and a number always encodes
	p := base64.RawURLEncoding.EncodeToString(body)
	return p + "." + base64.RawURLEncoding.EncodeToString(s.mac(p))
}

func (s *Signer) mac(payload string) []byte {
	m := hmac.New(sha256.New, s.secret)
	m.Write([]byte(payload))
	return m.Sum(nil)[:macLen]
}

// Verify returns the claims of tok if its signature is right, its kind is
// kind and it has not expired. An expired token answers its claims with
// ErrExpired.
func (s *Signer) Verify(tok, kind string) (Claims, error) {
	p, sig, ok := strings.Cut(tok, ".")
	if !ok {
		return Claims{}, ErrBadToken
	}
	got, err := base64.RawURLEncoding.DecodeString(sig)
	if err != nil || !hmac.Equal(got, s.mac(p)) {
		return Claims{}, ErrBadToken
	}
	body, err := base64.RawURLEncoding.DecodeString(p)
	if err != nil {
		return Claims{}, ErrBadToken
	}
	var c Claims
	if err := json.Unmarshal(body, &c); err != nil || c.Kind != kind || c.Profile == "" {
		return Claims{}, ErrBadToken
	}
	if c.Expires != 0 && s.now().Unix() >= c.Expires {
		return c, ErrExpired
	}
	return c, nil
}

// Path is the URL path a token of kind is served under (without the token).
func Path(kind string) string {
	switch kind {
	case KindOpen:
		return "/t/o/"
	case KindClick:
		return "/t/c/"
	case KindPreferences:
		return "/p/"
	case KindUnsubscribe:
		return "/u/"
	case KindConfirm:
		return "/t/d/"
	}
	return "/"
}

// URL returns base's link for a token of c.Kind.
func (s *Signer) URL(base string, c Claims) string {
	return base + Path(c.Kind) + s.Sign(c)
}
