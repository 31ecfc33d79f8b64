package e2e

import (
	"bytes"
	"debug/buildinfo"
	"fmt"
	"os"
	"strings"
	"testing"
)

// TestServeAsksForHugePages: where the kernel gives transparent huge pages
// to memory that asks for them, `tailor serve` runs with glibc's huge
// pages tunable (it runs itself again, keeping its pid, so the harness's
// process is the server); where it gives none, or the binary was built
// without cgo (Pebble then allocates in the Go heap, not with glibc), it
// runs as started.
func TestServeAsksForHugePages(t *testing.T) {
	thp, err := os.ReadFile("/sys/kernel/mm/transparent_hugepage/enabled")
	want := err == nil && (bytes.Contains(thp, []byte("[madvise]")) || bytes.Contains(thp, []byte("[always]")))
	bi, err := buildinfo.ReadFile(tailorBin)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range bi.Settings {
		if s.Key == "CGO_ENABLED" && s.Value != "1" {
			want = false
		}
	}
	s := startServer(t, t.TempDir())
	env, err := os.ReadFile(fmt.Sprintf("/proc/%d/environ", s.cmd.Process.Pid))
	if err != nil {
		t.Fatal(err)
	}
	var tunables string
	for _, kv := range strings.Split(string(env), "\x00") {
		if v, ok := strings.CutPrefix(kv, "GLIBC_TUNABLES="); ok {
			tunables = v
		}
	}
	if got := strings.Contains(tunables, "glibc.malloc.hugetlb=1"); got != want {
		t.Fatalf("the server's GLIBC_TUNABLES=%q with the kernel's THP setting %q: huge pages asked for %v, want %v", tunables, thp, got, want)
	}
	// And it serves: the exec kept what the harness started.
	if code, body, err := s.do("GET", "/healthz", nil, nil); err != nil || code != 200 {
		t.Fatalf("GET /healthz after the exec: %d %s %v", code, body, err)
	}
}
