package segment

import (
	"cmp"
	"slices"
)

// Vocabulary is what a rule can name, as the index has seen it: the
// dashboard's rule builder offers these names instead of free text.
type Vocabulary struct {
	// Events are the indexed event keys ("Order Completed", "$page"), by
	// name, each with its indexed property paths.
	Events []EventWords `json:"events"`
	// Traits are the indexed trait keys, sorted.
	Traits []string `json:"traits"`
	// Computed are the computed fields and their types.
	Computed []FieldWord `json:"computed"`
	// Channels are what a reachability condition may name.
	Channels []string `json:"channels"`
}

// EventWords is one event key of a Vocabulary.
type EventWords struct {
	Name string `json:"name"`
	// Count is how many events of this key the index holds.
	Count int `json:"count"`
	// Properties are the indexed property paths, sorted: "category",
	// "page.path", "products[].category".
	Properties []string `json:"properties"`
}

// FieldWord is a computed field and its type: number, string or time.
type FieldWord struct {
	Name string `json:"name"`
	Type string `json:"type"`
}

// Vocabulary lists the event names with their property paths, the trait
// keys and the computed fields the index knows.
func (e *Engine) Vocabulary() Vocabulary {
	ix := e.ix
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	v := Vocabulary{Events: make([]EventWords, 0, len(ix.streams)), Traits: make([]string, 0, len(ix.traits)), Channels: Channels}
	for _, s := range ix.streamOrd {
		ew := EventWords{Name: s.key, Count: s.n, Properties: make([]string, 0, len(s.colOrder))}
		for _, c := range s.colOrder {
			ew.Properties = append(ew.Properties, c.path)
		}
		slices.Sort(ew.Properties)
		v.Events = append(v.Events, ew)
	}
	slices.SortFunc(v.Events, func(a, b EventWords) int { return cmp.Compare(a.Name, b.Name) })
	for k := range ix.traits {
		v.Traits = append(v.Traits, k)
	}
	slices.Sort(v.Traits)
	for _, name := range ComputedFields() {
		v.Computed = append(v.Computed, FieldWord{Name: name, Type: computedFields[name].String()})
	}
	return v
}

// String names the type as the vocabulary answers it.
func (t fieldType) String() string {
	switch t {
	case typeNumber:
		return "number"
	case typeString:
		return "string"
	case typeTime:
		return "time"
	}
	return "unknown"
}
