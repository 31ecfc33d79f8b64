package auth

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cockroachdb/pebble/v2"

	"tailor/internal/store"
)

// Options configure a Service. Zero fields take the default stated beside
// them (EnsureDefaults).
type Options struct {
	// Now is the clock; tests inject one to expire sessions. Default time.Now.
	Now func() time.Time
	// IdleTimeout ends a session not used for this long. Default 12h.
	IdleTimeout time.Duration
	// MaxAge ends a session this long after login, used or not. Default 7 days.
	MaxAge time.Duration
	// Params are the argon2id costs of new hashes. Default DefaultParams.
	Params Params
	// MaxFailuresPerEmail failed logins of one email within LoginWindow
	// block that email until the window ends. Default 5.
	MaxFailuresPerEmail int
	// MaxFailuresPerIP failed logins from one client address within
	// LoginWindow block that address. Default 20.
	MaxFailuresPerIP int
	// LoginWindow is the window failed logins are counted in. Default 15m.
	LoginWindow time.Duration
	// LimiterSize bounds the emails and the addresses remembered each.
	// Default 10000.
	LimiterSize int
}

// Defaults of Options.
const (
	DefaultIdleTimeout   = 12 * time.Hour
	DefaultMaxAge        = 7 * 24 * time.Hour
	DefaultLoginWindow   = 15 * time.Minute
	DefaultFailuresEmail = 5
	DefaultFailuresIP    = 20
	DefaultLimiterSize   = 10000
)

// EnsureDefaults fills the zero fields of o.
func (o *Options) EnsureDefaults() {
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.IdleTimeout <= 0 {
		o.IdleTimeout = DefaultIdleTimeout
	}
	if o.MaxAge <= 0 {
		o.MaxAge = DefaultMaxAge
	}
	if o.Params == (Params{}) {
		o.Params = DefaultParams
	}
	if o.MaxFailuresPerEmail <= 0 {
		o.MaxFailuresPerEmail = DefaultFailuresEmail
	}
	if o.MaxFailuresPerIP <= 0 {
		o.MaxFailuresPerIP = DefaultFailuresIP
	}
	if o.LoginWindow <= 0 {
		o.LoginWindow = DefaultLoginWindow
	}
	if o.LimiterSize <= 0 {
		o.LimiterSize = DefaultLimiterSize
	}
}

// maxHashing bounds the password hashes computed at once: each holds
// Params.MemoryKiB and a core, and logins must not starve ingest of either.
// maxWaiting bounds the logins queued behind them; more are answered
// ErrBusy at once, so a flood of logins (which all pass the rate limits
// before their first failure is counted) cannot pile up goroutines.
const (
	maxHashing = 2
	maxWaiting = 64
)

// ErrBusy is a login refused because too many are being checked; retry.
var ErrBusy = errors.New("too many logins at once; retry in a moment")

// Service keeps the accounts and sessions of one data directory.
type Service struct {
	db     *pebble.DB
	opts   Options
	secret []byte // CSRF tokens are HMACs of session ids under it

	// writeMu serializes changes to accounts, so that "is this the last
	// admin" and the delete that follows see the same accounts.
	writeMu sync.Mutex
	hashing chan struct{}
	waiting atomic.Int32

	byEmail *limiter
	byIP    *limiter

	dummyOnce sync.Once
	dummy     string // a hash to verify against when the email is unknown
}

// Key layout under store.PrefixAuth (see doc.go).
const (
	prefixUser    = store.PrefixAuth + "u/"
	prefixSession = store.PrefixAuth + "s/"
	keySecret     = store.PrefixAuth + "k/csrf"
)

// Open returns the accounts of db, creating the CSRF secret on first use.
func Open(db *pebble.DB, o Options) (*Service, error) {
	o.EnsureDefaults()
	s := &Service{db: db, opts: o, hashing: make(chan struct{}, maxHashing),
		byEmail: newLimiter(o.MaxFailuresPerEmail, o.LoginWindow, o.LimiterSize, o.Now),
		byIP:    newLimiter(o.MaxFailuresPerIP, o.LoginWindow, o.LimiterSize, o.Now)}
	v, closer, err := db.Get([]byte(keySecret))
	switch {
	case err == nil:
		s.secret = append([]byte(nil), v...)
		closer.Close()
	case errors.Is(err, pebble.ErrNotFound):
		s.secret = make([]byte, 32)
		if _, err := rand.Read(s.secret); err != nil {
			return nil, fmt.Errorf("csrf secret: %w", err)
		}
		if err := db.Set([]byte(keySecret), s.secret, pebble.Sync); err != nil {
			return nil, fmt.Errorf("store csrf secret: %w", err)
		}
	default:
		return nil, fmt.Errorf("read csrf secret: %w", err)
	}
	return s, nil
}

// hash and verify run under the hashing bound.
func (s *Service) hash(pw string) (string, error) {
	s.hashing <- struct{}{}
	defer func() { <-s.hashing }()
	return HashPassword(pw, s.opts.Params)
}

func (s *Service) verify(ctx context.Context, pw, encoded string) (bool, error) {
	if s.waiting.Add(1) > maxWaiting {
		s.waiting.Add(-1)
		return false, ErrBusy
	}
	select {
	case s.hashing <- struct{}{}:
		s.waiting.Add(-1)
	case <-ctx.Done():
		s.waiting.Add(-1)
		return false, ctx.Err()
	}
	defer func() { <-s.hashing }()
	return VerifyPassword(pw, encoded)
}
