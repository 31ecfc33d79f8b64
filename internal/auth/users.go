package auth

import (
	"context"
	"crypto/rand"
	"encoding/base32"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/mail"
	"strings"
	"time"

	"github.com/cockroachdb/pebble/v2"

	"tailor/internal/store"
)

// User is an account as the API shows it: never its hash.
type User struct {
	Email   string    `json:"email"`
	Role    Role      `json:"role"`
	Created time.Time `json:"created"`
}

// record is an account as stored under au/u/<email>.
type record struct {
	User
	Hash string `json:"hash"`
}

// Errors callers branch on.
var (
	ErrUserExists         = errors.New("an account with this email exists")
	ErrNoUser             = errors.New("no such account")
	ErrLastAdmin          = errors.New("this is the only admin account")
	ErrInvalidCredentials = errors.New("wrong email or password")
)

// InputError is a request mistake, worded for the person who made it.
type InputError struct{ Msg string }

func (e *InputError) Error() string { return e.Msg }

// RateLimitedError says that logins of an email or from an address are
// blocked for RetryAfter.
type RateLimitedError struct{ RetryAfter time.Duration }

func (e *RateLimitedError) Error() string {
	return fmt.Sprintf("too many failed logins; try again in %s", e.RetryAfter.Round(time.Second))
}

const maxEmailLen = 254 // RFC 5321's bound on a forward path

// NormalizeEmail trims and lower-cases email and checks that it is a bare
// address (user@host, no display name).
func NormalizeEmail(email string) (string, error) {
	e := strings.ToLower(strings.TrimSpace(email))
	if e == "" {
		return "", &InputError{"email is required"}
	}
	a, err := mail.ParseAddress(e)
	if err != nil || a.Address != e || len(e) > maxEmailLen {
		return "", &InputError{fmt.Sprintf("email %q is not a valid address like name@example.com", email)}
	}
	return e, nil
}

func userKey(email string) []byte { return store.Key(prefixUser, email) }

func (s *Service) getRecord(email string) (record, error) {
	v, closer, err := s.db.Get(userKey(email))
	if errors.Is(err, pebble.ErrNotFound) {
		return record{}, ErrNoUser
	}
	if err != nil {
		return record{}, fmt.Errorf("read account %s: %w", email, err)
	}
	defer closer.Close()
	var r record
	if err := json.Unmarshal(v, &r); err != nil {
		return record{}, fmt.Errorf("decode account %s: %w", email, err)
	}
	return r, nil
}

// User returns the account of email.
func (s *Service) User(email string) (User, error) {
	e, err := NormalizeEmail(email)
	if err != nil {
		return User{}, ErrNoUser
	}
	r, err := s.getRecord(e)
	return r.User, err
}

// Users lists the accounts in email order.
func (s *Service) Users() ([]User, error) {
	recs, err := s.records()
	if err != nil {
		return nil, err
	}
	out := make([]User, len(recs))
	for i, r := range recs {
		out[i] = r.User
	}
	return out, nil
}

func (s *Service) records() ([]record, error) {
	it, err := s.db.NewIter(&pebble.IterOptions{LowerBound: []byte(prefixUser), UpperBound: store.UpperBound(prefixUser)})
	if err != nil {
		return nil, fmt.Errorf("list accounts: %w", err)
	}
	defer it.Close()
	var out []record
	for it.First(); it.Valid(); it.Next() {
		var r record
		if err := json.Unmarshal(it.Value(), &r); err != nil {
			return nil, fmt.Errorf("decode account %s: %w", it.Key(), err)
		}
		out = append(out, r)
	}
	return out, it.Error()
}

// CreateUser adds an account. Bad input is an *InputError; a taken email
// is ErrUserExists.
func (s *Service) CreateUser(email, password string, role Role) (User, error) {
	e, err := NormalizeEmail(email)
	if err != nil {
		return User{}, err
	}
	if err := CheckPassword(password); err != nil {
		return User{}, &InputError{err.Error()}
	}
	if role.rank() == 0 {
		return User{}, &InputError{fmt.Sprintf("role must be one of admin, editor, viewer; got %q", role)}
	}
	// Hash before taking the lock: it is the slow part.
	h, err := s.hash(password)
	if err != nil {
		return User{}, err
	}
	s.writeMu.Lock()
	defer s.writeMu.Unlock()
	if _, err := s.getRecord(e); err == nil {
		return User{}, ErrUserExists
	} else if !errors.Is(err, ErrNoUser) {
		return User{}, err
	}
	r := record{User: User{Email: e, Role: role, Created: s.opts.Now().UTC().Truncate(time.Second)}, Hash: h}
	v, err := json.Marshal(r)
	if err != nil {
		return User{}, err
	}
	if err := s.db.Set(userKey(e), v, pebble.Sync); err != nil {
		return User{}, fmt.Errorf("store account %s: %w", e, err)
	}
	slog.Info("account created", "email", e, "role", role)
	return r.User, nil
}

// DeleteUser removes the account of email and its sessions. Removing the
// last admin is ErrLastAdmin: nobody could manage accounts afterwards but
// with the admin token.
func (s *Service) DeleteUser(email string) error {
	e, err := NormalizeEmail(email)
	if err != nil {
		return ErrNoUser
	}
	s.writeMu.Lock()
	defer s.writeMu.Unlock()
	recs, err := s.records()
	if err != nil {
		return err
	}
	admins, found := 0, false
	var role Role
	for _, r := range recs {
		if r.Role == Admin {
			admins++
		}
		if r.Email == e {
			found, role = true, r.Role
		}
	}
	if !found {
		return ErrNoUser
	}
	if role == Admin && admins == 1 {
		return ErrLastAdmin
	}
	b := s.db.NewBatch()
	defer b.Close()
	if err := b.Delete(userKey(e), nil); err != nil {
		return err
	}
	if err := s.deleteSessionsOf(b, e); err != nil {
		return err
	}
	if err := b.Commit(pebble.Sync); err != nil {
		return fmt.Errorf("delete account %s: %w", e, err)
	}
	slog.Info("account removed", "email", e)
	return nil
}

// Bootstrap creates the first admin account when there is no account at
// all: with password, or a generated one when password is empty. It returns
// the password when it created the account, "" when accounts exist (then
// email and password are not used).
func (s *Service) Bootstrap(email, password string) (string, error) {
	recs, err := s.records()
	if err != nil {
		return "", err
	}
	if len(recs) > 0 {
		return "", nil
	}
	if password == "" {
		password = GeneratePassword()
	}
	if _, err := s.CreateUser(email, password, Admin); err != nil {
		return "", fmt.Errorf("first admin account: %w", err)
	}
	return password, nil
}

// GeneratePassword returns 100 random bits as 20 lower-case letters and
// digits: easy to copy from a terminal, hard to guess.
func GeneratePassword() string {
	var b [13]byte
	_, _ = rand.Read(b[:])
	return strings.ToLower(base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(b[:]))[:20]
}

// Login checks email and password for a login from the client address ip
// and opens a session. It returns ErrInvalidCredentials, a
// *RateLimitedError, ErrBusy, or the account and the new session's id. Failures are
// logged without the password.
func (s *Service) Login(ctx context.Context, email, password, ip string) (User, string, error) {
	e, err := NormalizeEmail(email)
	if err != nil {
		e = strings.ToLower(strings.TrimSpace(email)) // still counted against its key
	}
	if left := max(s.byEmail.blocked("e:"+e), s.byIP.blocked(ip)); left > 0 {
		slog.Warn("login refused: rate limited", "email", e, "ip", ip, "retry_after", left.Round(time.Second))
		return User{}, "", &RateLimitedError{RetryAfter: left}
	}
	if len(password) > MaxPasswordLen {
		password = password[:MaxPasswordLen] // can never match: no stored password is longer
	}
	r, rerr := s.getRecord(e)
	if rerr != nil && !errors.Is(rerr, ErrNoUser) {
		return User{}, "", rerr
	}
	hash := r.Hash
	if rerr != nil {
		// Verify against a hash anyway, so that an unknown email takes as
		// long to refuse as a wrong password and timing tells no emails.
		hash = s.dummyHash()
	}
	ok, verr := s.verify(ctx, password, hash)
	if errors.Is(verr, ErrBusy) {
		return User{}, "", ErrBusy
	}
	if verr != nil {
		return User{}, "", fmt.Errorf("verify password of %s: %w", e, verr)
	}
	if rerr != nil || !ok {
		s.byEmail.fail("e:" + e)
		s.byIP.fail(ip)
		reason := "wrong password"
		if rerr != nil {
			reason = "no such account"
		}
		slog.Warn("login failed", "email", e, "ip", ip, "reason", reason)
		return User{}, "", ErrInvalidCredentials
	}
	if err := ctx.Err(); err != nil {
		return User{}, "", err
	}
	s.byEmail.reset("e:" + e)
	id, err := s.createSession(e)
	if err != nil {
		return User{}, "", err
	}
	slog.Info("login", "email", e, "ip", ip)
	return r.User, id, nil
}

func (s *Service) dummyHash() string {
	s.dummyOnce.Do(func() {
		h, err := HashPassword(GeneratePassword(), s.opts.Params)
		if err != nil {
			panic(fmt.Sprintf("auth: dummy hash: %v", err)) // crypto/rand failing is not survivable
		}
		s.dummy = h
	})
	return s.dummy
}
