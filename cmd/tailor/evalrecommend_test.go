package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestReadInteractions(t *testing.T) {
	tests := []struct {
		name, body string
		want       int    // interactions read
		err        string // part of the error, "" for none
	}{
		{"ndjson", `{"user":"u1","item":"a","time":"2026-01-02T03:04:05Z","type":"view"}
{"user":"u1","item":"b","time":1767323045}
`, 2, ""},
		{"csv with type", "user,item,time,type\nu1,a,2026-01-02T03:04:05Z,cart\nu2,b,1767323045,\n", 2, ""},
		{"csv columns in any order", "time,item,user\n1767323045,a,u1\n", 1, ""},
		{"csv without a needed column", "user,item\nu1,a\n", 0, "needs the columns user, item, time"},
		{"bad time names the line", "user,item,time\nu1,a,yesterday\n", 0, "line 2: time"},
		{"bad type", `{"user":"u1","item":"a","time":1,"type":"like"}`, 0, `type "like"`},
		{"missing item", `{"user":"u1","time":1}`, 0, "user and item are required"},
		{"not JSON", "{nope\n", 0, "line 1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "in")
			if err := os.WriteFile(path, []byte(tt.body), 0o600); err != nil {
				t.Fatal(err)
			}
			got, err := readInteractions(path)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("error %v, want one with %q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != tt.want {
				t.Fatalf("%d interactions, want %d: %+v", len(got), tt.want, got)
			}
			if got[0].User != "u1" || got[0].Item != "a" || got[0].Time.Before(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)) {
				t.Errorf("first interaction %+v", got[0])
			}
		})
	}
}
