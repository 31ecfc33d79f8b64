package main

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"tailor/internal/predict"
)

func TestEvalCLVRejectsBadArguments(t *testing.T) {
	for _, args := range [][]string{nil, {"--every", "0", "x"}, {filepath.Join(t.TempDir(), "x"), "--discount", "1"}} {
		if err := runEvalCLV(context.Background(), args); !errors.Is(err, errUsage) {
			t.Errorf("%q: err = %v, want a usage error", args, err)
		}
	}
	if err := runEvalCLV(context.Background(), []string{filepath.Join(t.TempDir(), "missing")}); err == nil {
		t.Error("a missing PATH was accepted")
	}
}

func TestEvalCLVRejectsMalformedData(t *testing.T) {
	var b strings.Builder
	err := evalCLV(&b, strings.NewReader("00001 0001 1997x101 1 10\n"), "bad", 1, predict.CLVOptions{})
	if err == nil || !strings.Contains(err.Error(), "line 1") {
		t.Errorf("err = %v, want one naming line 1", err)
	}
}

// On the CDNOW sample (found like internal/predict's test finds it) the
// report prints the published fits and the holdout totals.
func TestEvalCLVReportsPublishedFitOnCDNOW(t *testing.T) {
	dir := os.Getenv("TAILOR_EVAL_DATA")
	if dir == "" {
		wd, _ := os.Getwd()
		for d := wd; filepath.Dir(d) != d; d = filepath.Dir(d) {
			if _, err := os.Stat(filepath.Join(d, "shared", "eval", "cdnow")); err == nil {
				dir = filepath.Join(d, "shared", "eval")
				break
			}
		}
	}
	if dir == "" {
		if os.Getenv("TAILOR_EVAL_REQUIRE") == "1" {
			t.Fatal("CDNOW data not found: set TAILOR_EVAL_DATA")
		}
		t.Skip("CDNOW data not found (set TAILOR_EVAL_DATA to a directory holding cdnow/)")
	}
	f, err := os.Open(filepath.Join(dir, "cdnow", "CDNOW_sample.txt"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var b strings.Builder
	if err := evalCLV(&b, f, "CDNOW_sample.txt", 1, predict.CLVOptions{}); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	for _, want := range []string{"holdout total (weeks 40-78): actual 1882", "E[Y(39)] = 1.226"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	// Every parameter row: |fitted − published| below half a unit of the published precision.
	rows := regexp.MustCompile(`(?m)^  (r|alpha|a|b|p|q|gamma) +(\S+) +(\S+)`).FindAllStringSubmatch(out, -1)
	if len(rows) != 7 {
		t.Fatalf("found %d parameter rows, want 7:\n%s", len(rows), out)
	}
	for _, r := range rows {
		got, _ := strconv.ParseFloat(r[2], 64)
		pub, _ := strconv.ParseFloat(r[3], 64)
		tol := 0.0005
		if r[1] == "p" || r[1] == "q" || r[1] == "gamma" {
			tol = 0.005
		}
		if d := got - pub; d > tol || d < -tol {
			t.Errorf("%s: fitted %v, published %v", r[1], got, pub)
		}
	}
	// Week 78's cumulative prediction is within 5 % of the actual 4,339 (FHL 2005 fig. 2).
	m := regexp.MustCompile(`(?m)^ +78 +4339 +(\S+)`).FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("no week-78 row:\n%s", out)
	}
	if p, _ := strconv.ParseFloat(m[1], 64); p < 4339*0.95 || p > 4339*1.05 {
		t.Errorf("week 78 predicted %v, want within 5%% of 4339", p)
	}
}
