package experiment

import (
	"crypto/sha256"
	"encoding/binary"
	"strconv"
	"testing"

	"tailor/internal/experiment/stats"
)

func TestAssignIsDeterministicAndSalted(t *testing.T) {
	w := []uint32{50, 50}
	differ := 0
	for i := range 1000 {
		u := "user-" + strconv.Itoa(i)
		a := Assign("exp-1", u, w)
		if a != Assign("exp-1", u, w) {
			t.Fatalf("unit %s got two variants", u)
		}
		if a != Assign("exp-2", u, w) {
			differ++
		}
	}
	// Independent salts agree half the time.
	if differ < 420 || differ > 580 {
		t.Errorf("%d of 1000 units differ between two salts, want about 500", differ)
	}
	if got := Assign("s", "u", []uint32{0, 0}); got != -1 {
		t.Errorf("zero weights: %d, want -1", got)
	}
	if got := Assign("s", "u", nil); got != -1 {
		t.Errorf("no weights: %d, want -1", got)
	}
	if got := Assign("s", "u", []uint32{0, 7, 0}); got != 1 {
		t.Errorf("one non-zero weight: %d, want 1", got)
	}
}

func TestAssignIsUniform(t *testing.T) {
	// 100k sequential ids, the hardest case for a weak hash; the χ² test of
	// the counts against the weights must not flag a mismatch.
	cases := []struct {
		name    string
		weights []uint32
	}{
		{"even", []uint32{1, 1}},
		{"three way", []uint32{1, 1, 1}},
		{"10/30/60", []uint32{10, 30, 60}},
		{"1 percent", []uint32{1, 99}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			counts := make([]float64, len(tc.weights))
			for i := range 100_000 {
				counts[Assign("salt-"+tc.name, strconv.Itoa(i), tc.weights)]++
			}
			ws := make([]float64, len(tc.weights))
			for i, w := range tc.weights {
				ws[i] = float64(w)
			}
			r, err := stats.SRM(counts, ws)
			if err != nil {
				t.Fatal(err)
			}
			if r.PValue < 0.001 {
				t.Errorf("counts %v for weights %v: χ² %.1f, p %.2g", counts, tc.weights, r.ChiSquare, r.PValue)
			}
		})
	}
}

func TestAssignStableWhenLastVariantGivesWeightToANewOne(t *testing.T) {
	before := []uint32{5000, 5000}
	after := []uint32{5000, 3000, 2000} // same total; variant 2 carved out of variant 1's end
	moved := 0
	for i := range 20_000 {
		u := "u" + strconv.Itoa(i)
		a, b := Assign("s", u, before), Assign("s", u, after)
		switch {
		case a == 0 && b != 0:
			t.Fatalf("unit %s moved out of the untouched variant 0 (to %d)", u, b)
		case a == 1 && b == 0:
			t.Fatalf("unit %s moved from variant 1 to 0", u)
		case a != b:
			moved++
		}
	}
	if moved < 3600 || moved > 4400 {
		t.Errorf("%d units moved to the new variant, want about 4000 (20 %%)", moved)
	}
	// Changing the total reshuffles: documented, so check it stays true.
	changed := 0
	for i := range 1000 {
		u := "u" + strconv.Itoa(i)
		if Assign("s", u, []uint32{1, 1}) != Assign("s", u, []uint32{1, 1, 1}) {
			changed++
		}
	}
	if changed < 200 {
		t.Errorf("only %d/1000 units changed after the total changed; the doc says they reshuffle", changed)
	}
}

var sink int

func BenchmarkAssign(b *testing.B) {
	w := []uint32{3334, 3333, 3333}
	unit := "a3f1c2d4-5e6f-4a7b-8c9d-0e1f2a3b4c5d"
	b.ReportAllocs()
	for b.Loop() {
		sink += Assign("checkout-button-2026", unit, w)
	}
}

// BenchmarkAssignSHA256Baseline is the same bucketing with SHA-256 as the
// hash, the baseline Assign is measured against.
func BenchmarkAssignSHA256Baseline(b *testing.B) {
	unit := "a3f1c2d4-5e6f-4a7b-8c9d-0e1f2a3b4c5d"
	salt := "checkout-button-2026"
	buf := make([]byte, 0, 128)
	b.ReportAllocs()
	for b.Loop() {
		buf = append(append(append(buf[:0], salt...), 0), unit...)
		sum := sha256.Sum256(buf)
		h := binary.BigEndian.Uint64(sum[:8])
		sink += int(h % 10000 / 3334)
	}
}

// BenchmarkEngineAssign is Assign as decide calls it: through the engine,
// for a profile not yet exposed, in an experiment with 100k exposed units.
func BenchmarkEngineAssign(b *testing.B) {
	e := New(Options{})
	x := Experiment{ID: "hero", Variants: []Variant{{ID: "a", Weight: 1}, {ID: "b", Weight: 1}},
		Metrics: []Metric{{Kind: MetricConversion, Event: "Order Completed"}}}
	if _, err := e.Create(x); err != nil {
		b.Fatal(err)
	}
	if _, err := e.Start("hero"); err != nil {
		b.Fatal(err)
	}
	s := e.exps["hero"]
	for i := range 100_000 {
		p := "p" + strconv.Itoa(i)
		s.addUnit(p, p, int16(i%2), 0)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, ok := e.Assign("hero", "a3f1c2d4-5e6f-4a7b-8c9d-0e1f2a3b4c5d"); !ok {
			b.Fatal("not assigned")
		}
	}
}
