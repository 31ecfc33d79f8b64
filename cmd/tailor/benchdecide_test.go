package main

import (
	"bytes"
	"context"
	"errors"
	"regexp"
	"strings"
	"testing"
	"time"
)

// A small run builds its store and the recommendation engine, checks a
// probe answer of each recommender, and reports six runs (paced and
// saturated; do-nothing, decide with the stand-in list, decide with the
// engine) without errors.
func TestBenchDecideReportsEveryRun(t *testing.T) {
	var out bytes.Buffer
	cfg := decideBenchConfig{Profiles: 300, Products: 50, Rate: 200, Duration: time.Second, Concurrency: 4, Bodies: 100, Recs: 10, DataDir: t.TempDir()}
	if err := runDecideBench(context.Background(), cfg, &out); err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	rows := regexp.MustCompile(`(?m)^(do-nothing handler|POST /v1/decide).*\s(\d+)\s+\d+\s+[\d.]+$`).FindAllStringSubmatch(out.String(), -1)
	if len(rows) != 6 {
		t.Fatalf("want 6 result rows, got %d:\n%s", len(rows), out.String())
	}
	for _, want := range []string{"POST /v1/decide, stand-in recommendations", "POST /v1/decide, recommendation engine"} {
		if n := strings.Count(out.String(), want); n != 2 {
			t.Errorf("%d rows of %q, want 2 (paced and saturated)", n, want)
		}
	}
	for _, r := range rows {
		if r[2] != "0" {
			t.Errorf("errors in %q", r[0])
		}
	}
	if n := strings.Count(out.String(), "engine only"); n != 3 {
		t.Errorf("%d engine-only lines, want 3 (stand-in, engine with repeats, engine without):\n%s", n, out.String())
	}
}

func TestBenchDecideRefusesBadFlags(t *testing.T) {
	for _, args := range [][]string{{"--profiles", "0"}, {"--recs", "51"}, {"--duration", "10ms"}, {"--rate", "-1"}, {"extra"}} {
		if err := benchDecide(context.Background(), args); !errors.Is(err, errUsage) {
			t.Errorf("%v: %v, want a usage error", args, err)
		}
	}
}
