package segment

// mergedLists holds, for each surviving ordinal, the ordinals merged into
// it, with no pointer per list: the lists are spans of one array, and a
// map without pointers finds a survivor's span.
//
// Why: a map from ordinal to a slice was a slice and a pointer per
// profile that absorbed others (65,000 in the 1 M-customer store, a
// quarter of the objects its collections marked at rest).
//
// A merge writes the survivor's new list after the others and leaves its
// old one and the absorbed profile's as garbage in the array; when the
// garbage is over half of it, the next merge packs it into a new one. No
// list is written again once written, so a view from of stays as it was
// (stale after a merge, never overwritten), as a slice of the old map's
// did. Not safe for concurrent use.
type mergedLists struct {
	at   map[uint32]mspan
	ords []uint32
	live int // ordinals in lists, the rest of ords is garbage
}

type mspan struct{ off, n uint32 }

func newMergedLists() mergedLists { return mergedLists{at: make(map[uint32]mspan)} }

// of returns the ordinals merged into o, nil when none.
func (m *mergedLists) of(o uint32) []uint32 {
	s, ok := m.at[o]
	if !ok {
		return nil
	}
	return m.ords[s.off : s.off+s.n : s.off+s.n]
}

// merge makes into's list into's, from's and from itself, and from's none.
// It returns the ordinals that moved to into (from's and from), a view.
func (m *mergedLists) merge(into, from uint32) []uint32 {
	a, b := m.at[into], m.at[from]
	if 2*m.live < len(m.ords) && len(m.ords) > 1024 {
		m.pack()
		a, b = m.at[into], m.at[from]
	}
	off := len(m.ords)
	m.ords = append(m.ords, m.ords[a.off:a.off+a.n]...)
	m.ords = append(m.ords, m.ords[b.off:b.off+b.n]...)
	m.ords = append(m.ords, from)
	delete(m.at, from)
	m.at[into] = mspan{uint32(off), a.n + b.n + 1}
	m.live++ // into's and from's lists move, from joins
	return m.ords[off+int(a.n):]
}

// mergedListsOf packs lists (a load's, by survivor).
func mergedListsOf(lists map[uint32][]uint32) mergedLists {
	m := newMergedLists()
	for o, l := range lists {
		m.at[o] = mspan{uint32(len(m.ords)), uint32(len(l))}
		m.ords = append(m.ords, l...)
		m.live += len(l)
	}
	return m
}

// pack copies the live lists into a new array.
func (m *mergedLists) pack() {
	ords := make([]uint32, 0, m.live+m.live/4)
	for o, s := range m.at {
		m.at[o] = mspan{uint32(len(ords)), s.n}
		ords = append(ords, m.ords[s.off:s.off+s.n]...)
	}
	m.ords = ords
}
