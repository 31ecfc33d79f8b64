package auth

import (
	"context"
	"errors"
	"strings"
	"tailor/internal/store/storetest"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2"
)

func login(t testing.TB, s *Service, email, pw string) string {
	t.Helper()
	_, id, err := s.Login(context.Background(), email, pw, "10.0.0.1")
	if err != nil {
		t.Fatalf("login %s: %v", email, err)
	}
	return id
}

func TestSessionExpiry(t *testing.T) {
	tests := []struct {
		name  string
		steps []time.Duration // uses of the session, each after this long
		live  bool
	}{
		{"fresh", []time.Duration{0}, true},
		{"used within the idle timeout", []time.Duration{11 * time.Hour}, true},
		{"idle past the timeout", []time.Duration{12*time.Hour + time.Second}, false},
		{"kept alive by use", []time.Duration{11 * time.Hour, 11 * time.Hour, 11 * time.Hour}, true},
		{"past the absolute age though used", []time.Duration{
			11 * time.Hour, 11 * time.Hour, 11 * time.Hour, 11 * time.Hour, 11 * time.Hour, 11 * time.Hour, 11 * time.Hour,
			11 * time.Hour, 11 * time.Hour, 11 * time.Hour, 11 * time.Hour, 11 * time.Hour, 11 * time.Hour, 11 * time.Hour,
			11 * time.Hour, 11 * time.Hour}, false}, // 176 h > 168 h
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := newClock()
			s := newService(t, c)
			mustCreate(t, s, "ann@example.com", "0123456789", Editor)
			id := login(t, s, "ann@example.com", "0123456789")
			var err error
			for _, d := range tt.steps {
				c.Add(d)
				if _, err = s.Session(id); err != nil {
					break
				}
			}
			if live := err == nil; live != tt.live {
				t.Errorf("session live = %v (%v), want %v", live, err, tt.live)
			}
			if err != nil && !errors.Is(err, ErrNoSession) {
				t.Errorf("expired session: %v, want ErrNoSession", err)
			}
		})
	}
}

func TestSessionStoresOnlyAHashOfItsID(t *testing.T) {
	c := newClock()
	s := newService(t, c)
	mustCreate(t, s, "ann@example.com", "0123456789", Viewer)
	id := login(t, s, "ann@example.com", "0123456789")
	if n := len(id); n < 43 {
		t.Errorf("session id %q has %d characters, want 256 bits (43 base64 characters)", id, n)
	}
	it, _ := s.db.NewIter(&pebble.IterOptions{})
	defer it.Close()
	for it.First(); it.Valid(); it.Next() {
		if strings.Contains(string(it.Key()), id) || strings.Contains(string(it.Value()), id) {
			t.Errorf("store key %q holds the session id", it.Key())
		}
		if strings.Contains(string(it.Value()), "0123456789") {
			t.Errorf("store key %q holds the password", it.Key())
		}
	}
	if id2 := login(t, s, "ann@example.com", "0123456789"); id2 == id {
		t.Error("two logins got the same session id")
	}
}

func TestSessionEndsWithLogoutAndWithItsAccount(t *testing.T) {
	c := newClock()
	s := newService(t, c)
	mustCreate(t, s, "root@example.com", "0123456789", Admin)
	mustCreate(t, s, "ann@example.com", "0123456789", Editor)
	a := login(t, s, "ann@example.com", "0123456789")
	b := login(t, s, "ann@example.com", "0123456789")
	root := login(t, s, "root@example.com", "0123456789")
	if err := s.Logout(a); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Session(a); !errors.Is(err, ErrNoSession) {
		t.Errorf("session after logout: %v, want ErrNoSession", err)
	}
	if u, err := s.Session(b); err != nil || u.Email != "ann@example.com" || u.Role != Editor {
		t.Fatalf("other session of the account = %+v, %v", u, err)
	}
	if err := s.DeleteUser("ann@example.com"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Session(b); !errors.Is(err, ErrNoSession) {
		t.Errorf("session of a removed account: %v, want ErrNoSession", err)
	}
	if _, err := s.Session(root); err != nil {
		t.Errorf("removing ann ended root's session: %v", err)
	}
	for _, id := range []string{"", "nope", strings.Repeat("x", 500)} {
		if _, err := s.Session(id); !errors.Is(err, ErrNoSession) {
			t.Errorf("Session(%.10q) = %v, want ErrNoSession", id, err)
		}
	}
}

func TestSweepSessionsDeletesOnlyExpiredOnes(t *testing.T) {
	c := newClock()
	s := newService(t, c)
	mustCreate(t, s, "ann@example.com", "0123456789", Viewer)
	old := login(t, s, "ann@example.com", "0123456789")
	c.Add(10 * time.Hour)
	fresh := login(t, s, "ann@example.com", "0123456789")
	c.Add(3 * time.Hour) // old idle 13 h, fresh 3 h
	n, err := s.SweepSessions()
	if err != nil || n != 1 {
		t.Fatalf("SweepSessions = %d, %v; want 1", n, err)
	}
	if _, err := s.Session(fresh); err != nil {
		t.Errorf("the live session was swept: %v", err)
	}
	if _, _, err := s.db.Get(sessionKey(old)); !errors.Is(err, pebble.ErrNotFound) {
		t.Errorf("the expired session is still stored: %v", err)
	}
}

func TestCSRFTokenIsBoundToTheSessionAndTheSecret(t *testing.T) {
	c := newClock()
	s := newService(t, c)
	other := newService(t, c) // another data directory: another secret
	a, b := "session-a", "session-b"
	ta := s.CSRFToken(a)
	if ta != s.CSRFToken(a) {
		t.Fatal("the token of one session changes")
	}
	for _, tt := range []struct {
		name, id, token string
		want            bool
	}{
		{"own token", a, ta, true},
		{"another session's token", b, ta, false},
		{"empty", a, "", false},
		{"the session id itself", a, a, false},
		{"another server's token", a, other.CSRFToken(a), false},
		{"truncated", a, ta[:len(ta)-1], false},
	} {
		if got := s.CheckCSRF(tt.id, tt.token); got != tt.want {
			t.Errorf("%s: CheckCSRF = %v, want %v", tt.name, got, tt.want)
		}
	}
}

func TestCSRFSecretSurvivesReopening(t *testing.T) {
	db := storetest.MemDB(t)
	s1, err := Open(db, Options{Params: fastParams})
	if err != nil {
		t.Fatal(err)
	}
	s2, err := Open(db, Options{Params: fastParams})
	if err != nil {
		t.Fatal(err)
	}
	if s1.CSRFToken("x") != s2.CSRFToken("x") {
		t.Error("a restart changed the CSRF secret: every open page's token would stop working")
	}
}
