package journey

import (
	"fmt"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"tailor/internal/event"
	"tailor/internal/profile"
	"tailor/internal/store"
)

// TestMergedProfilesRunsMoveToTheSurvivor: when identity resolution merges
// a profile into another, its journey runs go on under the survivor — the
// same entry, step and timer, so the reminder goes to the survivor once —
// unless the survivor is in that journey already, whose run stands.
func TestMergedProfilesRunsMoveToTheSurvivor(t *testing.T) {
	for _, tc := range []struct {
		name string
		// survivorCart: the survivor added to its cart too, 10 minutes
		// after the anonymous profile.
		survivorCart bool
		want         func(anon, user *event.Event) []string
	}{
		{"the survivor is not in the journey", false, func(anon, _ *event.Event) []string {
			return []string{fmt.Sprintf("j:cart:1:%d:email1", anon.Seq)}
		}},
		{"the survivor's own run stands", true, func(_, user *event.Event) []string {
			return []string{fmt.Sprintf("j:cart:1:%d:email1", user.Seq)}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, Options{})
			h.save(cart())
			anon := h.track("p_anon", "Product Added", nil)
			var user *event.Event
			if tc.survivorCart {
				h.now = t0.Add(10 * time.Minute)
				user = h.track("p_user", "Product Added", nil)
			}
			h.now = t0.Add(20 * time.Minute)
			h.seq++
			h.e.Apply(&event.Event{Type: event.Identify, UserID: "u", ReceivedAt: h.now, Seq: h.seq},
				profile.Resolution{Profile: "p_user", Merged: []string{"p_anon"}})
			in, _ := h.e.Get("cart", 0)
			if in.Active != 1 {
				t.Fatalf("%d runs in progress after the merge, want 1", in.Active)
			}
			st, _ := h.e.Stats("cart")
			if w := st.Steps["wait1"].Waiting; w != 1 {
				t.Fatalf("%d waiting at wait1 after the merge, want 1", w)
			}
			if ended := st.Entered - st.Exited; ended != 1 {
				t.Fatalf("entered %d, exited %d after the merge: want one run still in", st.Entered, st.Exited)
			}
			h.at(90 * time.Minute)
			got := h.sent()
			if want := tc.want(anon, user); !slices.Equal(got, want) {
				t.Fatalf("sent %v, want %v", got, want)
			}
			for _, m := range h.out.msgs {
				if m.Profile != "p_user" {
					t.Fatalf("message %s to %s, want the survivor p_user", m.Key, m.Profile)
				}
			}
			h.at(26 * time.Hour)
			if n := len(h.sent()); n != 2 {
				t.Fatalf("%d sends after both waits, want the run's 2 reminders", n)
			}
		})
	}
}

// TestAMovedRunIsStoredUnderTheSurvivor: after a checkpoint and a reopen
// of the store, the moved run and its timer are the survivor's, and the
// merged profile has none left.
func TestAMovedRunIsStoredUnderTheSurvivor(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "db")
	db, err := store.Open(dir, 8<<20)
	if err != nil {
		t.Fatal(err)
	}
	h := newHarness(t, Options{DB: db})
	h.save(cart())
	anon := h.track("p_anon", "Product Added", nil)
	checkpoint := func() {
		b := db.NewBatch()
		if err := h.e.Checkpoint(b); err != nil {
			t.Fatal(err)
		}
		if err := b.Commit(nil); err != nil {
			t.Fatal(err)
		}
	}
	checkpoint() // the anonymous run and its timer are in the store
	h.seq++
	h.e.Apply(&event.Event{Type: event.Identify, UserID: "u", ReceivedAt: t0.Add(time.Minute), Seq: h.seq},
		profile.Resolution{Profile: "p_user", Merged: []string{"p_anon"}})
	checkpoint()
	db.Close()

	if db, err = store.Open(dir, 8<<20); err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	h2 := newHarness(t, Options{DB: db})
	h2.seq = h.seq
	if err := h2.e.Load(); err != nil {
		t.Fatal(err)
	}
	if _, ok := h2.e.runs[runKey{"p_anon", 0}]; ok {
		t.Fatal("the merged-away profile still has a run in the store")
	}
	h2.at(time.Hour)
	want := []string{fmt.Sprintf("j:cart:1:%d:email1", anon.Seq)}
	if got := h2.sent(); !slices.Equal(got, want) {
		t.Fatalf("after the reopen sent %v, want %v", got, want)
	}
	if m := h2.out.msgs[0]; m.Profile != "p_user" {
		t.Fatalf("the reminder went to %s, want p_user", m.Profile)
	}
}
