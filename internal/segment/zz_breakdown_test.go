package segment

import (
	"fmt"
	"sort"
	"testing"

	"tailor/internal/demo"
	"tailor/internal/event"
	"tailor/internal/profile"
)

func TestZZBreakdown(t *testing.T) {
	g := demo.New(demo.Config{Customers: 200000})
	st := profile.NewStore()
	e := NewEngine(Options{Profiles: st})
	meta := event.Meta{ReceivedAt: g.Config().End}
	g.Messages(func(msg []byte) error {
		ev, err := event.Decode(msg, meta)
		if err != nil {
			return err
		}
		e.Apply(&ev, st.Apply(&ev))
		return nil
	})
	type row struct {
		name string
		b    int
	}
	var rows []row
	agg := map[string]int{}
	for _, s := range e.ix.streams {
		if s.tup != nil {
			t.Logf("TUP %s rows=%d tuples=%d bytes=%d rowsbytes=%d cols=%d", s.key, s.n, s.tup.n, s.tup.bytes(), s.tup.rows.bytes(), len(s.tup.cols))
		} else {
			t.Logf("TUP %s untupled", s.key)
		}
		agg["ord"] += s.ord.bytes()
		agg["ts"] += s.ts.bytes()
		agg["prev"] += s.prev.bytes()
		agg["heads"] += s.heads.bytes()
		agg["rev"] += s.rev.bytes()
		for _, b := range s.byTime {
			agg["byTime"] += 2 * len(b)
		}
		for _, a := range s.arrays {
			agg["ends"] += a.ends.bytes()
		}
		for _, c := range s.colOrder {
			agg["vals"] += c.vals.bytes()
			agg["mvals"] += c.mvals.bytes()
			agg["dict"] += c.dict.bytes()
			rows = append(rows, row{fmt.Sprintf("%s.%s vals+ends+mvals (%d distinct) n=%d", s.key, c.path, c.dict.len(), s.n), c.vals.bytes() + c.mvals.bytes()})
			rows = append(rows, row{fmt.Sprintf("%s.%s dict", s.key, c.path), c.dict.bytes()})
		}
	}
	for k, c := range e.ix.traits {
		agg["traitvals"] += c.vals.bytes()
		agg["traitdict"] += c.dict.bytes()
		rows = append(rows, row{fmt.Sprintf("trait %s (%d distinct)", k, c.dict.len()), c.vals.bytes() + c.dict.bytes()})
	}
	sort.Slice(rows, func(i, j int) bool { return rows[i].b > rows[j].b })
	for _, r := range rows[:40] {
		t.Logf("%8.2f MB %s", float64(r.b)/1e6, r.name)
	}
	for k, v := range agg {
		t.Logf("AGG %-10s %8.2f MB", k, float64(v)/1e6)
	}
	t.Logf("%+v", e.ix.Stats())
}
