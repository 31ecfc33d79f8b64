package auth

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"
)

func TestNormalizeEmail(t *testing.T) {
	for _, tt := range []struct{ in, want string }{
		{"ann@example.com", "ann@example.com"},
		{"  Ann@Example.COM \n", "ann@example.com"},
		{"admin@tailor.local", "admin@tailor.local"},
		{"", ""},
		{"ann", ""},
		{"ann@", ""},
		{"@example.com", ""},
		{"Ann <ann@example.com>", ""},
		{"a b@example.com", ""},
		{"ann@example.com, bob@example.com", ""},
	} {
		got, err := NormalizeEmail(tt.in)
		if got != tt.want || (err == nil) != (tt.want != "") {
			t.Errorf("NormalizeEmail(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
		}
	}
}

func TestCreateAndDeleteUsers(t *testing.T) {
	s := newService(t, newClock())
	if _, err := s.CreateUser("Root@Example.com", "0123456789", Admin); err != nil {
		t.Fatal(err)
	}
	var in *InputError
	for _, tt := range []struct {
		name, email, pw string
		role            Role
		check           func(error) bool
	}{
		{"taken, other case", "ROOT@example.com", "0123456789", Viewer, func(err error) bool { return errors.Is(err, ErrUserExists) }},
		{"short password", "ann@example.com", "012345678", Viewer, func(err error) bool { return errors.As(err, &in) }},
		{"bad email", "ann", "0123456789", Viewer, func(err error) bool { return errors.As(err, &in) }},
		{"bad role", "ann@example.com", "0123456789", "root", func(err error) bool { return errors.As(err, &in) }},
	} {
		if _, err := s.CreateUser(tt.email, tt.pw, tt.role); !tt.check(err) {
			t.Errorf("%s: CreateUser = %v", tt.name, err)
		}
	}
	mustCreate(t, s, "ann@example.com", "0123456789", Editor)
	us, err := s.Users()
	if err != nil || len(us) != 2 || us[0].Email != "ann@example.com" || us[1].Email != "root@example.com" || us[1].Role != Admin {
		t.Fatalf("Users = %+v, %v", us, err)
	}
	if err := s.DeleteUser("root@example.com"); !errors.Is(err, ErrLastAdmin) {
		t.Errorf("deleting the only admin: %v, want ErrLastAdmin", err)
	}
	if err := s.DeleteUser("nobody@example.com"); !errors.Is(err, ErrNoUser) {
		t.Errorf("deleting an unknown account: %v, want ErrNoUser", err)
	}
	mustCreate(t, s, "second@example.com", "0123456789", Admin)
	if err := s.DeleteUser("ROOT@example.com"); err != nil {
		t.Errorf("deleting one of two admins: %v", err)
	}
	if _, err := s.User("root@example.com"); !errors.Is(err, ErrNoUser) {
		t.Errorf("deleted account still there: %v", err)
	}
}

func TestBootstrapMakesTheFirstAdminOnce(t *testing.T) {
	s := newService(t, newClock())
	pw, err := s.Bootstrap("admin@tailor.local", "")
	if err != nil || len(pw) < MinPasswordLen {
		t.Fatalf("Bootstrap = %q, %v; want a generated password", pw, err)
	}
	if _, id, err := s.Login(context.Background(), "admin@tailor.local", pw, "ip"); err != nil || id == "" {
		t.Errorf("the printed password does not log in: %v", err)
	}
	if pw2, err := s.Bootstrap("other@tailor.local", "0123456789"); pw2 != "" || err != nil {
		t.Errorf("second Bootstrap = %q, %v; want nothing done", pw2, err)
	}
	if us, _ := s.Users(); len(us) != 1 || us[0].Role != Admin {
		t.Errorf("accounts after two starts: %+v", us)
	}
	s2 := newService(t, newClock())
	if pw, err := s2.Bootstrap("ops@example.com", "chosen-password"); pw != "chosen-password" || err != nil {
		t.Errorf("Bootstrap with a password = %q, %v", pw, err)
	}
}

func TestLoginRateLimits(t *testing.T) {
	c := newClock()
	s := newService(t, c, func(o *Options) { o.MaxFailuresPerEmail, o.MaxFailuresPerIP = 3, 5 })
	mustCreate(t, s, "ann@example.com", "0123456789", Viewer)
	mustCreate(t, s, "bob@example.com", "0123456789", Viewer)
	ctx := context.Background()
	try := func(email, pw, ip string) error {
		_, _, err := s.Login(ctx, email, pw, ip)
		return err
	}
	for i := 0; i < 3; i++ {
		if err := try("ann@example.com", "wrong-password", fmt.Sprint("10.0.0.", i)); !errors.Is(err, ErrInvalidCredentials) {
			t.Fatalf("failure %d: %v, want ErrInvalidCredentials", i, err)
		}
	}
	// The email is blocked from any address, even with its right password.
	var rl *RateLimitedError
	if err := try("ANN@example.com", "0123456789", "10.9.9.9"); !errors.As(err, &rl) || rl.RetryAfter != DefaultLoginWindow {
		t.Fatalf("4th login of the email: %v, want rate limited for %s", err, DefaultLoginWindow)
	}
	if err := try("bob@example.com", "0123456789", "10.9.9.9"); err != nil {
		t.Errorf("another email is blocked too: %v", err)
	}
	// An address that fails with many emails is blocked for every email.
	for i := 0; i < 5; i++ {
		try(fmt.Sprintf("guess%d@example.com", i), "whatever-pw", "10.6.6.6")
	}
	if err := try("bob@example.com", "0123456789", "10.6.6.6"); !errors.As(err, &rl) {
		t.Errorf("login from an address after 5 failures: %v, want rate limited", err)
	}
	c.Add(DefaultLoginWindow)
	if err := try("ann@example.com", "0123456789", "10.6.6.6"); err != nil {
		t.Errorf("login after the window: %v", err)
	}
}

func TestLoginSuccessClearsTheEmailsFailures(t *testing.T) {
	s := newService(t, newClock(), func(o *Options) { o.MaxFailuresPerEmail = 3 })
	mustCreate(t, s, "ann@example.com", "0123456789", Viewer)
	ctx := context.Background()
	for round := 0; round < 3; round++ {
		for i := 0; i < 2; i++ {
			s.Login(ctx, "ann@example.com", "typo-password", fmt.Sprint("ip", round))
		}
		if _, _, err := s.Login(ctx, "ann@example.com", "0123456789", fmt.Sprint("ip", round)); err != nil {
			t.Fatalf("round %d: %v", round, err)
		}
	}
}

func TestLoginUnknownEmailCostsAHashToo(t *testing.T) {
	// Unknown emails are verified against a dummy hash: refusing one takes
	// about as long as refusing a wrong password.
	s := newService(t, newClock(), func(o *Options) { o.Params = Params{Time: 3, MemoryKiB: 8 * 1024, Threads: 1, KeyLen: 32} })
	mustCreate(t, s, "ann@example.com", "0123456789", Viewer)
	ctx := context.Background()
	s.Login(ctx, "warm@example.com", "x", "warm") // makes the dummy hash
	measure := func(email string) time.Duration {
		best := time.Hour
		for i := 0; i < 3; i++ {
			start := time.Now()
			if _, _, err := s.Login(ctx, email, "wrong-password", fmt.Sprint(email, i)); !errors.Is(err, ErrInvalidCredentials) {
				t.Fatalf("%s: %v", email, err)
			}
			best = min(best, time.Since(start))
			s.byEmail.reset("e:" + email)
		}
		return best
	}
	known, unknown := measure("ann@example.com"), measure("nobody@example.com")
	if unknown < known/3 {
		t.Errorf("unknown email refused in %s, known in %s: timing tells which emails have accounts", unknown, known)
	}
}

func TestFailedLoginIsLoggedWithoutThePassword(t *testing.T) {
	var buf bytes.Buffer
	old := slog.Default()
	slog.SetDefault(slog.New(slog.NewTextHandler(&buf, nil)))
	t.Cleanup(func() { slog.SetDefault(old) })
	s := newService(t, newClock())
	mustCreate(t, s, "ann@example.com", "0123456789", Viewer)
	s.Login(context.Background(), "ann@example.com", "secret-typo-123", "198.51.100.4")
	out := buf.String()
	if !strings.Contains(out, "login failed") || !strings.Contains(out, "ann@example.com") || !strings.Contains(out, "198.51.100.4") {
		t.Errorf("log %q does not name the failed login, its email and address", out)
	}
	if strings.Contains(out, "secret-typo") {
		t.Errorf("log holds the password: %q", out)
	}
}

func TestLoginQueueIsBounded(t *testing.T) {
	s := newService(t, newClock())
	mustCreate(t, s, "ann@example.com", "0123456789", Viewer)
	for i := 0; i < maxHashing; i++ {
		s.hashing <- struct{}{} // every hashing slot taken
	}
	// A login that cannot get a slot gives up with its request.
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if _, _, err := s.Login(ctx, "ann@example.com", "0123456789", "ip"); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("login with every slot taken: %v, want the context's deadline", err)
	}
	// Past maxWaiting queued logins, the next is refused at once.
	s.waiting.Store(maxWaiting)
	start := time.Now()
	if _, _, err := s.Login(context.Background(), "ann@example.com", "0123456789", "ip"); !errors.Is(err, ErrBusy) {
		t.Errorf("login with a full queue: %v, want ErrBusy", err)
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("ErrBusy took %s, want an immediate answer", d)
	}
	s.waiting.Store(0)
	for i := 0; i < maxHashing; i++ {
		<-s.hashing
	}
	if _, _, err := s.Login(context.Background(), "ann@example.com", "0123456789", "ip"); err != nil {
		t.Errorf("login once the slots are free: %v", err)
	}
}
