package server

import (
	"testing"

	"github.com/cockroachdb/pebble/v2"

	"tailor/internal/eventlog"
)

func mustLog(t *testing.T, db *pebble.DB) *eventlog.Log {
	t.Helper()
	l, err := eventlog.Open(db, eventlog.Options{Partitions: Defaults().Partitions})
	if err != nil {
		t.Fatal(err)
	}
	return l
}
