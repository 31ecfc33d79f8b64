package server

import (
	"testing"

	"github.com/cockroachdb/pebble/v2"

	"tailor/internal/eventlog"
)

// mustLog opens db's log for replay.
func mustLog(t *testing.T, db *pebble.DB) *eventlog.Log {
	t.Helper()
	l, err := eventlog.Open(db, eventlog.Options{Partitions: Defaults().Partitions, ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	return l
}
