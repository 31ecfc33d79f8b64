package loadgen

import (
	"os"

	"golang.org/x/sys/unix"
)

// syncData is fdatasync: the data and the metadata needed to read it, as
// Pebble syncs its WAL.
func syncData(f *os.File) error { return unix.Fdatasync(int(f.Fd())) }

// startWriteBack starts writing f's pages up to off to the disk without
// waiting for them (after those started before are done), as Pebble does
// every BytesPerSync of an sstable.
func startWriteBack(f *os.File, off int64) {
	_ = unix.SyncFileRange(int(f.Fd()), 0, off, unix.SYNC_FILE_RANGE_WRITE|unix.SYNC_FILE_RANGE_WAIT_BEFORE)
}
