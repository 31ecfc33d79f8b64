package main

import (
	"bytes"
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"tailor/internal/server"
)

func TestUsersCommand(t *testing.T) {
	dir := t.TempDir()
	db, err := server.OpenDB(dir, 8<<20) // a data dir as serve leaves it
	if err != nil {
		t.Fatal(err)
	}
	db.Close()
	tests := []struct {
		name  string
		args  []string
		stdin string
		usage bool   // fails as a usage error
		err   string // fails with this text
		out   string // prints this
	}{
		{"list empty", []string{"list"}, "", false, "", "EMAIL  ROLE  CREATED\n"},
		{"add admin, password flag", []string{"add", "--role", "admin", "--password", "root-password", "Root@Example.com"}, "", false, "", "account root@example.com (admin) added"},
		{"add, flags after the email, password on stdin", []string{"add", "ed@example.com", "--role", "editor"}, "editor-password\n", false, "", "account ed@example.com (editor) added"},
		{"add viewer by default", []string{"add", "vi@example.com"}, "viewer-password", false, "", "(viewer) added"},
		{"add taken", []string{"add", "--password", "0123456789", "ed@example.com"}, "", false, "an account for ed@example.com exists", ""},
		{"add short password", []string{"add", "--password", "short", "x@example.com"}, "", true, "at least 10 characters", ""},
		{"add no password", []string{"add", "x@example.com"}, "", true, "no password", ""},
		{"add bad role", []string{"add", "--role", "root", "x@example.com"}, "", true, "role must be one of", ""},
		{"add bad email", []string{"add", "--password", "0123456789", "not-an-email"}, "", true, "not a valid address", ""},
		{"add two emails", []string{"add", "a@example.com", "b@example.com"}, "", true, "takes 1 argument", ""},
		{"list", []string{"list"}, "", false, "", "ed@example.com    editor"},
		{"remove the only admin", []string{"remove", "root@example.com"}, "", false, "only admin account", ""},
		{"remove unknown", []string{"remove", "nobody@example.com"}, "", false, "no account for nobody@example.com", ""},
		{"remove", []string{"remove", "ED@example.com"}, "", false, "", "account ED@example.com removed"},
		{"unknown subcommand", []string{"rename"}, "", true, "unknown users command", ""},
		{"no subcommand", nil, "", true, "needs add, list or remove", ""},
		{"missing data dir", []string{"list", "--data-dir", filepath.Join(dir, "nope")}, "", true, "start tailor serve once", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			args := tt.args
			if len(args) > 0 && !strings.Contains(strings.Join(args, " "), "--data-dir") {
				args = append(args[:1:1], append([]string{"--data", dir}, args[1:]...)...)
			}
			var out, errOut bytes.Buffer
			err := usersCmd(args, strings.NewReader(tt.stdin), &out, &errOut)
			if tt.err == "" && err != nil {
				t.Fatalf("users %v: %v", args, err)
			}
			if tt.err != "" && (err == nil || !strings.Contains(err.Error(), tt.err)) {
				t.Fatalf("users %v: error %v, want one containing %q", args, err, tt.err)
			}
			if err != nil && errors.Is(err, errUsage) != tt.usage {
				t.Errorf("users %v: usage error = %v, want %v (%v)", args, errors.Is(err, errUsage), tt.usage, err)
			}
			if !strings.Contains(out.String(), tt.out) {
				t.Errorf("users %v printed %q, want it to contain %q", args, out.String(), tt.out)
			}
		})
	}
}

func TestUsersCommandWhileTheServerRuns(t *testing.T) {
	dir := t.TempDir()
	db, err := server.OpenDB(dir, 8<<20) // held as a running server holds it
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var out, errOut bytes.Buffer
	err = usersCmd([]string{"list", "--data-dir", dir}, strings.NewReader(""), &out, &errOut)
	if !errors.Is(err, errServerRunning) || !strings.Contains(err.Error(), "POST /api/users") {
		t.Errorf("users list on a held data dir: %v, want %q", err, errServerRunning)
	}
}
