package main

import (
	"fmt"
	"os"
)

// checkDataDir is the first check of a command on a stopped server's data
// directory: a missing one is a usage error.
func checkDataDir(dir string) error {
	if _, err := os.Stat(dir); err != nil {
		return fmt.Errorf("%w: --data-dir %s: %v (start tailor serve once to create it)", errUsage, dir, err)
	}
	return nil
}

// stopFirst says so when err is a running server holding the data
// directory (isLockHeld), and returns any other error as it is.
func stopFirst(err error) error {
	if err != nil && isLockHeld(err) {
		return fmt.Errorf("tailor is running on this data dir; stop it first (%w)", err)
	}
	return err
}
