package profile

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/cockroachdb/pebble/v2"

	"tailor/internal/store"
)

// Merge records are keyed by the profile that survived the merge, so that
// the profile page reads a profile's merges with one short range read
// instead of scanning the whole audit trail (at a million customers, every
// merge ever made, once per page view):
//
//	mi/<into id>\x00<seq:8><from id>
//
// The from id makes the key unique when one event merges several profiles
// (the old m/<seq:8> key kept only the last of them).

// maxMergeTrail bounds what one Merges call returns: a profile built from
// this many merges is a bot or a shared identifier, and its trail is not
// read by a person in full.
const maxMergeTrail = 1000

// mergeKey is the key of m.
func mergeKey(m Merge) []byte {
	k := make([]byte, 0, len(store.PrefixMergeInto)+len(m.Into)+1+8+len(m.From))
	k = append(k, store.PrefixMergeInto...)
	k = append(k, m.Into...)
	k = append(k, 0)
	k = binary.BigEndian.AppendUint64(k, m.Seq)
	return append(k, m.From...)
}

// mergesIntoPrefix is the prefix of the keys of the merges into id.
func mergesIntoPrefix(id string) []byte {
	return append(append([]byte(store.PrefixMergeInto), id...), 0)
}

// MergeLog reads the merge records that checkpoints wrote (the audit trail
// of identity merges).
type MergeLog struct{ DB pebble.Reader }

// Merges returns the recorded merges that built profile id, oldest first:
// those into it and, since a merged-away profile's own history moved with
// it, the merges into the profiles merged into it, and so on (at most
// maxMergeTrail records). Each profile's merges are one range read.
func (m MergeLog) Merges(id string) ([]Merge, error) {
	var out []Merge
	seen := map[string]bool{id: true}
	for queue := []string{id}; len(queue) > 0 && len(out) < maxMergeTrail; queue = queue[1:] {
		into, err := m.into(queue[0], maxMergeTrail-len(out))
		if err != nil {
			return nil, err
		}
		for _, mg := range into {
			if !seen[mg.From] {
				seen[mg.From] = true
				queue = append(queue, mg.From)
			}
		}
		out = append(out, into...)
	}
	slices.SortFunc(out, func(a, b Merge) int {
		if a.Seq != b.Seq {
			return compareUint(a.Seq, b.Seq)
		}
		return strings.Compare(a.From, b.From)
	})
	return out, nil
}

func compareUint(a, b uint64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// into reads up to limit merges into id, in seq order.
func (m MergeLog) into(id string, limit int) ([]Merge, error) {
	lo := mergesIntoPrefix(id)
	it, err := m.DB.NewIter(&pebble.IterOptions{LowerBound: lo, UpperBound: store.UpperBound(string(lo))})
	if err != nil {
		return nil, fmt.Errorf("merges into %s: %w", id, err)
	}
	defer it.Close()
	var out []Merge
	for it.First(); it.Valid() && len(out) < limit; it.Next() {
		var mg Merge
		if err := json.Unmarshal(it.Value(), &mg); err != nil {
			return nil, fmt.Errorf("merge record %q: %w", it.Key(), err)
		}
		out = append(out, mg)
	}
	if err := it.Error(); err != nil {
		return nil, fmt.Errorf("merges into %s: %w", id, err)
	}
	return out, nil
}

// migrateBatch is how many old merge records one batch moves: each batch is
// atomic (a record is either still under m/ or already under mi/), so a
// crash in the middle leaves a store the next start finishes migrating.
const migrateBatch = 10_000

// MigrateMerges moves the merge records of the old format (m/<seq:8>,
// written by servers before mi/) to mi/, and returns how many it moved. It
// runs at start, before the processor writes; once done, its scan finds
// nothing. A record that does not decode is an error naming its key: it is
// left in place rather than dropped.
func MigrateMerges(db *pebble.DB) (int, error) {
	moved := 0
	for {
		n, err := migrateMergesBatch(db)
		moved += n
		if err != nil || n == 0 {
			return moved, err
		}
	}
}

func migrateMergesBatch(db *pebble.DB) (int, error) {
	it, err := db.NewIter(&pebble.IterOptions{LowerBound: []byte(store.PrefixMerge), UpperBound: store.UpperBound(store.PrefixMerge)})
	if err != nil {
		return 0, fmt.Errorf("migrate merges: %w", err)
	}
	b := db.NewBatch()
	defer b.Close()
	n := 0
	for it.First(); it.Valid() && n < migrateBatch; it.Next() {
		var mg Merge
		err := json.Unmarshal(it.Value(), &mg)
		if err == nil && (mg.Into == "" || mg.From == "") {
			err = errors.New("no into or from profile")
		}
		if err != nil {
			it.Close()
			return 0, fmt.Errorf("migrate merges: record %q is not a merge (%w): fix or delete it", it.Key(), err)
		}
		if err := b.Set(mergeKey(mg), it.Value(), nil); err != nil {
			it.Close()
			return 0, fmt.Errorf("migrate merges: %w", err)
		}
		if err := b.Delete(it.Key(), nil); err != nil {
			it.Close()
			return 0, fmt.Errorf("migrate merges: %w", err)
		}
		n++
	}
	if err := it.Close(); err != nil {
		return 0, fmt.Errorf("migrate merges: %w", err)
	}
	if n == 0 {
		return 0, nil
	}
	if err := b.Commit(pebble.Sync); err != nil {
		return 0, fmt.Errorf("migrate merges: %w", err)
	}
	return n, nil
}
