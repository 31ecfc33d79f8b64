// Package storetest opens Pebble stores for unit tests.
package storetest

import (
	"fmt"
	"testing"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/vfs"
)

// MemDB opens an empty in-memory store that is closed when the test ends.
// Pebble's informational logging is dropped; a fatal error still panics.
func MemDB(tb testing.TB) *pebble.DB {
	tb.Helper()
	return open(tb, "", &pebble.Options{FS: vfs.NewMem(), Logger: Quiet{}})
}

// DiskDB opens an empty store on disk, in a directory of the test's own,
// for tests that need the real file system (flushes, sstables, sizes). It is
// closed when the test ends.
func DiskDB(tb testing.TB) *pebble.DB {
	tb.Helper()
	return open(tb, tb.TempDir(), &pebble.Options{Logger: Quiet{}})
}

func open(tb testing.TB, dir string, o *pebble.Options) *pebble.DB {
	tb.Helper()
	db, err := pebble.Open(dir, o)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { db.Close() })
	return db
}

// Quiet is a Pebble logger for tests: it drops informational lines, which
// would interleave with test and benchmark output, and panics on a fatal
// error as Pebble's default logger does.
type Quiet struct{}

// Infof drops the line.
func (Quiet) Infof(string, ...any) {}

// Errorf drops the line.
func (Quiet) Errorf(string, ...any) {}

// Fatalf panics with the message.
func (Quiet) Fatalf(f string, args ...any) { panic(fmt.Sprintf(f, args...)) }
