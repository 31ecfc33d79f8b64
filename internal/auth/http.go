package auth

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net"
	"net/http"
	"strconv"

	"tailor/internal/apierr"
)

// maxBody bounds the JSON bodies of these routes, which hold an email, a
// password and a role.
const maxBody = 4096

// Handler serves /api/auth/* and /api/users*; put it behind Guard.Wrap,
// which lets login through alone and admits the others.
func (s *Service) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST "+LoginPath, s.login)
	mux.HandleFunc("POST /api/auth/logout", s.logout)
	mux.HandleFunc("GET /api/auth/me", s.me)
	mux.HandleFunc("GET /api/users", s.listUsers)
	mux.HandleFunc("POST /api/users", s.createUser)
	mux.HandleFunc("DELETE /api/users/{email}", s.deleteUser)
	for pattern, allow := range map[string]string{
		LoginPath: "POST", "/api/auth/logout": "POST", "/api/auth/me": "GET, HEAD",
		"/api/users": "GET, HEAD, POST", "/api/users/{email}": "DELETE",
	} {
		mux.HandleFunc(pattern, func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Allow", allow)
			fail(w, r, apierr.Errorf(apierr.MethodNotAllowed, "%s %s: allowed methods are %s", r.Method, r.URL.Path, allow))
		})
	}
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		fail(w, r, apierr.Errorf(apierr.NotFound, "no admin route %s %s", r.Method, r.URL.Path))
	})
	return mux
}

func fail(w http.ResponseWriter, r *http.Request, err error) {
	apierr.WriteError(w, r, apierr.Plain, err)
}

// decode reads a small JSON body into v, naming the expected shape on error.
func decode(w http.ResponseWriter, r *http.Request, v any, shape string) bool {
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxBody))
	if err := dec.Decode(v); err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			fail(w, r, apierr.Errorf(apierr.TooLarge, "body is over %d bytes", maxBody))
		} else {
			fail(w, r, apierr.Errorf(apierr.InvalidJSON, "body must be %s: %v", shape, err))
		}
		return false
	}
	return true
}

// clientIP is the address logins are rate limited by: the TCP peer. A
// proxy in front would make every client one address; Tailor trusts no
// forwarding header, since any client can send one.
func clientIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

func (s *Service) login(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Email    string `json:"email"`
		Password string `json:"password"`
	}
	if !decode(w, r, &req, `{"email":"...","password":"..."}`) {
		return
	}
	u, id, err := s.Login(r.Context(), req.Email, req.Password, clientIP(r))
	var rl *RateLimitedError
	switch {
	case errors.As(err, &rl):
		w.Header().Set("Retry-After", strconv.Itoa(int(math.Ceil(rl.RetryAfter.Seconds()))))
		fail(w, r, apierr.New(apierr.RateLimited, rl.Error()))
		return
	case errors.Is(err, ErrInvalidCredentials):
		fail(w, r, apierr.New(apierr.InvalidCredentials, ""))
		return
	case errors.Is(err, ErrBusy):
		w.Header().Set("Retry-After", "1")
		fail(w, r, apierr.New(apierr.Busy, err.Error()))
		return
	case err != nil:
		fail(w, r, err)
		return
	}
	s.setCookies(w, r, id)
	apierr.WriteJSON(w, http.StatusOK, map[string]any{"user": u})
}

// setCookies sets the session and CSRF cookies (id "" clears them). Both
// are SameSite=Strict, so no other site's page sends them; only the session
// cookie is HttpOnly, since lib.js must read the CSRF one. They last as long
// as a session may; the server ends idle sessions earlier.
func (s *Service) setCookies(w http.ResponseWriter, r *http.Request, id string) {
	maxAge, csrf := int(s.opts.MaxAge.Seconds()), ""
	if id == "" {
		maxAge = -1
	} else {
		csrf = s.CSRFToken(id)
	}
	secure := r.TLS != nil
	http.SetCookie(w, &http.Cookie{Name: SessionCookie, Value: id, Path: "/", MaxAge: maxAge,
		HttpOnly: true, Secure: secure, SameSite: http.SameSiteStrictMode})
	http.SetCookie(w, &http.Cookie{Name: CSRFCookie, Value: csrf, Path: "/", MaxAge: maxAge,
		Secure: secure, SameSite: http.SameSiteStrictMode})
}

func (s *Service) logout(w http.ResponseWriter, r *http.Request) {
	if p, ok := FromContext(r.Context()); ok && p.Session != "" {
		if err := s.Logout(p.Session); err != nil {
			fail(w, r, err)
			return
		}
	}
	s.setCookies(w, r, "")
	w.WriteHeader(http.StatusNoContent)
}

func (s *Service) me(w http.ResponseWriter, r *http.Request) {
	p, ok := FromContext(r.Context())
	if !ok {
		fail(w, r, apierr.New(apierr.Unauthorized, msgNoAuth))
		return
	}
	apierr.WriteJSON(w, http.StatusOK, map[string]any{"email": p.Email, "role": p.Role, "token": p.Token})
}

func (s *Service) listUsers(w http.ResponseWriter, r *http.Request) {
	us, err := s.Users()
	if err != nil {
		fail(w, r, err)
		return
	}
	if us == nil {
		us = []User{}
	}
	apierr.WriteJSON(w, http.StatusOK, map[string]any{"users": us})
}

func (s *Service) createUser(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Email    string `json:"email"`
		Password string `json:"password"`
		Role     string `json:"role"`
	}
	if !decode(w, r, &req, `{"email":"...","password":"...","role":"admin|editor|viewer"}`) {
		return
	}
	role, err := ParseRole(req.Role)
	if err != nil {
		fail(w, r, apierr.New(apierr.BadRequest, err.Error()))
		return
	}
	u, err := s.CreateUser(req.Email, req.Password, role)
	if err != nil {
		fail(w, r, userError(err, req.Email))
		return
	}
	apierr.WriteJSON(w, http.StatusCreated, u)
}

func (s *Service) deleteUser(w http.ResponseWriter, r *http.Request) {
	email := r.PathValue("email")
	if err := s.DeleteUser(email); err != nil {
		fail(w, r, userError(err, email))
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// userError maps the account errors to API errors; others stay internal.
func userError(err error, email string) error {
	var in *InputError
	switch {
	case errors.As(err, &in):
		return apierr.New(apierr.BadRequest, in.Msg)
	case errors.Is(err, ErrUserExists):
		return apierr.Errorf(apierr.UserExists, "an account for %s exists", email)
	case errors.Is(err, ErrNoUser):
		return apierr.Errorf(apierr.NotFound, "no account for %q", email)
	case errors.Is(err, ErrLastAdmin):
		return apierr.Errorf(apierr.LastAdmin, "%s is the only admin account; make another admin first", email)
	}
	return fmt.Errorf("account %s: %w", email, err)
}
