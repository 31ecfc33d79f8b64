package main

import (
	"context"
	"flag"
	"fmt"
	"os"

	"tailor/internal/store"
)

// runMigrate brings a stopped server's data directory to the current
// layout: today, the log moves out of the state's store into one of its
// own (store.Stores says why). It is safe to run again, and to interrupt.
func runMigrate(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("migrate", flag.ContinueOnError)
	dataDir := fs.String("data-dir", envOr("TAILOR_DATA_DIR", "./tailor-data"), "data directory of a stopped server")
	if err := fs.Parse(args); err != nil {
		return fmt.Errorf("%w: %v", errUsage, err)
	}
	if err := checkDataDir(*dataDir); err != nil {
		return err
	}
	n, err := store.MoveLog(ctx, *dataDir, 256<<20, os.Stderr)
	if err != nil {
		return stopFirst(err)
	}
	if n == 0 {
		fmt.Println("migrate: the data directory already has the current layout")
		return nil
	}
	fmt.Printf("migrate: moved %d keys of the log into a store of its own\n", n)
	return nil
}
