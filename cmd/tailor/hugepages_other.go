//go:build !linux || !cgo

package main

// execWithHugePages does nothing here: the tunable it sets is glibc's on
// Linux (see hugepages_linux.go).
func execWithHugePages() {}
