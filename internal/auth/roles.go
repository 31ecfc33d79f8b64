package auth

import (
	"fmt"
	"path"
	"strings"
)

// Role is what an account may do. Each role may do everything the roles
// below it may.
type Role string

// The roles, lowest first.
const (
	Viewer Role = "viewer" // reads everything but accounts and write keys
	Editor Role = "editor" // + writes segments and the catalog
	Admin  Role = "admin"  // + sources (write keys) and accounts
)

// Roles lists the roles, lowest first.
var Roles = []Role{Viewer, Editor, Admin}

func (r Role) rank() int {
	for i, x := range Roles {
		if x == r {
			return i + 1
		}
	}
	return 0 // unknown: below every role, allowed nothing
}

// Allows reports whether r may do what need may.
func (r Role) Allows(need Role) bool { return r.rank() > 0 && r.rank() >= need.rank() }

// ParseRole returns the role named s.
func ParseRole(s string) (Role, error) {
	r := Role(strings.ToLower(strings.TrimSpace(s)))
	if r.rank() == 0 {
		return "", fmt.Errorf("role must be one of admin, editor, viewer; got %q", s)
	}
	return r, nil
}

// rule says that requests with Method (empty: any) to Path, or anything
// under Path+"/" unless Exact, need Role. A Path with a "*" is a
// path.Match pattern of one whole path ("*" is one segment).
type rule struct {
	Method string
	Path   string
	Role   Role
	Exact  bool
}

func (r rule) matches(method, p string) bool {
	if r.Method != "" && r.Method != method {
		return false
	}
	if strings.Contains(r.Path, "*") {
		ok, _ := path.Match(r.Path, p)
		return ok
	}
	return p == r.Path || !r.Exact && strings.HasPrefix(p, r.Path+"/")
}

// routeRoles is the one table of which role each /api route needs, for
// session-authenticated requests (the admin token may do everything). The
// first matching rule wins, so narrow rules come before broad ones, and the
// last rule makes anything unlisted (a route added later) admin-only until
// it is listed here.
var routeRoles = []rule{
	{"", "/api/auth", Viewer, false}, // me and logout: any signed-in account (login needs none)
	{"", "/api/users", Admin, false},
	// Write keys let their holder write events (a server key even links
	// identities), so reading them is an admin's right too.
	{"", "/api/sources", Admin, false},
	// A preview changes nothing; it is a POST only because the rule is the body.
	{"POST", "/api/segments/preview", Viewer, true},
	{"POST", "/api/templates/preview", Viewer, true},
	// Editors run the marketing: a transactional send and a person's
	// consent (as their CRM or support desk records it) are theirs too.
	{"POST", "/api/send", Editor, true},
	{"PUT", "/api/profiles/*/consent", Editor, true},
	{"GET", "/api", Viewer, false},
	{"HEAD", "/api", Viewer, false},
	{"", "/api/segments", Editor, false},
	{"", "/api/catalog", Editor, false},
	{"", "/api/templates", Editor, false},
	{"", "/api/coupons", Editor, false},
	{"", "/api/journeys", Editor, false},
	{"", "/api/experiments", Editor, false},
	{"", "/api/placements", Editor, false},
	{"", "/api/decide", Editor, false},
	{"", "/api/predictions", Editor, false},
	{"", "/api/recommendations", Editor, false},
	{"", "/api", Admin, false},
}

// Need returns the role a request with method to urlPath needs. The path is
// cleaned first, so that /api/segments/../users is judged as /api/users.
func Need(method, urlPath string) Role {
	p := path.Clean("/" + urlPath)
	for _, r := range routeRoles {
		if r.matches(method, p) {
			return r.Role
		}
	}
	return Admin
}
