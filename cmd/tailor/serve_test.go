package main

import (
	"os/exec"
	"testing"
)

// TestShellQuote runs each quoted word through sh and checks it arrives as
// one argument, unchanged: what the printed demo look-ups rely on.
func TestShellQuote(t *testing.T) {
	sh, err := exec.LookPath("sh")
	if err != nil {
		t.Fatalf("sh not found: %v", err)
	}
	tests := []struct {
		name, in string
		bare     bool // left unquoted
	}{
		{"url", "http://127.0.0.1:8080/api/profiles/user-3", true},
		{"escaped id", "http://h/api/profiles/a%20b", true},
		{"header with a space", "Authorization: Bearer abc", false},
		{"single quote", "Bearer it's", false},
		{"shell syntax", "$(touch x); `y` * ? ~ & | > < \\ \" #", false},
		{"empty", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			q := shellQuote(tt.in)
			if bare := q == tt.in; bare != tt.bare {
				t.Errorf("shellQuote(%q) = %q: left bare = %v, want %v", tt.in, q, bare, tt.bare)
			}
			// printf prints each argument followed by a NUL, so a word that
			// split in two would show up as two records.
			out, err := exec.Command(sh, "-c", `printf '%s\0' `+q).Output()
			if err != nil {
				t.Fatalf("sh -c printf %s: %v", q, err)
			}
			if want := tt.in + "\x00"; string(out) != want {
				t.Errorf("sh read %q as %q, want %q", q, out, want)
			}
		})
	}
}
