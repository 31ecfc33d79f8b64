package auth

import "testing"

func TestNeedMapsEachRouteToItsRole(t *testing.T) {
	for _, tt := range []struct {
		method, path string
		want         Role
	}{
		{"GET", "/api/auth/me", Viewer},
		{"POST", "/api/auth/logout", Viewer},
		{"GET", "/api/profiles/u1", Viewer},
		{"HEAD", "/api/profiles/u1/timeline", Viewer},
		{"GET", "/api/segments", Viewer},
		{"GET", "/api/segments/vip/members", Viewer},
		{"GET", "/api/catalog/products", Viewer},
		{"GET", "/api/rejected", Viewer},
		{"GET", "/api/stats", Viewer},
		{"POST", "/api/segments/preview", Viewer},
		{"POST", "/api/segments", Editor},
		{"PUT", "/api/segments/vip", Editor},
		{"DELETE", "/api/segments/vip", Editor},
		{"POST", "/api/segments/preview/x", Editor},
		{"PUT", "/api/catalog/products/p1", Editor},
		{"POST", "/api/catalog/products", Editor},
		{"GET", "/api/sources", Admin},
		{"POST", "/api/sources", Admin},
		{"DELETE", "/api/sources/web", Admin},
		{"GET", "/api/users", Admin},
		{"POST", "/api/users", Admin},
		{"DELETE", "/api/users/a@b.c", Admin},
		{"POST", "/api/something-new", Admin},
		{"POST", "/api/segmentsx", Admin},
		{"POST", "/api/segments/../users", Admin},
		{"GET", "/api/segments/../users", Admin},
		{"GET", "/api/segments/../sources", Admin},
		{"PUT", "/api//catalog/products/p1", Editor},
		{"POST", "/api/send", Editor},
		{"POST", "/api/send/x", Admin},
		{"GET", "/api/messages", Viewer},
		{"GET", "/api/profiles/u1/messages", Viewer},
		{"GET", "/api/profiles/u1/consent", Viewer},
		{"PUT", "/api/profiles/u1/consent", Editor},
		{"PUT", "/api/profiles/email:a@b.c/consent", Editor},
		{"POST", "/api/profiles/u1/consent", Admin},
		{"PUT", "/api/profiles/u1/consent/x", Admin},
		{"PUT", "/api/profiles/a/b/consent", Admin},
		{"PUT", "/api/profiles/u1/../../users/consent", Admin},
	} {
		if got := Need(tt.method, tt.path); got != tt.want {
			t.Errorf("Need(%s %s) = %s, want %s", tt.method, tt.path, got, tt.want)
		}
	}
}

func TestRoleAllows(t *testing.T) {
	for _, tt := range []struct {
		have, need Role
		want       bool
	}{
		{Admin, Admin, true}, {Admin, Editor, true}, {Admin, Viewer, true},
		{Editor, Admin, false}, {Editor, Editor, true}, {Editor, Viewer, true},
		{Viewer, Admin, false}, {Viewer, Editor, false}, {Viewer, Viewer, true},
		{"root", Viewer, false}, {"", Viewer, false},
	} {
		if got := tt.have.Allows(tt.need); got != tt.want {
			t.Errorf("%q.Allows(%q) = %v, want %v", tt.have, tt.need, got, tt.want)
		}
	}
}

func TestParseRole(t *testing.T) {
	for in, want := range map[string]Role{"admin": Admin, " Editor ": Editor, "VIEWER": Viewer, "root": "", "": ""} {
		got, err := ParseRole(in)
		if got != want || (err == nil) != (want != "") {
			t.Errorf("ParseRole(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
}
