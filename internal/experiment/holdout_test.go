package experiment

import (
	"errors"
	"fmt"
	"hash/fnv"
	"testing"
)

// legacyHeldOut is how the delivery policy and the journeys have decided
// the global holdout: FNV-1a of the profile id, modulo 10000, below the
// percentage in basis points.
func legacyHeldOut(prof string, percent float64) bool {
	h := fnv.New64a()
	h.Write([]byte(prof))
	return float64(h.Sum64()%10000) < percent*100
}

func TestProfileBucketingHoldsOutWhatTheGlobalHoldoutDoes(t *testing.T) {
	for _, pct := range []float64{1, 5, 12.5, 50} {
		t.Run(fmt.Sprint(pct, "%"), func(t *testing.T) {
			bp := uint32(pct * 100)
			e := New(Options{})
			x := Experiment{ID: "global-holdout", Kind: KindHoldout, Bucketing: BucketProfile,
				Variants: []Variant{{ID: "held_out", Weight: bp}, {ID: "messaged", Weight: ProfileBuckets - bp}},
				Metrics:  []Metric{{Kind: MetricConversion, Event: "Order Completed"}}}
			running(t, e, x)
			held := 0
			for i := range 20000 {
				p := fmt.Sprintf("p_%08x", i*7919)
				v, ok := e.Assign("global-holdout", p)
				if !ok {
					t.Fatal("not running")
				}
				if (v == "held_out") != legacyHeldOut(p, pct) {
					t.Fatalf("%s: variant %s, the global holdout says held out %v", p, v, legacyHeldOut(p, pct))
				}
				if v == "held_out" {
					held++
				}
			}
			if got := float64(held) / 200; got < pct*0.8 || got > pct*1.2 {
				t.Errorf("%.2f %% held out, want about %v %%", got, pct)
			}
		})
	}
}

func TestHoldoutDefinitionRules(t *testing.T) {
	base := func() Experiment {
		return Experiment{ID: "h", Kind: KindHoldout, Bucketing: BucketProfile,
			Variants: []Variant{{ID: "held_out", Weight: 500}, {ID: "messaged", Weight: 9500}},
			Metrics:  []Metric{{Kind: MetricConversion, Event: "Order Completed"}}}
	}
	cases := []struct {
		name  string
		edit  func(*Experiment)
		field string
	}{
		{"profile bucketing outside holdouts", func(x *Experiment) { x.Kind = KindMessage }, "bucketing"},
		{"weights not in basis points", func(x *Experiment) { x.Variants[1].Weight = 95 }, "bucketing"},
		{"unknown bucketing", func(x *Experiment) { x.Bucketing = "cookie" }, "bucketing"},
		{"a bandit holdout", func(x *Experiment) { x.Bucketing = ""; x.Bandit = true }, "bandit"},
	}
	for _, tc := range cases {
		x := base()
		tc.edit(&x)
		var ve *ValidationError
		if err := x.Normalize(); !errors.As(err, &ve) || ve.Field != tc.field {
			t.Errorf("%s: %v, want an error naming %s", tc.name, err, tc.field)
		}
	}
	x := base()
	if err := x.Normalize(); err != nil {
		t.Errorf("a valid holdout refused: %v", err)
	}
}
