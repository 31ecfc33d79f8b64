package main

import (
	"bytes"
	"context"
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"

	"tailor/internal/demo"
	"tailor/internal/event"
	"tailor/internal/profile"
	"tailor/internal/segment"
)

// TestBenchSegmentCountsAgreeWithBaseline runs the command on a small demo
// store: it must succeed (the fast path and the baseline agree) and the
// rules must select someone, or agreeing would prove nothing.
func TestBenchSegmentCountsAgreeWithBaseline(t *testing.T) {
	var out, progress bytes.Buffer
	if err := benchSegmentTo(context.Background(), []string{"--customers", "2000"}, &out, &progress); err != nil {
		t.Fatalf("bench segment: %v\n%s", err, out.String())
	}
	rows := map[string][]string{}
	for line := range strings.Lines(out.String()) {
		f := strings.Fields(line)
		if len(f) == 8 && len(f[0]) == 2 && f[0][0] == 'R' {
			rows[f[0]] = f
		}
	}
	counts := map[string]int{}
	for _, name := range []string{"R1", "R2", "R3", "R4"} {
		f, ok := rows[name]
		if !ok {
			t.Fatalf("no result line for %s in\n%s", name, out.String())
		}
		fast, err1 := strconv.Atoi(f[3])
		base, err2 := strconv.Atoi(f[6])
		if err1 != nil || err2 != nil || fast != base {
			t.Errorf("%s: fast count %q, baseline count %q: want equal numbers", name, f[3], f[6])
		}
		counts[name] = fast
	}
	for _, name := range []string{"R1", "R2", "R3"} {
		if counts[name] == 0 {
			t.Errorf("%s selects nobody in 2000 demo customers; the rule no longer fits the demo's data", name)
		}
	}
	if counts["R4"] > counts["R2"] {
		t.Errorf("R4 (which includes R2) counts %d, more than R2's %d", counts["R4"], counts["R2"])
	}
	for _, want := range []string{"build: ", "segment engine Apply: ", "index Stats: ", "heap in use ", "baseline (per-profile"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("report lacks %q:\n%s", want, out.String())
		}
	}
}

func TestBenchSegmentRejectsBadFlags(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"no customers", []string{"--customers", "0"}, "--customers must be between 1 and"},
		{"too many customers", []string{"--customers", "50000001"}, "--customers must be between 1 and"},
		{"end not a date", []string{"--end", "yesterday"}, `--end: "yesterday" is not a date`},
		{"end out of range", []string{"--end", "1900-01-01"}, "the year must be between"},
		{"positional argument", []string{"100"}, `unexpected argument "100"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out, progress bytes.Buffer
			err := benchSegmentTo(context.Background(), tt.args, &out, &progress)
			if !errors.Is(err, errUsage) || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %v, want a usage error containing %q", err, tt.want)
			}
		})
	}
}

// TestBenchSegmentFailsWhenCountsDisagree gives measureRules a baseline
// that lost every profile: the run must fail and name the rules.
func TestBenchSegmentFailsWhenCountsDisagree(t *testing.T) {
	rules, err := parseSegBenchRules()
	if err != nil {
		t.Fatal(err)
	}
	end := demo.DefaultEnd
	st := profile.NewStore()
	eng := segment.NewEngine(segment.Options{Profiles: st, Now: func() time.Time { return end }})
	var seq uint64
	_, err = playDemo(context.Background(), demo.Config{Customers: 300, End: end}, newSegBenchProgress(&bytes.Buffer{}, "test", 300), func(e *event.Event) {
		seq++
		e.Seq = seq
		eng.Apply(e, st.Apply(e))
	})
	if err != nil {
		t.Fatal(err)
	}
	_, err = measureRules(context.Background(), eng, []*baselineProfile{}, true, rules[:1], end)
	if err == nil || !strings.Contains(err.Error(), "R1: fast path") || !strings.Contains(err.Error(), "baseline 0") {
		t.Errorf("error %v, want one naming R1's disagreement with a baseline of 0", err)
	}
}

// TestBenchSegmentBaselineSemantics checks the baseline's answers for the
// benchmark's rules on profiles built by hand, at the edges of each rule.
func TestBenchSegmentBaselineSemantics(t *testing.T) {
	rules, err := parseSegBenchRules()
	if err != nil {
		t.Fatal(err)
	}
	byName := map[string]*segment.Rule{}
	for _, r := range rules {
		byName[r.Name] = r.Rule
	}
	now := demo.DefaultEnd.Unix()
	const day = 86400
	add := func(at int64, category any) baselineEvent {
		props := map[string]any{"product_id": "sku-1"}
		if category != nil {
			props["category"] = category
		}
		return baselineEvent{Key: event.ProductAdded, Time: at, Properties: props}
	}
	order := func(at int64, props map[string]any) baselineEvent {
		return baselineEvent{Key: event.OrderCompleted, Time: at, Properties: props}
	}
	rev := func(v any) map[string]any { return map[string]any{"revenue": v} }
	accessories := "Apparel > Accessories > Hats"
	us := map[string]any{"country": "US"}
	tests := []struct {
		name   string
		rule   string
		traits map[string]any
		events []baselineEvent
		want   bool
	}{
		{"R1 country in the list, any case", "R1", map[string]any{"country": "gb"}, nil, true},
		{"R1 country not in the list", "R1", us, nil, false},
		{"R1 no country", "R1", nil, nil, false},
		{"R1 a number is not a country code", "R1", map[string]any{"country": 44.0}, nil, false},

		{"R2 two adds in the window", "R2", nil, []baselineEvent{add(now-day, accessories), add(now-89*day, accessories)}, true},
		{"R2 first second of the 90-day window counts", "R2", nil, []baselineEvent{add(now, accessories), add(now-90*day+1, accessories)}, true},
		{"R2 exactly 90 days ago is outside", "R2", nil, []baselineEvent{add(now-day, accessories), add(now-90*day, accessories)}, false},
		{"R2 an add after now does not count", "R2", nil, []baselineEvent{add(now-day, accessories), add(now+1, accessories)}, false},
		{"R2 contains ignores case and matches any path", "R2", nil, []baselineEvent{add(now-day, "ACCESSORIES"), add(now-day, "Electronics > Camera Accessories > Chargers")}, true},
		{"R2 other categories and no category do not count", "R2", nil, []baselineEvent{add(now-day, accessories), add(now-day, "Home > Kitchen"), add(now-day, nil)}, false},
		{"R2 another event does not count", "R2", nil, []baselineEvent{add(now-day, accessories), {Key: event.ProductViewed, Time: now - day, Properties: map[string]any{"category": accessories}}}, false},

		{"R3 sum above 200", "R3", nil, []baselineEvent{order(now-day, rev(150.0)), order(now-300*day, rev(50.01))}, true},
		{"R3 exactly 200 is not above", "R3", nil, []baselineEvent{order(now-day, rev(150.0)), order(now-300*day, rev(50.0))}, false},
		{"R3 an order 365 days ago is outside", "R3", nil, []baselineEvent{order(now-day, rev(150.0)), order(now-365*day, rev(100.0))}, false},
		{"R3 a revenue that is not a number adds nothing", "R3", nil, []baselineEvent{order(now-day, rev("250"))}, false},

		{"R4 every condition holds", "R4", us, []baselineEvent{add(now-day, accessories), add(now-2*day, accessories), order(now-8*day, rev(120.0))}, true},
		{"R4 an order in the last 7 days excludes", "R4", us, []baselineEvent{add(now-day, accessories), add(now-2*day, accessories), order(now-3*day, rev(120.0))}, false},
		{"R4 total_spend reads total without revenue", "R4", us, []baselineEvent{add(now-day, accessories), add(now-2*day, accessories), order(now-400*day, map[string]any{"total": 101.0})}, true},
		{"R4 total_spend of 100 is not above 100", "R4", us, []baselineEvent{add(now-day, accessories), add(now-2*day, accessories), order(now-400*day, rev(100.0))}, false},
		{"R4 country outside US, CA", "R4", map[string]any{"country": "FR"}, []baselineEvent{add(now-day, accessories), add(now-2*day, accessories), order(now-8*day, rev(120.0))}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, err := compileBaseline(byName[tt.rule], now)
			if err != nil {
				t.Fatal(err)
			}
			p := &baselineProfile{ID: "p", Traits: tt.traits, Events: tt.events}
			if got := m(p); got != tt.want {
				t.Errorf("%s = %v, want %v", tt.rule, got, tt.want)
			}
		})
	}
}

// TestBenchSegmentBaselineRefusesWhatItCannotEvaluate: a rule beyond the
// baseline's reach is an error, never a silently wrong count.
func TestBenchSegmentBaselineRefusesWhatItCannotEvaluate(t *testing.T) {
	tests := []struct{ name, rule, want string }{
		{"a measure it does not compute", `{"event":"Order Completed","measure":"avg","of":"revenue","op":"gt","value":1}`, "count and sum"},
		{"a window other than last", `{"event":"Order Completed","within":{"since":"2026-01-01"}}`, "only last windows"},
		{"an array path", `{"event":"Order Completed","where":[{"property":"products[].category","op":"eq","value":"x"}]}`, "array paths"},
		{"a computed field it does not compute", `{"computed":"last_seen","op":"exists"}`, `does not compute "last_seen"`},
		{"an operator it does not evaluate", `{"trait":"country","op":"starts_with","value":"G"}`, `does not evaluate op "starts_with"`},
		{"a segment condition", `{"segment":"vip"}`, "evaluates and, or, not"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := segment.ParseJSON([]byte(tt.rule))
			if err != nil {
				t.Fatal(err)
			}
			if _, err := compileBaseline(r, demo.DefaultEnd.Unix()); err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %v, want one containing %q", err, tt.want)
			}
		})
	}
}
