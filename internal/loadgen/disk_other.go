//go:build !linux

package loadgen

import "os"

// syncData is the platform's file sync.
func syncData(f *os.File) error { return f.Sync() }

// startWriteBack does nothing where there is no sync_file_range: the
// kernel writes the pages back when it will.
func startWriteBack(*os.File, int64) {}
