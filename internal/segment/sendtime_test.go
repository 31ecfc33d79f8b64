package segment

import (
	"fmt"
	"testing"
	"time"
)

func page(e *Engine, id string, at time.Time) {
	ev, res := track(id, "x", at, nil)
	ev.Type, ev.Event = "page", ""
	ev.MessageID = fmt.Sprint(id, "page", at.UnixNano())
	e.Apply(ev, res)
}

func setTimezone(e *Engine, id, tz string) {
	e.ix.mu.Lock()
	defer e.ix.mu.Unlock()
	o, _ := e.ix.lookup(id)
	e.ix.setTraits(o, func(yield func(string, string) bool) { yield("timezone", `"`+tz+`"`) })
}

// A profile's own engagement decides its hour, in its time zone; with too
// little, the population's hour at the last refresh stands in.
func TestBestSendHour(t *testing.T) {
	c := &clock{t: t0}
	e := NewEngine(Options{Now: c.now})
	e.Begin()
	day := t0.Truncate(24 * time.Hour).Add(-10 * oneDay)
	// tokyo views pages at 00:xx UTC: 09:xx in Tokyo; one stray view at 15:00.
	for i := range 6 {
		page(e, "tokyo", day.Add(time.Duration(i)*oneDay+time.Duration(i)*time.Minute))
	}
	page(e, "tokyo", day.Add(15*time.Hour))
	// few has two views at 20:xx UTC.
	for i := range 2 {
		page(e, "few", day.Add(time.Duration(i)*oneDay+20*time.Hour))
	}
	if v := fieldValue(t, e, "tokyo", FieldBestSendHour, t0); v != 0.0 {
		t.Errorf("best_send_hour without a timezone = %v, want 0 (UTC)", v)
	}
	setTimezone(e, "tokyo", "Asia/Tokyo")
	if v := fieldValue(t, e, "tokyo", FieldBestSendHour, t0); v != 9.0 {
		t.Errorf("best_send_hour in Tokyo = %v, want 9", v)
	}
	if v := fieldValue(t, e, "few", FieldBestSendHour, t0); v != nil {
		t.Errorf("best_send_hour of a profile with 2 views and no snapshot = %v, want absent", v)
	}
	e.RefreshModels(t0)
	// The population: 6 views at 09 (Tokyo's, in local time), 1 at 00 local
	// (tokyo's 15:00 UTC), 2 at 20 → 9 wins.
	if v := fieldValue(t, e, "few", FieldBestSendHour, t0); v != 9.0 {
		t.Errorf("best_send_hour from the population = %v, want 9", v)
	}
	// A segment of "best at 9" follows a time zone change at once.
	if _, err := e.Save(Definition{ID: "nine", Rule: &Rule{Computed: FieldBestSendHour, Op: Eq, Value: 9.0}}); err != nil {
		t.Fatal(err)
	}
	o, _ := e.ix.lookup("tokyo")
	if !e.segs["nine"].members.Contains(o) {
		t.Fatal("tokyo not in the best-at-9 segment")
	}
	setTimezone(e, "tokyo", "Europe/Paris")
	ev, res := track("tokyo", "x", t0, nil)
	ev.Type, ev.Event, ev.Traits = "identify", "", map[string]any{"timezone": "Europe/Paris"}
	e.Apply(ev, res)
	if e.segs["nine"].members.Contains(o) {
		t.Error("tokyo still in the best-at-9 segment after moving to Paris (01:00 or 02:00 there)")
	}
}

func TestSendHoursBestSmoothsAndBreaksTies(t *testing.T) {
	cases := []struct {
		name string
		set  map[int]uint32
		want int
	}{
		{"none", nil, -1},
		{"one hour", map[int]uint32{7: 3}, 7},
		{"a neighbour outweighs an equal lone peak", map[int]uint32{3: 3, 10: 3, 11: 2}, 10},
		{"wraps at midnight", map[int]uint32{23: 2, 0: 2, 1: 2}, 0},
		{"tie: the earliest", map[int]uint32{4: 2, 16: 2}, 4},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var h sendHours
			for k, v := range c.set {
				h[k] = v
			}
			if got := h.best(); got != c.want {
				t.Errorf("best = %d, want %d", got, c.want)
			}
		})
	}
}
