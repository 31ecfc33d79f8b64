package auth

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/cockroachdb/pebble/v2"

	"tailor/internal/store"
)

// ErrNoSession is a session id that is unknown, expired or signed out.
var ErrNoSession = errors.New("no such session")

// session is what the store keeps of a login, under the hash of its id.
type session struct {
	Email   string    `json:"email"`
	Created time.Time `json:"created"`
	Seen    time.Time `json:"seen"` // last use, to within touchEvery
}

// touchEvery is how stale a session's last use may be in the store: using
// a session rewrites it at most this often, so idle expiry is exact to
// within this and reads do not each cost a write.
const touchEvery = time.Minute

// sessionIDBytes is 256 bits of randomness: unguessable, and hashing it
// (rather than stretching it like a password) is enough to store it.
const sessionIDBytes = 32

func sessionKey(id string) []byte {
	sum := sha256.Sum256([]byte(id))
	return store.Key(prefixSession, hex.EncodeToString(sum[:]))
}

func (s *Service) createSession(email string) (string, error) {
	var b [sessionIDBytes]byte
	_, _ = rand.Read(b[:])
	id := base64.RawURLEncoding.EncodeToString(b[:])
	now := s.opts.Now().UTC()
	v, err := json.Marshal(session{Email: email, Created: now, Seen: now})
	if err != nil {
		return "", err
	}
	if err := s.db.Set(sessionKey(id), v, pebble.Sync); err != nil {
		return "", fmt.Errorf("store session: %w", err)
	}
	return id, nil
}

// Session returns the account signed in with session id, or ErrNoSession
// when the id is unknown, the session was idle longer than IdleTimeout or
// is older than MaxAge, or its account is gone. The role is the account's
// current one.
func (s *Service) Session(id string) (User, error) {
	if id == "" || len(id) > 2*sessionIDBytes {
		return User{}, ErrNoSession
	}
	key := sessionKey(id)
	v, closer, err := s.db.Get(key)
	if errors.Is(err, pebble.ErrNotFound) {
		return User{}, ErrNoSession
	}
	if err != nil {
		return User{}, fmt.Errorf("read session: %w", err)
	}
	var ss session
	err = json.Unmarshal(v, &ss)
	closer.Close()
	if err != nil {
		return User{}, fmt.Errorf("decode session: %w", err)
	}
	now := s.opts.Now()
	if s.expired(ss, now) {
		_ = s.db.Delete(key, pebble.NoSync)
		return User{}, ErrNoSession
	}
	r, err := s.getRecord(ss.Email)
	if errors.Is(err, ErrNoUser) {
		_ = s.db.Delete(key, pebble.NoSync)
		return User{}, ErrNoSession
	}
	if err != nil {
		return User{}, err
	}
	if now.Sub(ss.Seen) >= touchEvery {
		ss.Seen = now.UTC()
		if v, err := json.Marshal(ss); err == nil {
			// Losing this write in a crash only makes the session look
			// idle since its previous touch.
			_ = s.db.Set(key, v, pebble.NoSync)
		}
	}
	return r.User, nil
}

func (s *Service) expired(ss session, now time.Time) bool {
	return now.Sub(ss.Seen) > s.opts.IdleTimeout || now.Sub(ss.Created) > s.opts.MaxAge
}

// Logout ends session id. Ending an unknown session is not an error.
func (s *Service) Logout(id string) error {
	if err := s.db.Delete(sessionKey(id), pebble.Sync); err != nil {
		return fmt.Errorf("delete session: %w", err)
	}
	return nil
}

// SweepSessions deletes the expired sessions and returns how many. Session
// deletes them as it meets them; this catches those never used again.
func (s *Service) SweepSessions() (int, error) {
	now := s.opts.Now()
	return s.deleteSessions(func(ss session) bool { return s.expired(ss, now) })
}

func (s *Service) deleteSessions(match func(session) bool) (int, error) {
	b := s.db.NewBatch()
	defer b.Close()
	n, err := s.collectSessions(b, match)
	if err != nil || n == 0 {
		return 0, err
	}
	if err := b.Commit(pebble.Sync); err != nil {
		return 0, fmt.Errorf("delete sessions: %w", err)
	}
	return n, nil
}

func (s *Service) deleteSessionsOf(b *pebble.Batch, email string) error {
	_, err := s.collectSessions(b, func(ss session) bool { return ss.Email == email })
	return err
}

// collectSessions adds to b a delete of every session match accepts (and
// of any record that does not decode). Sessions are few (one per login in
// the last MaxAge), so a scan is cheaper than an index to keep.
func (s *Service) collectSessions(b *pebble.Batch, match func(session) bool) (int, error) {
	it, err := s.db.NewIter(&pebble.IterOptions{LowerBound: []byte(prefixSession), UpperBound: store.UpperBound(prefixSession)})
	if err != nil {
		return 0, fmt.Errorf("scan sessions: %w", err)
	}
	defer it.Close()
	n := 0
	for it.First(); it.Valid(); it.Next() {
		var ss session
		if json.Unmarshal(it.Value(), &ss) == nil && !match(ss) {
			continue
		}
		if err := b.Delete(it.Key(), nil); err != nil {
			return 0, err
		}
		n++
	}
	return n, it.Error()
}

// CSRFToken returns the CSRF token of session id: an HMAC of the id under
// the server's secret, so it needs no storage, and a token seen by a page
// (it is in a cookie scripts read) tells nothing of the HttpOnly id.
func (s *Service) CSRFToken(id string) string {
	m := hmac.New(sha256.New, s.secret)
	m.Write([]byte("csrf\x00"))
	m.Write([]byte(id))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// CheckCSRF reports whether token is session id's CSRF token, in constant time.
func (s *Service) CheckCSRF(id, token string) bool {
	return token != "" && subtle.ConstantTimeCompare([]byte(token), []byte(s.CSRFToken(id))) == 1
}
