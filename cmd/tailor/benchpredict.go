package main

import (
	"context"
	"flag"
	"fmt"
	"runtime"
	"sync"
	"time"

	"tailor/internal/event"
	"tailor/internal/predict"
	"tailor/internal/profile"
	"tailor/internal/segment"
)

func init() {
	extraBench["predict"] = subcommand{
		usage: "tailor bench predict [flags]                               BG/NBD + Gamma-Gamma fit on simulated customers; one profile's prediction update on an order",
		run:   benchPredict,
	}
}

// benchTruth are the simulated customers' parameters: CDNOW's published fits.
var benchTruth = predict.Model{
	BG: predict.BGNBD{R: 0.243, Alpha: 4.414, A: 0.793, B: 2.426},
	GG: predict.GammaGamma{P: 6.25, Q: 3.74, Gamma: 15.44},
}

func benchPredict(_ context.Context, args []string) error {
	fs := flag.NewFlagSet("bench predict", flag.ContinueOnError)
	n := fs.Int("customers", 1_000_000, "simulated customers for the fit")
	live := fs.Int("profiles", 100_000, "customers in the segment engine for the per-order update")
	updates := fs.Int("orders", 50_000, "timed orders of the per-order update")
	nm := fs.Bool("nelder-mead", false, "also fit with Nelder-Mead on the likelihood alone (slow)")
	seed := fs.Uint64("seed", 1, "simulation seed")
	if help, err := parseBenchFlags(fs, args); help || err != nil {
		return err
	}
	switch {
	case *n < 1000:
		return fmt.Errorf("%w: --customers must be at least 1000, got %d", errUsage, *n)
	case *live < 1000 || *updates < 1:
		return fmt.Errorf("%w: --profiles must be at least 1000 and --orders at least 1", errUsage)
	}
	start := time.Now()
	cs := predict.Simulate(benchTruth, *n, 52, *seed)
	fmt.Printf("fit: %d customers simulated from BG/NBD %+v, Gamma-Gamma %+v, ages up to 52 weeks (%v); GOMAXPROCS %d\n",
		*n, benchTruth.BG, benchTruth.GG, since(start), runtime.GOMAXPROCS(0))

	// Baseline: one evaluation of the likelihood, customer by customer.
	start = time.Now()
	ll := 0.0
	for _, c := range cs {
		ll += benchTruth.BG.LogLik(c)
	}
	oneLL := time.Since(start)
	fmt.Printf("  baseline: one BG/NBD log-likelihood evaluation, per customer, one core: %v (LL %.1f)\n", oneLL.Round(time.Millisecond), ll)

	cpu0, _ := processCPU()
	start = time.Now()
	bg, res, err := predict.FitBGNBD(cs, predict.FitOptions{})
	if err != nil {
		return err
	}
	bgT := time.Since(start)
	fmt.Printf("  BG/NBD fit (BFGS on an even sample of 50 000, then Newton steps on everyone): %v, %d likelihood+gradient evaluations in full-data equivalents (%.1f baseline evaluations' time); r=%.4f α=%.4f a=%.4f b=%.4f\n",
		bgT.Round(time.Millisecond), res.Evaluations, float64(bgT)/float64(oneLL), bg.R, bg.Alpha, bg.A, bg.B)
	start = time.Now()
	gg, gres, err := predict.FitGammaGamma(cs, predict.FitOptions{})
	if err != nil {
		return err
	}
	ggT := time.Since(start)
	fmt.Printf("  Gamma-Gamma fit on the %d repeat customers: %v; p=%.3f q=%.3f γ=%.3f\n", gres.N, ggT.Round(time.Millisecond), gg.P, gg.Q, gg.Gamma)
	md := predict.Model{BG: bg, GG: gg}
	workers := runtime.GOMAXPROCS(0)
	// Baseline: each customer's 13 hypergeometric terms of its own.
	start = time.Now()
	var wg sync.WaitGroup
	per := (len(cs) + workers - 1) / workers
	for w := range workers {
		lo, hi := w*per, min((w+1)*per, len(cs))
		wg.Go(func() {
			for _, c := range cs[lo:hi] {
				md.CLV(c, predict.CLVOptions{})
				md.BG.ExpectedRepeat(c, 90.0/7)
			}
		})
	}
	wg.Wait()
	allOld := time.Since(start)
	fmt.Printf("  baseline: every customer's 12-month CLV and 90-day orders, each on its own: %v\n", allOld.Round(time.Millisecond))
	start = time.Now()
	clv, orders := make([]float64, len(cs)), make([]float64, len(cs))
	pairs := md.Batch(cs, predict.CLVOptions{}, 90.0/7, workers, clv, orders)
	allT := time.Since(start)
	fmt.Printf("  every customer's CLV and orders sharing the horizon terms of equal (x, age in days), as the refresh does: %v (%d distinct pairs)\n",
		allT.Round(time.Millisecond), pairs)
	cpu1, _ := processCPU()
	fmt.Printf("  first refresh (cold fit + shared values): %v for %d customers; with the values one by one instead: %v (CPU %v on %d cores for all of the above; target ≤ 30 s at 1 M)\n",
		(bgT + ggT + allT).Round(time.Millisecond), *n, (bgT + ggT + allOld).Round(time.Millisecond), (cpu1 - cpu0).Round(time.Millisecond), workers)

	// The next day's refit: every customer a day older, one in 200 with
	// an order today; cold as before, then warm from the last fit.
	cs2 := make([]predict.Customer, len(cs))
	for i, c := range cs {
		c.T += predict.DayWeeks
		if i%200 == 0 {
			c.X++
			c.Tx = c.T
		}
		cs2[i] = c
	}
	start = time.Now()
	cbg, cres, err := predict.FitBGNBD(cs2, predict.FitOptions{})
	if err != nil {
		return err
	}
	cgg, _, err := predict.FitGammaGamma(cs2, predict.FitOptions{})
	if err != nil {
		return err
	}
	coldT := time.Since(start)
	start = time.Now()
	wbg, wres, err := predict.FitBGNBD(cs2, predict.FitOptions{StartBG: bg, Tolerance: predict.WarmTolerance})
	if err != nil {
		return err
	}
	wgg, _, err := predict.FitGammaGamma(cs2, predict.FitOptions{StartGG: gg, Tolerance: predict.WarmTolerance})
	if err != nil {
		return err
	}
	warmT := time.Since(start)
	dev := max(abs(wbg.R-cbg.R), abs(wbg.Alpha-cbg.Alpha), abs(wbg.A-cbg.A), abs(wbg.B-cbg.B),
		abs(wgg.P-cgg.P), abs(wgg.Q-cgg.Q), abs(wgg.Gamma-cgg.Gamma))
	fmt.Printf("  next day's refit: cold as above, tolerance 1e-10: %v (BG/NBD %d evaluations); warm start from the last fit, tolerance %g: %v (%d evaluations); largest parameter difference %.1e\n",
		coldT.Round(time.Millisecond), cres.Evaluations, predict.WarmTolerance, warmT.Round(time.Millisecond), wres.Evaluations, dev)
	start = time.Now()
	predict.Model{BG: wbg, GG: wgg}.Batch(cs2, predict.CLVOptions{}, 90.0/7, workers, clv, orders)
	fmt.Printf("  daily refresh (warm fit + shared values): %v\n", (warmT + time.Since(start)).Round(time.Millisecond))
	if *nm {
		start = time.Now()
		nbg, nres, err := predict.FitBGNBD(cs, predict.FitOptions{NoGradient: true})
		if err != nil {
			return err
		}
		fmt.Printf("  baseline: BG/NBD fit with Nelder-Mead, no gradient: %v, %d evaluations; r=%.4f α=%.4f a=%.4f b=%.4f\n",
			since(start), nres.Evaluations, nbg.R, nbg.Alpha, nbg.A, nbg.B)
	}
	return benchPredictUpdate(*live, *updates, *seed)
}

func abs(v float64) float64 { return max(v, -v) }

func since(t time.Time) time.Duration { return time.Since(t).Round(time.Millisecond) }

// benchPredictUpdate times the segment engine's Apply of one order for a
// customer, before any fit (baseline) and with predictions installed: the
// difference is keeping the profile's predicted_clv and predicted_orders
// current.
func benchPredictUpdate(n, updates int, seed uint64) error {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	e := segment.NewEngine(segment.Options{Now: func() time.Time { return now }})
	e.Begin()
	week := 7 * 24 * time.Hour
	ord := func(id string, at time.Time, v float64, k int) {
		e.Apply(&event.Event{Type: event.Track, Event: event.OrderCompleted, Timestamp: at,
			MessageID: fmt.Sprint(id, "-", k), Properties: map[string]any{"revenue": v}}, profile.Resolution{Profile: id})
	}
	start := time.Now()
	events := 0
	for i, c := range predict.Simulate(benchTruth, n, 52, seed+1) {
		id := fmt.Sprintf("p%07d", i)
		first := now.Add(-time.Duration(c.T * float64(week)))
		// Order values around the customer's mean, ±50 %.
		val := func(k int) float64 { return (c.M + 20) * (0.5 + float64((i*31+k*17)%100)/100) }
		ord(id, first, val(0), 0)
		for k := 1; k <= int(c.X); k++ {
			ord(id, first.Add(time.Duration(c.Tx*float64(k)/c.X*float64(week))), val(k), k)
		}
		events += 1 + int(c.X)
	}
	fmt.Printf("\nper-order update: %d customers, %d orders loaded into the segment engine (%v)\n", n, events, since(start))
	// Wall time and, the machine being shared, the thread's CPU time.
	type cost struct{ wall, cpu time.Duration }
	timeOrders := func(round int) cost {
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		c0, _ := threadCPU()
		start := time.Now()
		for i := range updates {
			ord(fmt.Sprintf("p%07d", (i*7919)%n), now, 25, 1000*round+i)
		}
		c1, _ := threadCPU()
		return cost{time.Since(start) / time.Duration(updates), (c1 - c0) / time.Duration(updates)}
	}
	start = time.Now()
	e.RefreshModels(now)
	refresh := time.Since(start)
	p := e.Predictions()
	if p == nil {
		return fmt.Errorf("bench predict: the refresh fitted no predictions")
	}
	with := timeOrders(1)
	// The baseline: the same Apply with the predictions taken away.
	e2 := segment.NewEngine(segment.Options{Now: func() time.Time { return now }})
	e2.Begin()
	e, e2 = e2, e
	for i := range n {
		ord(fmt.Sprintf("p%07d", i), now.Add(-week), 20, 0)
	}
	base := timeOrders(2)
	e = e2
	fmt.Printf("  refresh with the fit at %d customers: %v (BG/NBD r=%.3f α=%.3f a=%.3f b=%.3f)\n", p.Customers, refresh.Round(time.Millisecond),
		p.BGNBD.R, p.BGNBD.Alpha, p.BGNBD.A, p.BGNBD.B)
	r := func(d time.Duration) time.Duration { return d.Round(10 * time.Nanosecond) }
	fmt.Printf("  baseline: Apply of an order without a fit: %v per order (CPU %v)\n", r(base.wall), r(base.cpu))
	fmt.Printf("  Apply of an order with predictions kept current: %v per order (CPU %v); the prediction update: %v (CPU %v; target ≤ 10 µs)\n",
		r(with.wall), r(with.cpu), r(with.wall-base.wall), r(with.cpu-base.cpu))
	return nil
}
