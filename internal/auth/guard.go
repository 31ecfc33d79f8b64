package auth

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"tailor/internal/apierr"
)

// Cookie and header names of the contract with the dashboard's lib.js.
const (
	SessionCookie = "tailor_session" // HttpOnly: scripts never see the id
	CSRFCookie    = "tailor_csrf"    // readable: lib.js copies it into CSRFHeader
	CSRFHeader    = "X-CSRF-Token"
	LoginPath     = "/api/auth/login"
)

// Principal is who a request to /api acts as.
type Principal struct {
	Email   string // empty for the admin token
	Role    Role
	Token   bool   // authenticated by the admin bearer token
	Session string // the session id, for a cookie-authenticated request
}

type principalKey struct{}

// FromContext returns the principal the guard admitted the request as.
func FromContext(ctx context.Context) (Principal, bool) {
	p, ok := ctx.Value(principalKey{}).(Principal)
	return p, ok
}

// Guard admits requests to /api. With an Authorization header the request
// must carry the admin token (full rights, no CSRF: a browser never adds
// that header by itself). Otherwise it needs a live session cookie, and for
// a method other than GET and HEAD the session's CSRF token in
// X-CSRF-Token; then the account's role must allow the route (Need). Login
// alone is open.
type Guard struct {
	Token    string
	Accounts *Service
}

// Messages of the 401 answers. The first is the admin API's since before
// accounts existed; clients may show it.
const (
	msgBadToken  = "admin API needs the header Authorization: Bearer <admin token>"
	msgNoAuth    = "sign in (POST " + LoginPath + ") or send the header Authorization: Bearer <admin token>"
	msgNoSession = "your session has ended (expired or signed out); sign in again"
	bearerRealm  = `Bearer realm="tailor admin"`
	bearerPrefix = "Bearer "
)

// Wrap returns next behind the guard.
func (g *Guard) Wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == LoginPath {
			next.ServeHTTP(w, r)
			return
		}
		p, err := g.admit(r)
		if err != nil {
			var ae *apierr.Error
			if errors.As(err, &ae) && ae.Code == apierr.Unauthorized {
				w.Header().Set("WWW-Authenticate", bearerRealm)
			}
			apierr.WriteError(w, r, apierr.Plain, err)
			return
		}
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), principalKey{}, p)))
	})
}

func (g *Guard) admit(r *http.Request) (Principal, error) {
	if h := r.Header.Get("Authorization"); h != "" {
		tok, ok := strings.CutPrefix(h, bearerPrefix)
		if !ok || g.Token == "" || subtle.ConstantTimeCompare([]byte(tok), []byte(g.Token)) != 1 {
			return Principal{}, apierr.New(apierr.Unauthorized, msgBadToken)
		}
		return Principal{Role: Admin, Token: true}, nil
	}
	c, err := r.Cookie(SessionCookie)
	if err != nil || c.Value == "" || g.Accounts == nil {
		return Principal{}, apierr.New(apierr.Unauthorized, msgNoAuth)
	}
	u, err := g.Accounts.Session(c.Value)
	if errors.Is(err, ErrNoSession) {
		return Principal{}, apierr.New(apierr.Unauthorized, msgNoSession)
	}
	if err != nil {
		return Principal{}, fmt.Errorf("session: %w", err)
	}
	if r.Method != http.MethodGet && r.Method != http.MethodHead && !g.Accounts.CheckCSRF(c.Value, r.Header.Get(CSRFHeader)) {
		return Principal{}, apierr.Errorf(apierr.CSRF, "%s %s needs the header %s with the value of the %s cookie", r.Method, r.URL.Path, CSRFHeader, CSRFCookie)
	}
	if need := Need(r.Method, r.URL.Path); !u.Role.Allows(need) {
		return Principal{}, apierr.Errorf(apierr.Forbidden, "%s %s needs the role %s or higher; %s is %s", r.Method, r.URL.Path, need, u.Email, u.Role)
	}
	return Principal{Email: u.Email, Role: u.Role, Session: c.Value}, nil
}
