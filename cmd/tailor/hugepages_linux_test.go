//go:build linux && cgo

package main

import (
	"slices"
	"testing"
)

// TestWithHugePages: the tunable is added to the environment (beside
// other glibc tunables), never twice, never over an operator's own value,
// and not when the kernel gives no transparent huge pages.
func TestWithHugePages(t *testing.T) {
	const madvise = "always [madvise] never\n"
	for _, tc := range []struct {
		name string
		env  []string
		thp  string
		want []string // nil: left alone
	}{
		{"no tunables", []string{"HOME=/root"}, madvise, []string{"HOME=/root", "GLIBC_TUNABLES=glibc.malloc.hugetlb=1"}},
		{"THP always", []string{"A=1"}, "[always] madvise never\n", []string{"A=1", "GLIBC_TUNABLES=glibc.malloc.hugetlb=1"}},
		{"other tunables", []string{"GLIBC_TUNABLES=glibc.malloc.arena_max=2", "B=2"}, madvise,
			[]string{"GLIBC_TUNABLES=glibc.malloc.arena_max=2:glibc.malloc.hugetlb=1", "B=2"}},
		{"empty tunables", []string{"GLIBC_TUNABLES="}, madvise, []string{"GLIBC_TUNABLES=glibc.malloc.hugetlb=1"}},
		{"already set (the run after the exec)", []string{"GLIBC_TUNABLES=glibc.malloc.hugetlb=1"}, madvise, nil},
		{"the operator's choice", []string{"GLIBC_TUNABLES=glibc.malloc.hugetlb=0:glibc.malloc.arena_max=2"}, madvise, nil},
		{"THP never", []string{"HOME=/root"}, "always madvise [never]\n", nil},
		{"THP unknown", []string{"HOME=/root"}, "", nil},
	} {
		got, ok := withHugePages(tc.env, tc.thp)
		if ok != (tc.want != nil) || !slices.Equal(got, tc.want) {
			t.Errorf("%s: %q, %v; want %q", tc.name, got, ok, tc.want)
		}
	}
}
