package recommend

import "slices"

// coList is an item's co-occurrence counts of one kind: entries sorted by
// the other item's index, at most 2×Options.Neighbours of them.
//
// Why not a map: a Go map of a hundred entries is four or five objects
// (header, directory, table, groups), and 20,000 items have three each;
// at 1 M customers they were a fifth of the objects every collection
// marked while ingest waited. A sorted slice is one object, 8 bytes an
// entry, and a look-up is a binary search over at most a hundred.
type coList []coEntry

type coEntry struct {
	o int32   // the other item
	c float32 // co-occurrences, weighted
}

// search is the position of o in l, and whether it is there.
func (l coList) search(o int32) (int, bool) {
	return slices.BinarySearchFunc(l, o, func(e coEntry, o int32) int {
		switch {
		case e.o < o:
			return -1
		case e.o > o:
			return 1
		}
		return 0
	})
}

// get is the count with o, 0 when none.
func (l coList) get(o int32) float32 {
	if i, ok := l.search(o); ok {
		return l[i].c
	}
	return 0
}

// add adds w to the count with o.
func (l coList) add(o int32, w float32) coList {
	i, ok := l.search(o)
	if ok {
		l[i].c += w
		return l
	}
	return slices.Insert(l, i, coEntry{o, w})
}

// sortCo sorts entries appended in any order (a load).
func sortCo(l coList) {
	slices.SortFunc(l, func(a, b coEntry) int { return int(a.o) - int(b.o) })
}

// prune keeps the best keep entries by score, ties broken by name, as
// pruneCo does for a map.
func (l coList) prune(keep int, score func(o int32, c float32) float64, name func(o int32) string) coList {
	if len(l) <= keep {
		return l
	}
	all := make([]scored[int], len(l))
	for i, e := range l {
		all[i] = scored[int]{i, score(e.o, e.c)}
	}
	sortScored(all, func(i int) string { return name(l[i].o) })
	drop := make([]bool, len(l))
	for _, x := range all[keep:] {
		drop[x.k] = true
	}
	n := 0
	for i, e := range l {
		if !drop[i] {
			l[n] = e
			n++
		}
	}
	clear(l[n:])
	return l[:n]
}
