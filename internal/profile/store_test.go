package profile

import (
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"tailor/internal/demo"
	"tailor/internal/event"
	"tailor/internal/store/storetest"
)

// demoEvents decodes the first n messages of the demo store.
func demoEvents(tb testing.TB, customers, n int) []*event.Event {
	tb.Helper()
	var out []*event.Event
	recv := time.Date(2026, 11, 24, 0, 0, 0, 0, time.UTC)
	err := demo.New(demo.Config{Customers: customers}).Messages(func(msg []byte) error {
		if len(out) == n {
			return errStop
		}
		e, err := event.Decode(msg, event.Meta{ReceivedAt: recv, SourceID: "demo"})
		if err != nil {
			tb.Fatalf("demo message does not decode: %v\n%s", err, msg)
		}
		e.Seq = uint64(len(out) + 1)
		out = append(out, &e)
		return nil
	})
	if err != nil && err != errStop {
		tb.Fatal(err)
	}
	return out
}

type stopErr struct{}

func (stopErr) Error() string { return "stop" }

var errStop error = stopErr{}

// TestHotAndCodecRoundTrip checks that keeping few profiles decoded does
// not change them, and that every profile survives its encoding.
func TestHotAndCodecRoundTrip(t *testing.T) {
	evs := demoEvents(t, 200, 1<<30)
	live := NewStore()
	for _, e := range evs {
		live.Apply(e)
	}
	ref := live
	// With only 3 decoded profiles every event decodes, and evictions encode:
	// the result must not change. With 1, a merge needs two profiles while
	// only one may stay decoded (it used to panic on the first merge).
	for _, hot := range []int{3, 1} {
		cold := NewStore()
		cold.SetHot(hot)
		for _, e := range evs {
			cold.apply(e)
		}
		if cold.hotLen != hot {
			t.Fatalf("hot profiles = %d, want %d", cold.hotLen, hot)
		}
		if d := Diff(cold, ref, 5); len(d) > 0 {
			t.Fatalf("hot %d: evicting decoded profiles changes them: %v", hot, d)
		}
	}
	if live.Len() >= 260 || live.Len() < 150 {
		t.Fatalf("%d profiles for 200 demo customers: identity resolution is off", live.Len())
	}
	// Encode every profile and decode it back.
	for _, pr := range live.all() {
		id := live.pid(pr)
		if err := live.flush(pr); err != nil {
			t.Fatal(err)
		}
		b := live.encodeProfile(nil, pr)
		back, _, err := decodeProfile(b)
		if err != nil {
			t.Fatal(err)
		}
		var st State
		if err := st.UnmarshalBinary(back.enc); err != nil {
			t.Fatal(err)
		}
		if back.createdSeq != pr.CreatedSeq || back.nids != pr.nids || !st.Equal(live.decodedState(pr)) || back.ids != live.idsOf(pr) {
			t.Fatalf("profile %s does not round trip", id)
		}
	}
}

// BenchmarkProcessor measures applying demo events to profiles (identity
// resolution + computed fields), the processor's per-event cost: with every
// profile decoded (hot), and with only 500 of ~5,600 decoded (cold: most
// events decode a profile and evict another).
func BenchmarkProcessor(b *testing.B) {
	for _, bc := range []struct {
		name string
		hot  int
	}{{"hot", DefaultHot}, {"cold", 500}} {
		b.Run(bc.name, func(b *testing.B) {
			evs := demoEvents(b, 5000, 100000)
			b.ReportAllocs()
			b.ResetTimer()
			s := NewStore()
			for i := 0; b.Loop(); i++ {
				if i%len(evs) == 0 {
					s = NewStore()
					s.SetHot(bc.hot)
				}
				s.apply(evs[i%len(evs)])
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
		})
	}
}

// TestLookupBrief: a Brief says what a Snapshot says of a profile's id,
// traits and first userId and anonymousId, found by profile id or by
// identifier, for every demo profile, hot or cold.
func TestLookupBrief(t *testing.T) {
	s := NewStore()
	s.SetHot(50) // most profiles cold: their state is decoded for the lookup
	for _, e := range demoEvents(t, 300, 6000) {
		s.apply(e)
	}
	var ids []string
	s.Each(func(id string, _ *State) bool { ids = append(ids, id); return true })
	if len(ids) < 200 {
		t.Fatalf("%d profiles, want at least 200", len(ids))
	}
	for _, id := range ids {
		snap, ok := s.Lookup(id)
		if !ok {
			t.Fatalf("Lookup(%s) found nothing", id)
		}
		want := Brief{ID: snap.ID, Traits: snap.Traits}
		for _, x := range snap.Identities {
			switch {
			case x.Kind == event.KindUserID && want.UserID == "":
				want.UserID = x.Value
			case x.Kind == event.KindAnonymousID && want.AnonymousID == "":
				want.AnonymousID = x.Value
			}
		}
		keys := []string{id}
		if want.UserID != "" {
			keys = append(keys, "user_id:"+want.UserID)
		}
		for _, k := range keys {
			got, ok := s.LookupBrief(k)
			if !ok || !reflect.DeepEqual(got, want) {
				t.Fatalf("LookupBrief(%s) = %+v, %v; want %+v", k, got, ok, want)
			}
		}
	}
	if _, ok := s.LookupBrief("user_id:nobody"); ok {
		t.Error("LookupBrief found a profile for an unknown userId")
	}
}

// BenchmarkLookupBrief: what consent paid for a profile's addresses at
// every event that carries one (a Snapshot: traits, identities and
// computed fields) against a Brief, on the demo's profiles, hot and cold.
func BenchmarkLookupBrief(b *testing.B) {
	for _, hot := range []int{DefaultHot, 50} {
		s := NewStore()
		s.SetHot(hot)
		for _, e := range demoEvents(b, 1000, 20000) {
			s.apply(e)
		}
		var ids []string
		s.Each(func(id string, _ *State) bool { ids = append(ids, id); return true })
		state := "hot"
		if hot < len(ids) {
			state = "cold"
		}
		b.Run("snapshot/"+state, func(b *testing.B) {
			b.ReportAllocs()
			for i := 0; b.Loop(); i++ {
				if _, ok := s.Lookup(ids[i%len(ids)]); !ok {
					b.Fatal("not found")
				}
			}
		})
		b.Run("brief/"+state, func(b *testing.B) {
			b.ReportAllocs()
			for i := 0; b.Loop(); i++ {
				if _, ok := s.LookupBrief(ids[i%len(ids)]); !ok {
					b.Fatal("not found")
				}
			}
		})
	}
}

func TestIdentityResolution(t *testing.T) {
	at := func(sec int) time.Time { return time.Unix(1700000000+int64(sec), 0).UTC() }
	ev := func(seq int, typ event.Type, uid, anon, email string) *event.Event {
		e := &event.Event{Seq: uint64(seq), Type: typ, MessageID: fmt.Sprint("m", seq), UserID: uid, AnonymousID: anon, Timestamp: at(seq), Event: "E"}
		if email != "" {
			e.Traits = map[string]any{"email": email}
		}
		return e
	}
	s := NewStore()
	for _, e := range []*event.Event{
		ev(1, event.Track, "", "anon-1", ""),                // anonymous visit
		ev(2, event.Track, "", "anon-2", ""),                // a second device
		ev(3, event.Identify, "ann", "anon-1", "ann@x.org"), // login on device 1
		ev(4, event.Identify, "", "anon-2", "ann@x.org"),    // email proves device 2 is Ann's
		ev(5, event.Identify, "bob", "anon-1", "bob@x.org"), // Bob logs in on Ann's browser
		ev(6, event.Identify, "bob", "anon-3", "ann@x.org"), // Bob types Ann's email
	} {
		s.apply(e)
	}
	ann, ok := s.Lookup("user_id:ann")
	if !ok {
		t.Fatal("no profile for ann")
	}
	for _, k := range []string{"anonymous_id:anon-1", "anonymous_id:anon-2", "email:ann@x.org"} {
		if p, _ := s.Lookup(k); p.ID != ann.ID {
			t.Errorf("%s is in %s, want Ann's %s", k, p.ID, ann.ID)
		}
	}
	if ann.Computed.EventCount != 4 {
		t.Errorf("Ann has %d events, want 4 (both devices, login, email link)", ann.Computed.EventCount)
	}
	bob, _ := s.Lookup("user_id:bob")
	if bob.ID == ann.ID || bob.Computed.EventCount != 2 {
		t.Fatalf("bob = %s with %d events; ann = %s", bob.ID, bob.Computed.EventCount, ann.ID)
	}
	if p, _ := s.Lookup("anonymous_id:anon-3"); p.ID != bob.ID {
		t.Errorf("anon-3 (only seen with bob) is in %s", p.ID)
	}
	if s.Conflicts() != 2 {
		t.Errorf("conflicts = %d, want 2", s.Conflicts())
	}
	// The merge of anon-2's profile into Ann's is on record; the old id resolves.
	if len(s.redirect) != 1 {
		t.Fatalf("redirects = %v", s.redirect)
	}
	for old := range s.redirect {
		if p, _ := s.Lookup(old); p.ID != ann.ID {
			t.Errorf("merged id %s resolves to %s", old, p.ID)
		}
	}
}

// TestIdentifierHashCollisions forces every identifier, and every profile id,
// into one hash slot: identity resolution must give the same profiles as
// with the real hashes.
func TestIdentifierHashCollisions(t *testing.T) {
	evs := demoEvents(t, 60, 1<<30)
	ref := NewStore()
	for _, e := range evs {
		ref.apply(e)
	}
	s := NewStore()
	s.identHash = func(event.Identifier) uint64 { return 7 }
	s.idHash = func(string) uint64 { return 7 }
	for _, e := range evs {
		s.apply(e)
	}
	if len(s.overflow) == 0 || len(s.idOverflow) == 0 {
		t.Fatal("no identifier or id went to the overflow maps")
	}
	if d := Diff(s, ref, 5); len(d) > 0 {
		t.Fatalf("collisions change identity resolution: %v", d)
	}
}

func TestSearchPrefilter(t *testing.T) {
	evs := demoEvents(t, 300, 1<<30)
	s := NewStore()
	s.SetHot(2) // almost every profile cold: the prefilter runs
	for _, e := range evs {
		s.apply(e)
	}
	for _, p := range s.all() {
		if err := s.flush(p); err != nil {
			t.Fatal(err)
		}
	}
	// Reference: decode every profile.
	want := 0
	for _, p := range s.all() {
		if j, ok := s.decodedState(p).TraitJSON("city"); ok && strings.EqualFold(j, `"paris"`) {
			want++
		}
	}
	if want == 0 {
		t.Fatal("no demo customer in Paris")
	}
	for _, q := range []string{"Paris", "paris", "PARIS"} {
		if got := len(s.Search("city", q, 1000)); got != want {
			t.Errorf("Search(city, %q) = %d profiles, want %d", q, got, want)
		}
	}
	if !containsFoldASCII([]byte(`x"PaRiS"y`), "paris") || containsFoldASCII([]byte("Pari"), "paris") {
		t.Error("containsFoldASCII")
	}
}

// TestSearchWhileApplying runs searches while events are applied
// (run with -race): the chunked scan must only touch profiles under the lock.
func TestSearchWhileApplying(t *testing.T) {
	evs := demoEvents(t, 300, 1<<30)
	s := NewStore()
	s.SetHot(20)
	done := make(chan struct{})
	go func() {
		for _, e := range evs {
			s.Apply(e)
		}
		close(done)
	}()
	for searching := true; searching; {
		select {
		case <-done:
			searching = false
		default:
			for _, snap := range s.Search("country", "FR", 5) {
				if snap.Traits["country"] != "FR" {
					t.Fatalf("search returned %v", snap.Traits["country"])
				}
			}
		}
	}
	if got := len(s.Search("country", "FR", 1000)); got == 0 {
		t.Fatal("no French customers found after applying")
	}
}

// TestRecordsCompacted applies the demo with few profiles decoded, so that
// records are replaced at every eviction, and checkpoints often, so that
// the records' arena is compacted while events go on: the profiles must be
// those of a store that never compacted.
func TestRecordsCompacted(t *testing.T) {
	evs := demoEvents(t, 200, 1<<30)
	ref := NewStore()
	s := NewStore()
	s.SetHot(3)
	s.recs.CompactAt = 1 << 10
	db := openTestDB(t)
	passes := 0
	for i, e := range evs {
		ref.Apply(e)
		s.Apply(e)
		if i%500 == 499 {
			held, _ := s.recs.Stats()
			b := db.NewBatch()
			if err := s.Checkpoint(b); err != nil {
				t.Fatal(err)
			}
			b.Close()
			if after, _ := s.recs.Stats(); after < held {
				passes++
			}
			if err := s.recs.Check(); err != nil {
				t.Fatal(err)
			}
		}
	}
	if passes == 0 {
		t.Fatal("the records were never compacted")
	}
	if d := Diff(s, ref, 5); len(d) > 0 {
		t.Fatalf("after %d compactions: %v", passes, d)
	}
	for _, p := range s.all() {
		for _, id := range s.identities(p) {
			if o := s.owner(id); o != p {
				t.Fatalf("%s does not resolve to its profile %s after compactions", id.Key(), s.pid(p))
			}
		}
	}
}

// A checkpoint lets go of the hot entries no event used for 20 s worth of
// checkpoints (whatever their interval), least recently used first, and
// keeps the rest; letting go changes no profile.
func TestCheckpointEvictsIdleHotEntries(t *testing.T) {
	for _, tc := range []struct {
		every time.Duration
		idle  int // checkpoints
	}{
		{0, 5}, // not set: DefaultCheckpointInterval
		{2 * time.Second, 10},
		{4 * time.Second, 5},
		{3 * time.Second, 7},
		{time.Minute, 1},
	} {
		t.Run(tc.every.String(), func(t *testing.T) {
			testEvictsIdle(t, tc.every, tc.idle)
		})
	}
}

func testEvictsIdle(t *testing.T, every time.Duration, idle int) {
	evs := demoEvents(t, 50, 1<<30)
	s, ref := NewStore(), NewStore()
	if every > 0 {
		s.SetCheckpointInterval(every)
	}
	for _, e := range evs {
		s.Apply(e)
		ref.Apply(e)
	}
	db := storetest.MemDB(t)
	checkpoint := func() {
		t.Helper()
		b := db.NewBatch()
		defer b.Close()
		if err := s.Checkpoint(b); err != nil {
			t.Fatal(err)
		}
	}
	all := s.hotLen
	if all < 40 {
		t.Fatalf("%d hot profiles after 50 customers' events", all)
	}
	last := evs[len(evs)-1]
	for i := range idle - 1 {
		checkpoint()
		if s.hotLen != all {
			t.Fatalf("checkpoint %d: %d hot, want all %d (none idle for %d yet)", i+1, s.hotLen, all, idle)
		}
		if i == 0 {
			s.Apply(last) // one profile used again
		}
	}
	checkpoint()
	want := 1
	if idle == 1 {
		want = 0 // no checkpoint came before it to use a profile again after
	}
	if s.hotLen != want {
		t.Fatalf("after %d idle checkpoints %d hot, want %d", idle, s.hotLen, want)
	}
	if h := s.hotHead; want == 1 && (h == nil || s.pid(h.p) != s.res.Profile) {
		t.Errorf("the hot entry left is not the profile used last")
	}
	if idle == 1 {
		s.Apply(last)
	}
	ref.Apply(last)
	if d := Diff(s, ref, 5); len(d) > 0 {
		t.Fatalf("letting idle entries go changed profiles: %v", d)
	}
	for range idle {
		checkpoint()
	}
	if s.hotLen != 0 {
		t.Errorf("%d hot after the last one idled too", s.hotLen)
	}
}

// BenchmarkIdentifierHash: the identifier index's hash on the demo's
// identifiers (a userId, an anonymousId and an email an event), FNV-1a as
// it was against maphash.
func BenchmarkIdentifierHash(b *testing.B) {
	var ids []event.Identifier
	for _, e := range demoEvents(b, 1000, 3000) {
		ids = append(ids, e.Identifiers()...)
	}
	fnv := func(id event.Identifier) uint64 {
		return fnv64(fnv64(fnvOffset64, string(id.Kind))*fnvPrime64, id.Value)
	}
	for _, bc := range []struct {
		name string
		hash func(event.Identifier) uint64
	}{{"fnv", fnv}, {"maphash", hashIdentifier}} {
		b.Run(bc.name, func(b *testing.B) {
			var sink uint64
			for i := 0; b.Loop(); i++ {
				sink ^= bc.hash(ids[i%len(ids)])
			}
			_ = sink
		})
	}
}
