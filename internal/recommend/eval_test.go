package recommend

import (
	"context"
	"fmt"
	"math"
	"testing"
	"time"
)

func TestMetrics(t *testing.T) {
	tests := []struct {
		name               string
		list, target       []string
		nbr                bool
		recall, ndcg, map3 float64
	}{
		{"first of two found", []string{"a", "x", "y"}, []string{"a", "b"}, false, 0.5, 1 / (1 + 1/math.Log2(3)), 0.5},
		{"second place", []string{"x", "a", "y"}, []string{"a"}, false, 1, 1 / math.Log2(3), 0.5},
		{"nothing", []string{"x", "y", "z"}, []string{"a"}, false, 0, 0, 0},
		{"next-basket: ideal over all targets, hit rate", []string{"a", "x", "y"}, []string{"a", "b", "c", "d"}, true, 0.25, 1 / (1 + 1/math.Log2(3) + 0.5 + 1/math.Log2(5)), 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := newMetrics("x", []int{3})
			m.add(tt.list, tt.target, []int{3}, tt.nbr)
			m.finish(1)
			for _, c := range []struct {
				what      string
				got, want float64
			}{{"recall", m.Recall[0], tt.recall}, {"ndcg", m.NDCG[0], tt.ndcg}, {"map/phr", m.MAP[0], tt.map3}} {
				if math.Abs(c.got-c.want) > 1e-9 {
					t.Errorf("%s = %v, want %v", c.what, c.got, c.want)
				}
			}
		})
	}
}

// TestEvaluateRewardsPersonalSignal builds a shop where every user re-buys
// their own staple while others buy a hit: for_you must find the staple
// (unless bought in the day before the split, which it never offers), most
// popular never.
func TestEvaluateRewardsPersonalSignal(t *testing.T) {
	var data []Interaction
	for u := range 60 {
		user := fmt.Sprintf("u%d", u)
		staple := fmt.Sprintf("staple-%d", u%20)
		for w := range 10 {
			at := t0.Add(time.Duration(w*7*24+u) * time.Hour)
			data = append(data, Interaction{User: user, Item: staple, Time: at})
			if w < 3 {
				// Popular with other shoppers, and only early on.
				data = append(data, Interaction{User: "other-" + user, Item: "hit", Time: at.Add(time.Minute)})
				data = append(data, Interaction{User: "more-" + user, Item: "hit", Time: at.Add(time.Minute)})
			}
		}
	}
	rows, err := Evaluate(context.Background(), data, EvalOptions{K: []int{1}, Horizon: 60 * 24 * time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]Metrics{}
	for _, r := range rows {
		got[r.Name] = r
	}
	if fy, mp := got[ForYou].Recall[0], got["baseline: most popular"].Recall[0]; fy < 0.5 || mp > 0 {
		t.Errorf("for_you recall@1 %v, most popular %v: the staple should win", fy, mp)
	}
	if _, err := Evaluate(context.Background(), nil, EvalOptions{}); err == nil {
		t.Error("no data: want an error")
	}
}
