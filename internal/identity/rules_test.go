package identity

import (
	"strings"
	"testing"

	"tailor/internal/event"
)

func TestRules(t *testing.T) {
	r := Defaults()
	if err := r.Validate(); err != nil {
		t.Fatalf("defaults: %v", err)
	}
	for _, tc := range []struct {
		kind  event.Kind
		trust event.Trust
		want  bool
	}{
		{event.KindUserID, event.TrustClient, true},
		{event.KindAnonymousID, event.TrustClient, true},
		{event.KindEmail, event.TrustServer, true},
		{event.KindEmail, event.TrustClient, false},
		{event.KindPhone, event.TrustClient, false},
	} {
		if got := r.Links(tc.kind, tc.trust); got != tc.want {
			t.Errorf("Links(%s, %s) = %v", tc.kind, tc.trust, got)
		}
	}
	if err := r.ParseLink("phone"); err != nil || r.Links(event.KindEmail, event.TrustServer) || !r.Links(event.KindPhone, event.TrustServer) {
		t.Fatalf("link=phone: %v %v", err, r.Link)
	}
	if err := r.ParseLimits("email=2, anonymous_id=10"); err != nil || r.Limit(event.KindEmail) != 2 || r.Limit(event.KindAnonymousID) != 10 || r.Limit(event.KindUserID) != 1 {
		t.Fatalf("limits: %v %v", err, r.Limits)
	}
}

func TestRulesErrors(t *testing.T) {
	for _, tc := range []struct {
		name string
		edit func(*Rules) error
		want string
	}{
		{"bad link kind", func(r *Rules) error { return r.ParseLink("fax") }, `"fax"`},
		{"limit not a number", func(r *Rules) error { return r.ParseLimits("email=lots") }, "want kind=number"},
		{"zero limit", func(r *Rules) error { r.Limits[event.KindEmail] = 0; return r.Validate() }, "for email must be at least 1"},
		{"unknown kind limit", func(r *Rules) error { _ = r.ParseLimits("fax=3"); return r.Validate() }, `unknown kind "fax"`},
		{"tiny cap", func(r *Rules) error { r.MaxIdentities = 1; return r.Validate() }, "at least 2"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := Defaults()
			err := tc.edit(&r)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want it to mention %q", err, tc.want)
			}
		})
	}
}
