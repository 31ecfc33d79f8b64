package profile

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"tailor/internal/event"
)

func TestIdentityKeysBoundedByKind(t *testing.T) {
	s := NewStore()
	seq := uint64(0)
	apply := func(e *event.Event) {
		seq++
		e.Seq, e.Type, e.MessageID, e.Timestamp = seq, event.Identify, fmt.Sprint("m", seq), time.Unix(1700000000, 0).UTC()
		s.apply(e)
	}
	// One person seen on five devices, with an email and a phone.
	apply(&event.Event{UserID: "u", Traits: map[string]any{"email": "u@x.org", "phone": "+33612345678"}})
	for i := range 5 {
		apply(&event.Event{UserID: "u", AnonymousID: fmt.Sprintf("a%d", 4-i)})
	}
	apply(&event.Event{UserID: "other", AnonymousID: "zz"})

	primary := []event.Kind{event.KindUserID, event.KindAnonymousID}
	tests := []struct {
		name      string
		key       string
		max       int
		kinds     []event.Kind
		want      []string
		wantTotal int
	}{
		{"all primary kinds, user ids first", "email:u@x.org", 100, primary,
			[]string{"user_id:u", "anonymous_id:a0", "anonymous_id:a1", "anonymous_id:a2", "anonymous_id:a3", "anonymous_id:a4"}, 6},
		{"cut at max", "user_id:u", 3, primary, []string{"user_id:u", "anonymous_id:a0", "anonymous_id:a1"}, 6},
		{"max of one", "anonymous_id:a3", 1, primary, []string{"user_id:u"}, 6},
		{"max of zero", "anonymous_id:a3", 0, primary, nil, 6},
		{"negative max", "anonymous_id:a3", -1, primary, nil, 6},
		{"a kind with one identifier", "user_id:u", 10, []event.Kind{event.KindPhone}, []string{"phone:+33612345678"}, 1},
		{"a kind the profile lacks", "user_id:other", 10, []event.Kind{event.KindEmail}, nil, 0},
		{"the other profile", "user_id:other", 10, primary, []string{"user_id:other", "anonymous_id:zz"}, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			id, keys, total, ok := s.IdentityKeys(tt.key, tt.max, tt.kinds...)
			want, _ := s.Lookup(tt.key)
			if !ok || id != want.ID || !slices.Equal(keys, tt.want) || total != tt.wantTotal {
				t.Fatalf("IdentityKeys(%q, %d) = %q, %q, %d, %v; want %q, %q, %d", tt.key, tt.max, id, keys, total, ok, want.ID, tt.want, tt.wantTotal)
			}
		})
	}
	if _, _, _, ok := s.IdentityKeys("user_id:nobody", 10, primary...); ok {
		t.Fatal("found a profile for an unknown identifier")
	}
}

// BenchmarkTimelineKeys measures what the timeline handler does under the
// store's read lock for a profile with many identities: IdentityKeys (at
// most 1,000 keys of the kinds that file events) against Identities (every
// key), which it used before.
func BenchmarkTimelineKeys(b *testing.B) {
	for _, n := range []int{1000, 100000} {
		s := NewStore()
		for i := range n {
			e := &event.Event{Seq: uint64(i + 1), Type: event.Identify, MessageID: fmt.Sprint("m", i), UserID: "u",
				AnonymousID: fmt.Sprintf("a%07d", i), Timestamp: time.Unix(1700000000, 0).UTC()}
			if i%2 == 0 {
				e.Traits = map[string]any{"email": fmt.Sprintf("e%07d@x.org", i)}
			}
			s.apply(e)
		}
		b.Run(fmt.Sprintf("identities=%d/IdentityKeys", n), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, keys, _, ok := s.IdentityKeys("user_id:u", 1000, event.KindUserID, event.KindAnonymousID); !ok || len(keys) != min(n+1, 1000) {
					b.Fatal(len(keys), ok)
				}
			}
		})
		b.Run(fmt.Sprintf("identities=%d/Identities", n), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, keys, ok := s.Identities("user_id:u"); !ok || len(keys) < n {
					b.Fatal(len(keys), ok)
				}
			}
		})
	}
}

// Identities is the look-up the timeline used before IdentityKeys: it
// copies every identity under the read lock (the benchmark's baseline).
func (s *Store) Identities(key string) (string, []string, bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	p := s.find(key)
	if p == nil {
		return "", nil, false
	}
	ids := s.identities(p)
	keys := make([]string, len(ids))
	for i, id := range ids {
		keys[i] = id.Key()
	}
	return s.pid(p), keys, true
}
