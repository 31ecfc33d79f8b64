package admin

import (
	"slices"
	"testing"
)

func TestResolveKeys(t *testing.T) {
	tests := []struct {
		in   string
		want []string
	}{
		{"user-1", []string{"user_id:user-1", "anonymous_id:user-1"}},
		{"p_0ad4506f9edda2c4b487", []string{"p_0ad4506f9edda2c4b487"}},
		{"Ann@Example.com", []string{"user_id:Ann@Example.com", "anonymous_id:Ann@Example.com", "email:ann@example.com"}},
		{"email:Ann@Example.com", []string{"email:ann@example.com"}},
		{"phone:+33 6 12 34 56 78", []string{"phone:+33612345678"}},
		{"+33612345678", []string{"user_id:+33612345678", "anonymous_id:+33612345678", "phone:+33612345678"}},
		{"user_id:42", []string{"user_id:42"}},
		{"bogus:42", []string{"user_id:bogus:42", "anonymous_id:bogus:42"}},
	}
	for _, tt := range tests {
		if got := resolveKeys(tt.in); !slices.Equal(got, tt.want) {
			t.Errorf("resolveKeys(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}
