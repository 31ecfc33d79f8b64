package arena

import (
	"bytes"
	"fmt"
	"testing"

	"tailor/internal/arena/arenatest"
)

func TestStringsKeepValues(t *testing.T) {
	var a Strings
	want := make([]string, 0, 20000)
	got := make([]string, 0, 20000)
	buf := []byte{}
	for i := range 20000 {
		buf = fmt.Appendf(buf[:0], "user-%d", i)
		want = append(want, string(buf))
		got = append(got, a.String(buf))
		buf[0] = 'X' // the arena copied: changing the source changes nothing
	}
	big := bytes.Repeat([]byte("x"), chunkSize)
	if s := a.String(big); s != string(big) {
		t.Fatal("a value larger than a chunk came back changed")
	}
	if a.String(nil) != "" {
		t.Fatal("empty value")
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("value %d = %q, want %q", i, got[i], want[i])
		}
	}
}

func TestCloneCopies(t *testing.T) {
	var a Strings
	src := []byte("user-1")
	s := string(src)
	c := a.Clone(s)
	if c != s || a.Clone("") != "" {
		t.Fatalf("Clone(%q) = %q", s, c)
	}
	next := a.Clone("user-2") // the next value goes after it, not over it
	if c != "user-1" || next != "user-2" {
		t.Fatalf("clones %q, %q", c, next)
	}
}

// TestChunksGrow: an arena's first chunk is small and each next one doubles
// up to chunkSize.
func TestChunksGrow(t *testing.T) {
	var a Strings
	a.String([]byte("x"))
	if cap(a.buf) != firstChunk {
		t.Fatalf("first chunk %d bytes, want %d", cap(a.buf), firstChunk)
	}
	caps := []int{cap(a.buf)}
	for range 200_000 {
		a.String([]byte("profile-1"))
		if c := cap(a.buf); c != caps[len(caps)-1] {
			caps = append(caps, c)
		}
	}
	if caps[1] != 2*firstChunk || caps[len(caps)-1] != chunkSize {
		t.Fatalf("string chunks %v, want doubling from %d to %d", caps, firstChunk, chunkSize)
	}
}

// BenchmarkGCStrings compares what a million small long-lived strings cost a
// full collection, one allocation each (naive) against packed in an arena.
//
//	go test -run '^$' -bench GCStrings ./internal/arena/
func BenchmarkGCStrings(b *testing.B) {
	for _, packed := range []bool{false, true} {
		name := "naive"
		if packed {
			name = "arena"
		}
		b.Run(name, func(b *testing.B) {
			var a Strings
			keep := make([]string, 1_000_000)
			buf := []byte{}
			for i := range keep {
				buf = fmt.Appendf(buf[:0], "profile-%08d", i)
				if packed {
					keep[i] = a.String(buf)
				} else {
					keep[i] = string(buf)
				}
			}
			arenatest.Collect(b, keep, len(keep), "string")
		})
	}
}
