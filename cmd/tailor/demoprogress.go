package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"
)

// demoProgressFile, in the data directory, records how far a demo load has
// got: a 5 M-customer demo store takes hours to load, and a load that is
// stopped (Ctrl-C, a crash, a reboot) resumes from it instead of starting
// over on a directory that already holds events.
const demoProgressFile = "demo-progress.json"

// demoChunk is how many customers a producer appends between two progress
// records (about 27,000 events).
const demoChunk = 1000

// demoLoadState is the content of demoProgressFile.
type demoLoadState struct {
	Customers int `json:"customers"`
	// End is the demo's last day. A resumed load must generate the same
	// messages, whatever day it resumes on.
	End time.Time `json:"end"`
	// Next is, per producer, the first customer whose messages are not all
	// acknowledged. A resumed load sends the rest of that customer's chunk
	// again; the log drops what it already holds by messageId.
	Next []int `json:"next"`
	// Done is set once the load and the demo segments, templates,
	// journeys and placements are saved.
	Done bool `json:"done"`
}

// readDemoLoadState returns the data directory's demo progress, or nil when
// it has none.
func readDemoLoadState(dataDir string) (*demoLoadState, error) {
	b, err := os.ReadFile(filepath.Join(dataDir, demoProgressFile))
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var p demoLoadState
	if err := json.Unmarshal(b, &p); err != nil {
		return nil, fmt.Errorf("%s: %w", demoProgressFile, err)
	}
	if p.Customers < 1 || len(p.Next) == 0 || p.End.IsZero() {
		return nil, fmt.Errorf("%s: incomplete record %s", demoProgressFile, b)
	}
	return &p, nil
}

// save replaces the progress file atomically (see writeDemoFile) and syncs
// the directory, so a crash leaves the old record or the new one.
func (p *demoLoadState) save(dataDir string) error {
	b, err := json.Marshal(p)
	if err != nil {
		return err
	}
	err = writeDemoFile(filepath.Join(dataDir, demoProgressFile), func(w io.Writer) error {
		_, err := w.Write(b)
		return err
	})
	if err != nil {
		return err
	}
	d, err := os.Open(dataDir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// remaining is how many customers are still to be loaded, given the
// producers' ranges.
func (p *demoLoadState) remaining() int {
	n := 0
	for i, next := range p.Next {
		_, to := demoRange(p.Customers, len(p.Next), i)
		n += max(to-next, 0)
	}
	return n
}

// demoRange is producer i's customers, [from, to), out of n producers.
func demoRange(customers, producers, i int) (from, to int) {
	per := (customers + producers - 1) / producers
	return min(i*per, customers), min((i+1)*per, customers)
}
