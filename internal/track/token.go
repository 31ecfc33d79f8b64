// Package track signs the links Tailor puts into messages (open pixel,
// click redirect, preference center, unsubscribe, email confirmation) and
// builds the internal events those links record. A token carries what the
// link stands for, so following it needs no lookup and no login; the HMAC
// makes it unforgeable, so a click redirect can only lead where a message
// we rendered pointed.
package track

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
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
}

// ErrBadToken is a token that does not decode or whose signature is wrong.
var ErrBadToken = errors.New("invalid or tampered link")

// Signer signs and verifies tokens with one server secret.
type Signer struct{ secret []byte }

// NewSigner returns a signer over secret, which must be at least 16 bytes.
func NewSigner(secret []byte) (*Signer, error) {
	if len(secret) < 16 {
		return nil, fmt.Errorf("track: secret of %d bytes is too short", len(secret))
	}
	return &Signer{secret: append([]byte(nil), secret...)}, nil
}

// macLen is the truncated HMAC length: 128 bits are beyond guessing and keep
// URLs short.
const macLen = 16

// Sign returns the token for c.
func (s *Signer) Sign(c Claims) string {
	body, _ := json.Marshal(c) // a struct of strings always encodes
	p := base64.RawURLEncoding.EncodeToString(body)
	return p + "." + base64.RawURLEncoding.EncodeToString(s.mac(p))
}

func (s *Signer) mac(payload string) []byte {
	m := hmac.New(sha256.New, s.secret)
	m.Write([]byte(payload))
	return m.Sum(nil)[:macLen]
}

// Verify returns the claims of tok if its signature is right and its kind is
// kind.
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
