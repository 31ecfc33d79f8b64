package profile

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2"

	"tailor/internal/event"
	"tailor/internal/store"
)

func openTestDB(t *testing.T) *pebble.DB {
	t.Helper()
	db, err := store.Open(t.TempDir(), 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// checkpoint applies evs to s and writes its checkpoint into db.
func checkpoint(t *testing.T, s *Store, db *pebble.DB, evs ...*event.Event) {
	t.Helper()
	for _, e := range evs {
		s.apply(e)
	}
	b := db.NewBatch()
	if err := s.Checkpoint(b); err != nil {
		t.Fatal(err)
	}
	if err := b.Commit(pebble.Sync); err != nil {
		t.Fatal(err)
	}
}

func mergeEvent(seq int, uid, anon, email string) *event.Event {
	e := &event.Event{Seq: uint64(seq), Type: event.Identify, MessageID: fmt.Sprint("m", seq), UserID: uid, AnonymousID: anon,
		Timestamp: time.Unix(1700000000+int64(seq), 0).UTC(), Event: "E"}
	if email != "" {
		e.Traits = map[string]any{"email": email}
	}
	return e
}

func mergePairs(ms []Merge) []string {
	out := make([]string, len(ms))
	for i, m := range ms {
		out[i] = fmt.Sprintf("%d:%s<-%s", m.Seq, m.Into, m.From)
	}
	return out
}

func TestMergesAreReadPerSurvivingProfile(t *testing.T) {
	db := openTestDB(t)
	s := NewStore()
	id := func(key string) string {
		p, ok := s.Lookup(key)
		if !ok {
			t.Fatalf("no profile for %s", key)
		}
		return p.ID
	}
	// Three anonymous visitors and one unrelated; then one event proves the
	// first three are one person (two merges at the same seq).
	checkpoint(t, s, db,
		mergeEvent(1, "", "a1", ""), mergeEvent(2, "", "a2", ""), mergeEvent(3, "", "a3", ""), mergeEvent(4, "", "other", ""))
	a1, a2, a3, other := id("anonymous_id:a1"), id("anonymous_id:a2"), id("anonymous_id:a3"), id("anonymous_id:other")
	checkpoint(t, s, db, mergeEvent(5, "", "a2", "x@y.z"), mergeEvent(6, "", "a3", "x@y.z")) // a3 into a2
	checkpoint(t, s, db, mergeEvent(7, "ann", "a1", ""), mergeEvent(8, "ann", "a2", ""))     // a2 (with a3) into a1
	checkpoint(t, s, db, mergeEvent(9, "", "other", ""))                                     // no merge

	log := MergeLog{DB: db}
	tests := []struct {
		name, id string
		want     []string
	}{
		{"the survivor has its merges and those of what it absorbed, oldest first", a1,
			[]string{fmt.Sprintf("6:%s<-%s", a2, a3), fmt.Sprintf("8:%s<-%s", a1, a2)}},
		{"a merged-away profile keeps its own trail", a2, []string{fmt.Sprintf("6:%s<-%s", a2, a3)}},
		{"a profile without merges has none", other, []string{}},
		{"an unknown profile has none", "p_nope", []string{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ms, err := log.Merges(tt.id)
			if err != nil {
				t.Fatal(err)
			}
			if got := mergePairs(ms); strings.Join(got, " ") != strings.Join(tt.want, " ") {
				t.Errorf("Merges(%s) = %v, want %v", tt.id, got, tt.want)
			}
		})
	}
	// A profile id that is a prefix of another's does not read the other's.
	if ms, _ := log.Merges(a1[:len(a1)-2]); len(ms) != 0 {
		t.Errorf("Merges of a prefix of %s = %v, want none", a1, mergePairs(ms))
	}
}

func TestMergesOfOneEventMergingSeveralProfilesAreAllKept(t *testing.T) {
	db := openTestDB(t)
	s := NewStore()
	checkpoint(t, s, db, mergeEvent(1, "", "a1", ""), mergeEvent(2, "", "a2", "ann@x.org"), mergeEvent(3, "ann", "", ""))
	// One event names all three: two profiles merge into the oldest at seq 4.
	checkpoint(t, s, db, mergeEvent(4, "ann", "a1", "ann@x.org"))
	into, _ := s.Lookup("user_id:ann")
	ms, err := MergeLog{DB: db}.Merges(into.ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(ms) != 2 || ms[0].Seq != 4 || ms[1].Seq != 4 || ms[0].From == ms[1].From {
		t.Fatalf("merges into %s = %v, want the two merges of seq 4", into.ID, mergePairs(ms))
	}
}

// legacyMerges writes ms in the format of servers before mi/.
func legacyMerges(t *testing.T, db *pebble.DB, ms ...Merge) {
	t.Helper()
	b := db.NewBatch()
	for _, m := range ms {
		v, _ := json.Marshal(m)
		if err := b.Set(binary.BigEndian.AppendUint64([]byte(store.PrefixMerge), m.Seq), v, nil); err != nil {
			t.Fatal(err)
		}
	}
	if err := b.Commit(pebble.NoSync); err != nil {
		t.Fatal(err)
	}
}

func countPrefix(t *testing.T, db *pebble.DB, prefix string) int {
	t.Helper()
	it, err := db.NewIter(&pebble.IterOptions{LowerBound: []byte(prefix), UpperBound: store.UpperBound(prefix)})
	if err != nil {
		t.Fatal(err)
	}
	defer it.Close()
	n := 0
	for it.First(); it.Valid(); it.Next() {
		n++
	}
	return n
}

func TestMigrateMergesMovesTheOldFormatOnce(t *testing.T) {
	db := openTestDB(t)
	const n = migrateBatch + 7 // more than one batch
	var old []Merge
	for i := 1; i <= n; i++ {
		old = append(old, Merge{Seq: uint64(i), MessageID: fmt.Sprint("m", i), Via: "alias", Into: fmt.Sprintf("p_%d", i%20), From: fmt.Sprintf("p_f%d", i),
			Moved: []event.Identifier{{Kind: event.KindAnonymousID, Value: fmt.Sprint("a", i)}}})
	}
	legacyMerges(t, db, old...)
	moved, err := MigrateMerges(db)
	if err != nil || moved != n {
		t.Fatalf("MigrateMerges = %d, %v; want %d moved", moved, err, n)
	}
	if left := countPrefix(t, db, store.PrefixMerge); left != 0 {
		t.Errorf("%d records left in the old format", left)
	}
	ms, err := MergeLog{DB: db}.Merges("p_1")
	if err != nil {
		t.Fatal(err)
	}
	if want := (n + 19) / 20; len(ms) != want {
		t.Fatalf("p_1 has %d merges after the migration, want %d", len(ms), want)
	}
	if m := ms[0]; m.Seq != 1 || m.From != "p_f1" || m.Via != "alias" || len(m.Moved) != 1 || m.Moved[0].Value != "a1" {
		t.Errorf("first merge of p_1 = %+v, want seq 1 from p_f1 with its moved identity", m)
	}
	if again, err := MigrateMerges(db); again != 0 || err != nil {
		t.Errorf("second MigrateMerges = %d, %v; want nothing to do", again, err)
	}
}

func TestMigrateMergesRefusesARecordItCannotRead(t *testing.T) {
	db := openTestDB(t)
	legacyMerges(t, db, Merge{Seq: 1, Into: "p_a", From: "p_b"})
	if err := db.Set(binary.BigEndian.AppendUint64([]byte(store.PrefixMerge), 2), []byte("{not json"), pebble.Sync); err != nil {
		t.Fatal(err)
	}
	_, err := MigrateMerges(db)
	if err == nil || !strings.Contains(err.Error(), "is not a merge") {
		t.Fatalf("MigrateMerges over a corrupt record: err = %v, want it named", err)
	}
	// Nothing half-written: the batch with the bad record was not committed.
	if old, moved := countPrefix(t, db, store.PrefixMerge), countPrefix(t, db, store.PrefixMergeInto); old != 2 || moved != 0 {
		t.Errorf("after the refusal: %d old and %d new records, want 2 and 0", old, moved)
	}
}
