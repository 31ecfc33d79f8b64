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
	// One map per type: hashing a string key directly costs a third of
	// hashing it inside an interface, and ids are looked up for every
	// property of every event.
	strs  map[string]uint32
	nums  map[float64]uint32
	bools [2]uint32         // false, true
	json  map[string]uint32 // lists and objects, by their JSON text
	vals  []any             // id-1 → value: string, float64, bool, []any or map[string]any
	numsV []float64         // id-1 → the value when it is a number, else NaN
}

func (d *dict) id(v any) uint32 {
	switch x := v.(type) {
	case nil:
		return 0
	case string:
		if id, ok := d.strs[x]; ok {
			return id
		}
		if d.strs == nil {
			d.strs = make(map[string]uint32)
		}
		id := d.add(x, math.NaN())
		d.strs[x] = id
		return id
	case float64:
		if id, ok := d.nums[x]; ok {
			return id
		}
		if d.nums == nil {
			d.nums = make(map[float64]uint32)
		}
		id := d.add(x, x)
		d.nums[x] = id
		return id
	case bool:
		i := 0
		if x {
			i = 1
		}
		if d.bools[i] == 0 {
			d.bools[i] = d.add(x, math.NaN())
		}
		return d.bools[i]
	}
	b, err := json.Marshal(v)
	if err != nil {
		return 0
	}
	if id, ok := d.json[string(b)]; ok {
		return id
	}
	if d.json == nil {
		d.json = make(map[string]uint32)
	}
	id := d.add(v, math.NaN())
	d.json[string(b)] = id
	return id
}

func (d *dict) add(v any, n float64) uint32 {
	d.vals = append(d.vals, v)
	d.numsV = append(d.numsV, n)
	return uint32(len(d.vals))
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
