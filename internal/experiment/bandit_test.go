package experiment

import (
	"strconv"
	"strings"
	"tailor/internal/store/storetest"
	"testing"
	"time"
)

func TestBanditShiftsNewTrafficToTheWinner(t *testing.T) {
	db := storetest.MemDB(t)
	e := New(Options{DB: db, Now: func() time.Time { return t0.Add(48 * time.Hour) }})
	x := def("offer", 0)
	x.Variants = []Variant{{ID: "a", Name: "10 % off", Weight: 1}, {ID: "b", Name: "Free shipping", Weight: 1}, {ID: "c", Name: "Gift", Weight: 1}}
	x.Bandit = true
	running(t, e, x)
	// 3000 units at the fixed thirds; b converts at 15 %, the others at 5 %.
	simulate(e, "offer", 3000, 2, []float64{0.05, 0.15, 0.05}, 3)
	b := db.NewBatch()
	if err := e.Checkpoint(b); err != nil {
		t.Fatal(err)
	}
	if err := b.Commit(nil); err != nil {
		t.Fatal(err)
	}
	counts := map[string]int{}
	for i := range 10000 {
		v, _ := e.Assign("offer", "new-"+strconv.Itoa(i))
		counts[v]++
	}
	if counts["b"] < 9000 || counts["a"] < 100 || counts["c"] < 100 {
		t.Errorf("new traffic %v: want ≥ 90 %% to b and the 2 %% floor still to a and c", counts)
	}
	// Units already exposed keep their variant.
	for i := range 3000 {
		p := "p" + strconv.Itoa(i)
		s := e.exps["offer"]
		i, _ := s.byProfile.Get(p)
		want := s.def.Variants[s.units[i].variant].ID
		if v, _ := e.Assign("offer", p); v != want {
			t.Fatalf("exposed unit %s moved from %s to %s", p, want, v)
		}
	}
	r, err := e.Results("offer")
	if err != nil {
		t.Fatal(err)
	}
	if r.SRM.Mismatch || r.SRMWarning != "" || !strings.HasPrefix(r.Verdict, "Bandit:") || r.Allocation[1] < 0.9 {
		t.Errorf("bandit results: srm %+v, verdict %q, allocation %v", r.SRM, r.Verdict, r.Allocation)
	}
	// After a restart the allocation is recomputed from the stored units.
	again := New(Options{DB: db})
	if err := again.Load(); err != nil {
		t.Fatal(err)
	}
	if a := again.exps["offer"].allocation(); a[1] < 0.9 {
		t.Errorf("allocation after load %v, want b ≥ 90 %%", a)
	}
}
