package segment

import (
	"fmt"
	"math/rand/v2"
	"testing"
	"time"
)

// Prediction answers what a rule sees, for every numeric prediction field.
func TestPredictionEqualsTheComputedField(t *testing.T) {
	c := &clock{t: t0}
	e := NewEngine(Options{Now: c.now})
	e.Begin()
	shop(e, rand.New(rand.NewPCG(3, 4)), 200)
	ev, res := track("visitor", "Signed Up", t0.Add(-oneDay), nil)
	e.Apply(ev, res)
	if _, ok := e.Prediction(FieldChurnRisk, "c000"); ok {
		t.Fatal("a prediction before any fit")
	}
	e.RefreshModels(t0)
	if e.Predictions() == nil {
		t.Fatal("no fit")
	}
	fields := 0
	for f := range predictionFields {
		if !IsPredictionField(f) {
			continue
		}
		fields++
		for i := range 200 {
			id := fmt.Sprintf("c%03d", i)
			want, _ := fieldValue(t, e, id, f, t0).(float64)
			got, ok := e.Prediction(f, id)
			if !ok || got != want {
				t.Fatalf("Prediction(%s, %s) = %v %v, want %v", f, id, got, ok, want)
			}
		}
		if v, ok := e.Prediction(f, "visitor"); ok {
			t.Errorf("%s of a profile without orders = %v", f, v)
		}
		if v, ok := e.Prediction(f, "nobody"); ok {
			t.Errorf("%s of an unknown profile = %v", f, v)
		}
	}
	if fields != len(predictionFields)-1 {
		t.Errorf("%d numeric prediction fields, want all but next_order_date", fields)
	}
	for _, f := range []string{FieldNextOrderDate, "orders", FieldBestSendHour, "nope"} {
		if _, ok := e.Prediction(f, "c000"); ok || IsPredictionField(f) {
			t.Errorf("%s answered as a numeric prediction", f)
		}
	}
	// The profile's own order moves its cached value at once.
	before, _ := e.Prediction(FieldPredictedCLV, "c001")
	order(e, "c001", t0, 500)
	if after, _ := e.Prediction(FieldPredictedCLV, "c001"); after <= before {
		t.Errorf("predicted_clv after an order of 500 = %v, want above %v", after, before)
	}
}

// BestSendHour is best_send_hour at the instant asked.
func TestBestSendHourAtAnInstant(t *testing.T) {
	c := &clock{t: t0}
	e := NewEngine(Options{Now: c.now})
	e.Begin()
	day := t0.Truncate(24 * time.Hour).Add(-10 * oneDay)
	for i := range 6 {
		page(e, "tokyo", day.Add(time.Duration(i)*oneDay))
	}
	setTimezone(e, "tokyo", "Asia/Tokyo")
	if h, ok := e.BestSendHour("tokyo", t0); !ok || h != 9 {
		t.Errorf("BestSendHour = %d %v, want 9 (00:00 UTC in Tokyo)", h, ok)
	}
	// Before the fifth view there is too little, and no population yet.
	if h, ok := e.BestSendHour("tokyo", day.Add(3*oneDay+time.Hour)); ok {
		t.Errorf("BestSendHour with 4 views = %d, want none", h)
	}
	if _, ok := e.BestSendHour("nobody", t0); ok {
		t.Error("an unknown profile has a best hour")
	}
}

func BenchmarkPrediction(b *testing.B) {
	c := &clock{t: t0}
	e := NewEngine(Options{Now: c.now})
	e.Begin()
	shop(e, rand.New(rand.NewPCG(3, 4)), 500)
	e.RefreshModels(t0)
	for _, f := range []string{FieldPredictedCLV, FieldCLVPercentile, FieldChurnRisk} {
		b.Run(f, func(b *testing.B) {
			for i := 0; b.Loop(); i++ {
				if _, ok := e.Prediction(f, fmt.Sprintf("c%03d", i%500)); !ok {
					b.Fatal("no value")
				}
			}
		})
	}
}
