//go:build linux && cgo

package main

import (
	"log/slog"
	"os"
	"strings"
	"syscall"
)

// Huge pages for Pebble's memory. Pebble allocates its memtables (256 MB
// for the log's store, 128 MB for the state's) and its block cache with
// the C allocator, outside the Go heap. In 4 KB pages, a memtable being
// filled takes a page fault every 4 KB of events (7.5 % of the server's CPU
// in the first minute after a start, measured with perf), and its skiplist,
// which every insert and every flush walks at random, misses the TLB on
// nearly every node. glibc backs its allocations with transparent huge
// pages when its tunable glibc.malloc.hugetlb is 1, but reads tunables only
// when a process starts: so the commands that hold those stores for long
// run themselves again, once, with the tunable set.

// hugePagesTunable is the tunable, as GLIBC_TUNABLES spells it.
const hugePagesTunable = "glibc.malloc.hugetlb"

// thpEnabled is the kernel's transparent huge page setting.
const thpEnabled = "/sys/kernel/mm/transparent_hugepage/enabled"

// withHugePages returns env with glibc's huge pages tunable added, and
// false when it should be left alone: the environment sets the tunable
// already (either way: an operator's choice stands), or thp, the kernel's
// setting, is neither "always" nor "madvise" (huge pages never given, or
// the setting unread).
func withHugePages(env []string, thp string) ([]string, bool) {
	if !strings.Contains(thp, "[madvise]") && !strings.Contains(thp, "[always]") {
		return nil, false
	}
	out := make([]string, 0, len(env)+1)
	found := false
	for _, kv := range env {
		if v, ok := strings.CutPrefix(kv, "GLIBC_TUNABLES="); ok {
			if strings.Contains(v, hugePagesTunable+"=") {
				return nil, false
			}
			if v != "" {
				v += ":"
			}
			kv, found = "GLIBC_TUNABLES="+v+hugePagesTunable+"=1", true
		}
		out = append(out, kv)
	}
	if !found {
		out = append(out, "GLIBC_TUNABLES="+hugePagesTunable+"=1")
	}
	return out, true
}

// execWithHugePages runs the process again with glibc's huge pages tunable
// set (see withHugePages), unless TAILOR_HUGE_PAGES=0. It returns only if
// it does not: the process goes on as it was.
func execWithHugePages() {
	if os.Getenv("TAILOR_HUGE_PAGES") == "0" {
		return
	}
	thp, err := os.ReadFile(thpEnabled)
	if err != nil {
		return
	}
	env, ok := withHugePages(os.Environ(), string(thp))
	if !ok {
		return
	}
	exe, err := os.Executable()
	if err != nil {
		return
	}
	err = syscall.Exec(exe, os.Args, env)
	slog.Debug("running without huge pages for the stores' memory", "err", err)
}
