package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"strings"
	"time"

	"tailor/internal/predict"
)

func init() {
	evalCommands["clv"] = subcommand{
		usage: "tailor eval clv PATH   fit BG/NBD + Gamma-Gamma on the CDNOW sample (PATH: the cdnow directory or CDNOW_sample.txt) and print the fits vs the published ones and the holdout fit",
		run:   runEvalCLV,
	}
}

// The published CDNOW sample fits (Fader, Hardie & Lee 2005; Fader & Hardie 2013).
var (
	publishedBG = predict.BGNBD{R: 0.243, Alpha: 4.414, A: 0.793, B: 2.426}
	publishedGG = predict.GammaGamma{P: 6.25, Q: 3.74, Gamma: 15.44}
)

const publishedBGLogLik = -9582.4

func runEvalCLV(_ context.Context, args []string) error {
	fs := flag.NewFlagSet("eval clv", flag.ContinueOnError)
	every := fs.Int("every", 1, "print every Nth week of the holdout fit")
	months := fs.Int("months", 12, "CLV horizon in months")
	discount := fs.Float64("discount", 0.01, "CLV discount rate per month")
	var path string
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		path, args = args[0], args[1:]
	}
	if help, err := parseBenchFlags(fs, args); help || err != nil {
		return err
	}
	switch {
	case path == "":
		return fmt.Errorf("%w: missing PATH: the cdnow directory of the evaluation data, or its CDNOW_sample.txt", errUsage)
	case *every < 1:
		return fmt.Errorf("%w: --every must be at least 1, got %d", errUsage, *every)
	case *months < 1:
		return fmt.Errorf("%w: --months must be at least 1, got %d", errUsage, *months)
	case *discount < 0 || *discount >= 1:
		return fmt.Errorf("%w: --discount must be in [0, 1), got %v", errUsage, *discount)
	}
	if st, err := os.Stat(path); err != nil {
		return fmt.Errorf("eval clv: %w", err)
	} else if st.IsDir() {
		path = filepath.Join(path, "CDNOW_sample.txt")
	}
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("eval clv: %w", err)
	}
	defer f.Close()
	return evalCLV(os.Stdout, f, filepath.Base(path), *every, predict.CLVOptions{Months: *months, MonthlyDiscount: *discount})
}

func evalCLV(w io.Writer, r io.Reader, name string, every int, clvOpt predict.CLVOptions) error {
	raw, err := predict.ParseCDNOW(r)
	if err != nil {
		return fmt.Errorf("eval clv: %s: %w", name, err)
	}
	sum := predict.SummarizeCDNOW(raw, predict.CDNOWCalibrationDays)
	if len(sum) == 0 {
		return errors.New("eval clv: no customer bought in the calibration period (1997-01-01..1997-09-30)")
	}
	cs := make([]predict.Customer, len(sum))
	births := make([]float64, len(sum))
	var x, hold, repeaters int
	for i, s := range sum {
		cs[i], births[i] = s.Customer, s.Birth
		x += int(s.X)
		hold += s.Holdout
		if s.X > 0 {
			repeaters++
		}
	}
	fmt.Fprintf(w, "CDNOW %s: %d customers, %d with a repeat purchase; %d repeat purchase days in weeks 1-39 (calibration), %d in weeks 40-78 (holdout)\n",
		name, len(sum), repeaters, x, hold)
	fmt.Fprintln(w, "conventions: purchases on one day merged, weeks = days/7, calibration to 1997-09-30, Gamma-Gamma on repeat customers' mean repeat value")
	if len(sum) != 2357 {
		fmt.Fprintln(w, "note: the published figures below are those of the 1/10 sample (2,357 customers), not of this file")
	}

	start := time.Now()
	bg, res, err := predict.FitBGNBD(cs, predict.FitOptions{})
	if err != nil {
		return fmt.Errorf("eval clv: %w", err)
	}
	bgTime := time.Since(start)
	start = time.Now()
	gg, gres, err := predict.FitGammaGamma(cs, predict.FitOptions{})
	if err != nil {
		return fmt.Errorf("eval clv: %w", err)
	}
	ggTime := time.Since(start)
	fmt.Fprintf(w, "\nBG/NBD (published: Fader, Hardie & Lee 2005), fitted in %v, %d evaluations\n", bgTime.Round(time.Microsecond), res.Evaluations)
	fmt.Fprintf(w, "  %-6s %10s %10s %9s\n", "", "fitted", "published", "diff")
	row := func(n string, got, pub float64) {
		fmt.Fprintf(w, "  %-6s %10.4f %10.4f %+9.4f\n", n, got, pub, got-pub)
	}
	row("r", bg.R, publishedBG.R)
	row("alpha", bg.Alpha, publishedBG.Alpha)
	row("a", bg.A, publishedBG.A)
	row("b", bg.B, publishedBG.B)
	row("LL", res.LogLik, publishedBGLogLik)
	fmt.Fprintf(w, "\nGamma-Gamma (published: Fader & Hardie 2013) on %d repeat customers, fitted in %v, %d evaluations\n", gres.N, ggTime.Round(time.Microsecond), gres.Evaluations)
	row("p", gg.P, publishedGG.P)
	row("q", gg.Q, publishedGG.Q)
	row("gamma", gg.Gamma, publishedGG.Gamma)
	fmt.Fprintf(w, "  population mean order value p*gamma/(q-1) = %.2f; LL %.2f\n", gg.PopulationMean(), gres.LogLik)

	// Holdout: cumulative repeat purchases per week, actual vs BG/NBD's
	// expectation for a cohort with these births (FHL 2005 fig. 2).
	const weeks = 78
	actual := predict.WeeklyRepeats(raw, weeks)
	pred := bg.ExpectedWeeklyRepeats(births, weeks)
	fmt.Fprintf(w, "\nCumulative repeat transactions, weeks 40-78 (holdout; calibration ends with week 39)\n")
	fmt.Fprintf(w, "  %4s %9s %9s %7s\n", "week", "actual", "predicted", "error")
	cumA, cumP := 0, 0.0
	var calA int
	var calP float64
	for k := range weeks {
		cumA += actual[k]
		cumP = pred[k] // already cumulative
		if k == 38 {
			calA, calP = cumA, cumP
		}
		wk := k + 1
		if wk >= 40 && ((wk-40)%every == 0 || wk == weeks) {
			fmt.Fprintf(w, "  %4d %9d %9.1f %+6.1f%%\n", wk, cumA, cumP, 100*(cumP-float64(cumA))/float64(cumA))
		}
	}
	hp := cumP - calP
	ha := cumA - calA
	fmt.Fprintf(w, "  holdout total (weeks 40-78): actual %d, predicted %.1f (%+.1f%%); calibration (weeks 1-39): actual %d, predicted %.1f\n",
		ha, hp, 100*(hp-float64(ha))/float64(ha), calA, calP)

	// Conditional expectations: each customer's E[Y(39 weeks) | x, t_x, T]
	// against what they did in the holdout, by calibration frequency (FHL
	// 2005 fig. 4).
	const groups = 8
	var n [groups]int
	var act, exp [groups]float64
	totE := 0.0
	for _, s := range sum {
		g := min(int(s.X), groups-1)
		e := bg.ExpectedRepeat(s.Customer, 39)
		n[g]++
		act[g] += float64(s.Holdout)
		exp[g] += e
		totE += e
	}
	fmt.Fprintf(w, "\nConditional expectation of holdout purchases by calibration frequency (mean per customer)\n")
	fmt.Fprintf(w, "  %3s %6s %8s %9s\n", "x", "n", "actual", "expected")
	for g := range groups {
		label := fmt.Sprint(g)
		if g == groups-1 {
			label += "+"
		}
		fmt.Fprintf(w, "  %3s %6d %8.3f %9.3f\n", label, n[g], act[g]/float64(max(n[g], 1)), exp[g]/float64(max(n[g], 1)))
	}
	fmt.Fprintf(w, "  total: actual %d, sum of conditional expectations %.1f\n", hold, totE)
	ex := predict.Customer{X: 2, Tx: 30.43, T: 38.86}
	fmt.Fprintf(w, "  FHL 2005's example customer (x=2, t_x=30.43, T=38.86): E[Y(39)] = %.3f (published 1.226), P(alive) = %.3f\n",
		bg.ExpectedRepeat(ex, 39), bg.PAlive(ex))

	md := predict.Model{BG: bg, GG: gg}
	var clvSum, clvMax float64
	for _, c := range cs {
		v := md.CLV(c, clvOpt)
		clvSum += v
		clvMax = math.Max(clvMax, v)
	}
	fmt.Fprintf(w, "\nCLV at 1997-09-30 over %d months at %.1f%%/month: mean $%.2f, max $%.2f, total $%.0f (revenue, not margin)\n",
		clvOpt.Months, 100*clvOpt.MonthlyDiscount, clvSum/float64(len(cs)), clvMax, clvSum)
	return nil
}
