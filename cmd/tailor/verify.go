package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"strconv"
	"time"

	"github.com/cockroachdb/pebble/v2"

	"tailor/internal/eventlog"
	"tailor/internal/identity"
	"tailor/internal/processor"
	"tailor/internal/profile"
	"tailor/internal/store"
)

// runVerify checks the log is the source of truth: the profiles stored by the
// last checkpoint, brought up to date with the log tail (what a restart
// does), must equal a replay of the whole log into an empty store.
func runVerify(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("verify", flag.ContinueOnError)
	dataDir := fs.String("data-dir", envOr("TAILOR_DATA_DIR", "./tailor-data"), "data directory of a stopped server")
	rules := identity.Defaults()
	applyIdentity := identityFlags(fs, &rules)
	if err := fs.Parse(args); err != nil {
		return fmt.Errorf("%w: %v", errUsage, err)
	}
	if err := applyIdentity(); err != nil {
		return err
	}
	if err := checkDataDir(*dataDir); err != nil {
		return err
	}
	stores, err := store.OpenStores(*dataDir, 64<<20)
	if err != nil {
		return stopFirst(err)
	}
	defer stores.Close()
	db := stores.State
	parts := 8
	if v, closer, err := db.Get([]byte(store.PrefixConfig + "partitions")); err == nil {
		parts, _ = strconv.Atoi(string(v))
		closer.Close()
	} else if !errors.Is(err, pebble.ErrNotFound) {
		return err
	}
	log, err := eventlog.Open(stores.Log, eventlog.Options{Partitions: parts, ReadOnly: true})
	if err != nil {
		return err
	}

	stored := profile.NewStore()
	stored.SetIdentityRules(rules)
	if err := stored.Load(db); err != nil {
		return fmt.Errorf("load stored profiles: %w", err)
	}
	sp := processor.New(stored, 1)
	if err := sp.Load(db); err != nil {
		return err
	}
	from := sp.Applied()
	total := log.LastSeq()
	start := time.Now()
	progress := func(what string) func(uint64) {
		return func(n uint64) {
			fmt.Fprintf(os.Stderr, "\rverify: %s: %d events (%.0f%%, %s)   ", what, n,
				100*float64(n)/float64(max(total, 1)), time.Since(start).Round(time.Second))
		}
	}
	fmt.Fprintf(os.Stderr, "verify: %d stored profiles reflect the log up to seq %d of %d\n", stored.Len(), from, total)
	tail, err := sp.Replay(ctx, log, progress("replaying the tail"))
	if err != nil {
		return err
	}
	fresh := profile.NewStore()
	fresh.SetIdentityRules(rules)
	fp := processor.New(fresh, 1)
	all, err := fp.Replay(ctx, log, progress("clean replay"))
	fmt.Fprintln(os.Stderr)
	if err != nil {
		return err
	}
	if fp.Corrupt() > 0 {
		return fmt.Errorf("verify: %d log entries could not be decoded", fp.Corrupt())
	}
	fmt.Printf("verify: stored profiles at seq %d + %d replayed; clean replay of %d events\n", from, tail, all)
	if diffs := profile.Diff(stored, fresh, 20); len(diffs) > 0 {
		for _, d := range diffs {
			fmt.Println("  " + d)
		}
		return fmt.Errorf("verify: stored profiles differ from a clean replay of the log (%d+ differences)", len(diffs))
	}
	fmt.Printf("verify: %d profiles, %d events: identical\n", fresh.Len(), all)
	return nil
}
