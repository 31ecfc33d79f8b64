package main

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"tailor/internal/store"
)

// TestMigrateCommandErrors: a missing data directory is a usage error that
// says what to do, and one a running server holds says to stop it first.
// (Moving a log is store.TestMoveLog's and the server's old-layout test's.)
func TestMigrateCommandErrors(t *testing.T) {
	ctx := context.Background()
	err := runMigrate(ctx, []string{"--data-dir", filepath.Join(t.TempDir(), "nope")})
	if !errors.Is(err, errUsage) || !strings.Contains(err.Error(), "start tailor serve once") {
		t.Errorf("migrate of a missing data dir: %v, want a usage error saying how to create it", err)
	}

	dir := t.TempDir()
	st, err := store.OpenStores(dir, 8<<20) // held as a running server holds it
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	err = runMigrate(ctx, []string{"--data-dir", dir})
	if err == nil || !strings.Contains(err.Error(), "tailor is running on this data dir; stop it first") {
		t.Errorf("migrate of a held data dir: %v, want it to say to stop the server", err)
	}
	if errors.Is(err, errUsage) {
		t.Errorf("migrate of a held data dir is a usage error: %v", err)
	}
}
