package segment

import (
	"encoding/json"
	"math"
)

// dict gives each distinct value of a column a dense id, from 1; 0 means
// absent. Rules are matched against the dictionary once per distinct value
// (see matchTable), so a scan compares small integers, and a comparison's
// semantics live in one place (comparison.match) for every evaluator.
type dict struct {
	ids  map[any]uint32
	vals []any     // id-1 → value: string, float64, bool, []any or map[string]any
	nums []float64 // id-1 → the value when it is a number, else NaN
}

// composite keys values that are not comparable (lists, objects) by their
// JSON text.
type composite string

func (d *dict) id(v any) uint32 {
	var key any
	switch x := v.(type) {
	case nil:
		return 0
	case string, float64, bool:
		key = x
	default:
		b, err := json.Marshal(x)
		if err != nil {
			return 0
		}
		key = composite(b)
	}
	if id, ok := d.ids[key]; ok {
		return id
	}
	if d.ids == nil {
		d.ids = make(map[any]uint32)
	}
	d.vals = append(d.vals, v)
	n := math.NaN()
	if f, ok := v.(float64); ok {
		n = f
	}
	d.nums = append(d.nums, n)
	id := uint32(len(d.vals))
	d.ids[key] = id
	return id
}

func (d *dict) value(id uint32) any {
	if id == 0 {
		return nil
	}
	return d.vals[id-1]
}

func (d *dict) len() int { return len(d.vals) }

// matchTable is a comparison applied to every value of a dictionary:
// table[id] says whether the value with that id matches, table[0] whether
// an absent value does.
func (d *dict) matchTable(c *comparison, now int64) []bool {
	t := make([]bool, d.len()+1)
	t[0] = c.match(nil, now)
	for i, v := range d.vals {
		t[i+1] = c.match(v, now)
	}
	return t
}

// bytes estimates the memory the dictionary holds.
func (d *dict) bytes() int {
	n := 0
	for _, v := range d.vals {
		n += 16 + 8 + 40 // the value, its number, its map entry
		if s, ok := v.(string); ok {
			n += 2 * len(s) // once in vals, once as the map key (shared, but counted)
		}
	}
	return n
}
