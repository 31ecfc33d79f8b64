package decide

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"hash"
	"sync"
	"time"

	"tailor/internal/apierr"
)

// A tracking token names what was shown to whom: the placement, variant,
// experiment and product of one decision, and the visitor's userId or
// anonymousId. The page sends it back with an impression or a click; the
// signature makes the event's identity and placement the server's own
// words, so a page cannot record clicks for another visitor or placement
// it was not shown.
//
// Layout (before base64url without padding):
//
//	version:1 issued:4 (unix seconds, big-endian) kind:1 ('u' userId, 'a' anonymousId)
//	then who, placement, variant, experiment, arm, item, each length:1 + bytes, then position:1
//	then the first tagLen bytes of HMAC-SHA256(secret, everything before)
const (
	tokenVersion = 1
	tagLen       = 12
	// maxField bounds each field (one length byte).
	maxField = 255
)

// Token is the decoded content of a tracking token.
type Token struct {
	Issued      time.Time
	UserID      string // one of UserID and AnonymousID is set
	AnonymousID string
	Placement   string
	Variant     string
	// Experiment and Arm are the experiment id and the variant it
	// assigned the visitor, when it assigned one.
	Experiment string
	Arm        string
	Item       string
	Position   int // the item's place in its list, from 1; 0 for the placement itself
}

// Signer makes and checks tracking tokens with one secret.
type Signer struct {
	pool sync.Pool // of hash.Hash (HMAC-SHA256 with the secret)
}

// NewSigner returns a signer for secret (at least 16 bytes).
func NewSigner(secret []byte) (*Signer, error) {
	if len(secret) < 16 {
		return nil, errors.New("decide: token secret must be at least 16 bytes")
	}
	key := append([]byte(nil), secret...)
	s := &Signer{}
	s.pool.New = func() any { return hmac.New(sha256.New, key) }
	return s, nil
}

// appendToken appends the token of t to dst and returns it; scratch is a
// buffer for the raw bytes (returned grown, for reuse). Fields longer than
// maxField are cut (ids are far shorter; a cut field still verifies, it
// only names less).
func (s *Signer) appendToken(dst, scratch []byte, t *Token) ([]byte, []byte) {
	raw := scratch[:0]
	raw = append(raw, tokenVersion)
	raw = binary.BigEndian.AppendUint32(raw, uint32(t.Issued.Unix()))
	who := t.UserID
	if who != "" {
		raw = append(raw, 'u')
	} else {
		raw = append(raw, 'a')
		who = t.AnonymousID
	}
	for _, f := range [...]string{who, t.Placement, t.Variant, t.Experiment, t.Arm, t.Item} {
		if len(f) > maxField {
			f = f[:maxField]
		}
		raw = append(raw, byte(len(f)))
		raw = append(raw, f...)
	}
	raw = append(raw, byte(min(t.Position, 255)))
	m := s.pool.Get().(hash.Hash)
	m.Reset()
	m.Write(raw)
	// The tag is summed onto raw itself (a local array would escape
	// through the hash.Hash interface) and cut to tagLen.
	n := len(raw)
	raw = m.Sum(raw)[:n+tagLen]
	s.pool.Put(m)
	return base64.RawURLEncoding.AppendEncode(dst, raw), raw
}

// Token returns the token of t as a string.
func (s *Signer) Token(t Token) string {
	b, _ := s.appendToken(nil, nil, &t)
	return string(b)
}

// Verify decodes and checks tok; an error is an *apierr.Error with code
// BadToken.
func (s *Signer) Verify(tok string) (Token, error) {
	bad := func(why string) (Token, error) {
		return Token{}, apierr.New(apierr.BadToken, "tracking token "+why)
	}
	if len(tok) > 2048 {
		return bad("is too long")
	}
	raw, err := base64.RawURLEncoding.DecodeString(tok)
	if err != nil {
		return bad("is not base64url")
	}
	if len(raw) < 1+4+1+6+1+tagLen || raw[0] != tokenVersion {
		return bad("is malformed")
	}
	body, tag := raw[:len(raw)-tagLen], raw[len(raw)-tagLen:]
	m := s.pool.Get().(hash.Hash)
	m.Reset()
	m.Write(body)
	want := m.Sum(nil)
	s.pool.Put(m)
	if !hmac.Equal(want[:tagLen], tag) {
		return bad("is not signed by this server")
	}
	var t Token
	t.Issued = time.Unix(int64(binary.BigEndian.Uint32(body[1:5])), 0).UTC()
	kind := body[5]
	rest := body[6:]
	var fields [6]string
	for i := range fields {
		if len(rest) < 1 || len(rest) < 1+int(rest[0]) {
			return bad("is malformed")
		}
		n := int(rest[0])
		fields[i], rest = string(rest[1:1+n]), rest[1+n:]
	}
	if len(rest) != 1 {
		return bad("is malformed")
	}
	t.Position = int(rest[0])
	switch kind {
	case 'u':
		t.UserID = fields[0]
	case 'a':
		t.AnonymousID = fields[0]
	default:
		return bad("is malformed")
	}
	t.Placement, t.Variant, t.Experiment, t.Arm, t.Item = fields[1], fields[2], fields[3], fields[4], fields[5]
	return t, nil
}
