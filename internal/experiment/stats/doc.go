// Package stats holds the statistics of experiments, as pure functions of
// per-variant sufficient statistics (units, sums, sums of squares), so that
// results over millions of exposures cost as much as over a hundred.
//
// What it offers and the method behind each:
//   - Welch (means) and TwoProportion (conversions): absolute effect with a
//     confidence interval and p-value; the relative effect (lift) with an
//     interval by the delta method.
//   - BetaBinomial and NormalMeans: the Bayesian chance that the treatment
//     beats control and the expected loss of choosing either; computed in
//     closed form or by fixed-node Gauss–Legendre quadrature, so results are
//     deterministic (no Monte Carlo).
//   - Sequential: a mixture sequential probability ratio test (Johari et al.
//     2017, "Peeking at A/B tests"), with its always-valid p-value and
//     confidence sequence (Howard et al. 2021), so results may be looked at
//     every day without inflating false positives.
//   - SRM: the χ² goodness-of-fit check of exposure counts against the
//     planned weights (sample-ratio mismatch).
//   - CUPED: variance reduction with a pre-period covariate (Deng et al. 2013).
//   - SampleSizeProportion, SampleSizeMeans, DaysToGo: power planning for the
//     verdict text.
//
// Conventions: alpha is the two-sided significance level (0.05 gives 95 %
// intervals); "treatment" is the variant compared with control; effects are
// treatment minus control; relative effects are fractions (0.1 is +10 %).
package stats
