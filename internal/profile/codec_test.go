package profile

import (
	"bytes"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"unique"

	"tailor/internal/event"
)

// readAnnotated reads a testdata file of annotated bytes: hex bytes and
// Go-quoted strings separated by spaces, "#" to the end of a line a comment.
func readAnnotated(t testing.TB, path string) []byte {
	t.Helper()
	text, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var out []byte
	for n, line := range strings.Split(string(text), "\n") {
		for line = strings.TrimSpace(line); line != "" && line[0] != '#'; line = strings.TrimSpace(line) {
			if line[0] == '"' {
				q, err := strconv.QuotedPrefix(line)
				if err != nil {
					t.Fatalf("%s:%d: %v", path, n+1, err)
				}
				s, _ := strconv.Unquote(q)
				out = append(out, s...)
				line = line[len(q):]
				continue
			}
			tok, rest, _ := strings.Cut(line, " ")
			b, err := hex.DecodeString(tok)
			if err != nil {
				t.Fatalf("%s:%d: %q: %v", path, n+1, tok, err)
			}
			out = append(out, b...)
			line = rest
		}
	}
	return out
}

// goldenEvents are the events behind testdata/state-v*.txt, all from a
// server source (the zero Trust).
func goldenEvents() []*event.Event {
	return []*event.Event{
		identifyEvent("m1", atSec(1), map[string]any{"email": "a@example.com", "name": "Ann", "plan": nil}),
		{Type: event.Track, MessageID: "m2", Timestamp: atSec(2), Event: event.OrderCompleted,
			Context:    event.ContextFromMap(map[string]any{"timezone": "Europe/Paris"}),
			Properties: map[string]any{"revenue": 12.5, "products": []any{map[string]any{"product_id": "p1", "category": "Hats"}}}},
		trackEvent("m3", atSec(3), event.ProductViewed, map[string]any{"product_id": "p2", "category": "Shoes"}),
	}
}

// TestCodecGolden pins the encoding: version 2 is what the events encode to,
// byte for byte, and version 1 (written before trust levels and 128-bit
// revenue) still decodes to the same State.
func TestCodecGolden(t *testing.T) {
	v1 := readAnnotated(t, "testdata/state-v1.txt")
	v2 := readAnnotated(t, "testdata/state-v2.txt")
	want := stateOf(goldenEvents()...)
	if got, _ := want.MarshalBinary(); !bytes.Equal(got, v2) {
		t.Fatalf("encoding changed:\n got %x\nwant %x", got, v2)
	}
	for name, b := range map[string][]byte{"v1": v1, "v2": v2} {
		var s State
		if err := s.UnmarshalBinary(b); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if !s.Equal(want) {
			t.Errorf("%s decodes to\n%s\nwant\n%s", name, jsonOf(t, s.View()), jsonOf(t, want.View()))
		}
		if again, _ := s.MarshalBinary(); !bytes.Equal(again, v2) {
			t.Errorf("%s re-encodes to %x", name, again)
		}
		// The email came from a trusted source: a later client write loses.
		later := identifyEvent("m9", atSec(9), map[string]any{"email": "b@example.com"})
		later.Trust = event.TrustClient
		s.Apply(later)
		if email, _ := s.TraitString("email"); email != "a@example.com" {
			t.Errorf("%s: a client write replaced the email: %s", name, email)
		}
	}
}

func TestUnmarshalRejects(t *testing.T) {
	v2 := readAnnotated(t, "testdata/state-v2.txt")
	flagAt := func(key string) int { // the message-index byte of trait key
		i := bytes.Index(v2, []byte(key))
		// key, value string, 5-byte time distance, then the index byte.
		j := i + len(key)
		return j + 1 + int(v2[j]) + 5
	}
	with := func(at int, b byte) []byte {
		c := slices.Clone(v2)
		c[at] = b
		return c
	}
	tests := []struct {
		name string
		in   []byte
		want string
	}{
		{"unknown version", with(0, 3), "unknown version 3"},
		{"server flag on a non-identity trait", with(flagAt("name"), 1), `trait "name" marked as a server write`},
		{"message index out of range", with(flagAt("email"), 5), "message index 2 out of range"},
		{"truncated revenue", v2[:bytes.Index(v2, []byte{0xc0, 0xf0, 0xf5, 0x0b})+4], "truncated"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var s State
			err := s.UnmarshalBinary(tc.in)
			if !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("UnmarshalBinary = %v, want ErrCorrupt with %q", err, tc.want)
			}
		})
	}
}

// TestDecodeCutsToLimits checks that a state stored before the limits
// existed (or when they were higher) decodes cut to them, as a replay of its
// events would be.
func TestDecodeCutsToLimits(t *testing.T) {
	var over State
	over.events = 1
	for i := range MaxTraits + 10 {
		over.traits = append(over.traits, trait{key: unique.Make(fmt.Sprintf("k%04d", i)), val: `"v"`})
	}
	over.traits = append(over.traits, trait{key: identityTraits[1], val: `"+33100000000"`}) // "phone" sorts last
	over.serverIDs = 2
	for i := range MaxEventNames + 3 {
		over.eventCounts = append(over.eventCounts, counter{name: unique.Make(fmt.Sprintf("e%04d", i)), n: 1})
	}
	for i := range MaxCategories + 4 {
		over.categories = append(over.categories, counter{name: unique.Make(fmt.Sprintf("c%04d", i)), n: 1})
	}
	enc, _ := over.MarshalBinary() // the encoder writes what it holds
	var s State
	if err := s.UnmarshalBinary(enc); err != nil {
		t.Fatal(err)
	}
	if len(s.traits) != MaxTraits || len(s.eventCounts) != MaxEventNames || len(s.categories) != MaxCategories {
		t.Fatalf("decoded %d traits, %d names, %d categories", len(s.traits), len(s.eventCounts), len(s.categories))
	}
	if phone, _ := s.TraitString("phone"); phone != "+33100000000" || s.serverIDs != 2 {
		t.Errorf("phone %q, server bits %b: the identity trait must be kept", phone, s.serverIDs)
	}
	if _, ok := s.Trait(fmt.Sprintf("k%04d", MaxTraits-2)); !ok {
		t.Error("last kept key dropped")
	}
	if _, ok := s.Trait(fmt.Sprintf("k%04d", MaxTraits-1)); ok {
		t.Error("first key past the limit kept")
	}
	if s.EventNameCount(fmt.Sprintf("e%04d", MaxEventNames-1)) != 1 || s.EventNameCount(fmt.Sprintf("e%04d", MaxEventNames)) != 0 {
		t.Error("event names not cut to the smallest")
	}
}
