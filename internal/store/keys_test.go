package store

import (
	"bytes"
	"strings"
	"testing"
)

// TestKeyspaces checks that no prefix is a prefix of another (a range scan
// of one would read the other's keys), and that every prefix is listed once.
func TestKeyspaces(t *testing.T) {
	seen := map[string]bool{}
	for _, a := range Keyspaces {
		if seen[a.Prefix] {
			t.Errorf("prefix %q listed twice", a.Prefix)
		}
		seen[a.Prefix] = true
		if a.Prefix == "" || a.Owner == "" {
			t.Errorf("keyspace %+v: prefix and owner are required", a)
		}
		for _, b := range Keyspaces {
			if a.Prefix != b.Prefix && strings.HasPrefix(b.Prefix, a.Prefix) {
				t.Errorf("prefix %q (%s) is a prefix of %q (%s)", a.Prefix, a.Owner, b.Prefix, b.Owner)
			}
		}
	}
	if len(seen) != 37 {
		t.Errorf("%d keyspaces; a new prefix needs a constant, a line in Keyspaces and this count", len(seen))
	}
}

func TestUpperBound(t *testing.T) {
	for _, tc := range []struct {
		prefix string
		want   []byte
	}{
		{"p/", []byte("p0")},
		{"cfg/", []byte("cfg0")},
		{"a\xff", []byte("b")},
		{"\xff\xff", nil},
	} {
		got := UpperBound(tc.prefix)
		if !bytes.Equal(got, tc.want) {
			t.Errorf("UpperBound(%q) = %q, want %q", tc.prefix, got, tc.want)
		}
		for _, k := range []string{tc.prefix, tc.prefix + "\xff\xff\xff"} {
			if got != nil && bytes.Compare([]byte(k), got) >= 0 {
				t.Errorf("key %q is not below UpperBound(%q) = %q", k, tc.prefix, got)
			}
		}
	}
}
