package predict

import (
	"bufio"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
	"time"
)

// This file reads the CDNOW transaction logs that Fader and Hardie publish
// (the 1/10 sample of the cohort that first bought at CDNOW in the first
// quarter of 1997) and summarizes them with the conventions of the papers, so
// that the test suite and `tailor eval clv` can check the fits against the
// published figures. The data is third-party and is never part of the
// repository; callers hand it in as a reader.

// CDNOW calendar: the cohort starts on 1997-01-01, calibration ends on
// 1997-09-30 (day 272, the end of week 39), the holdout on 1998-06-30 (end of
// week 78).
var cdnowStart = time.Date(1997, 1, 1, 0, 0, 0, 0, time.UTC)

const (
	CDNOWCalibrationDays = 273 // days 0..272: weeks 1–39
	CDNOWTotalDays       = 546 // days 0..545: weeks 1–78
)

// Purchase is one customer's purchases on one day, merged.
type Purchase struct {
	Day   int // days since the cohort start
	Value float64
}

// CDNOWCustomer is one customer's purchase days, in order.
type CDNOWCustomer struct {
	ID        string
	Purchases []Purchase
}

// ParseCDNOW reads CDNOW_sample.txt (master_id sample_id date cds dollars)
// or CDNOW_master.txt (customer_id date cds dollars, an optional header) and
// merges each customer's purchases on one calendar day into one, summing the
// values. Customers come back in ID order.
func ParseCDNOW(r io.Reader) ([]CDNOWCustomer, error) {
	byID := map[string]map[int]float64{}
	sc := bufio.NewScanner(r)
	line := 0
	for sc.Scan() {
		line++
		f := strings.Fields(sc.Text())
		if len(f) == 0 {
			continue
		}
		if line == 1 && f[0] == "customer_id" {
			continue
		}
		var id, date, dollars string
		switch len(f) {
		case 5: // sample: the sample id identifies the customer
			id, date, dollars = f[1], f[2], f[4]
		case 4:
			id, date, dollars = f[0], f[1], f[3]
		default:
			return nil, fmt.Errorf("cdnow line %d: want 4 or 5 fields, got %d", line, len(f))
		}
		d, err := time.Parse("20060102", date)
		if err != nil {
			return nil, fmt.Errorf("cdnow line %d: date %q: %w", line, date, err)
		}
		v, err := strconv.ParseFloat(dollars, 64)
		if err != nil {
			return nil, fmt.Errorf("cdnow line %d: dollar value %q: %w", line, dollars, err)
		}
		day := int(d.Sub(cdnowStart).Hours() / 24)
		if day < 0 {
			return nil, fmt.Errorf("cdnow line %d: date %s before the cohort start", line, date)
		}
		if byID[id] == nil {
			byID[id] = map[int]float64{}
		}
		byID[id][day] += v
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("cdnow: read: %w", err)
	}
	out := make([]CDNOWCustomer, 0, len(byID))
	for id, days := range byID {
		c := CDNOWCustomer{ID: id}
		for d, v := range days {
			c.Purchases = append(c.Purchases, Purchase{d, v})
		}
		sort.Slice(c.Purchases, func(i, j int) bool { return c.Purchases[i].Day < c.Purchases[j].Day })
		out = append(out, c)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out, nil
}

// Summary is the calibration summary of one customer (weeks) and what the
// customer did in the holdout.
type Summary struct {
	Customer
	Birth   float64 // week of the first purchase since the cohort start (days/7)
	Holdout int     // purchase days in the holdout
}

// SummarizeCDNOW splits each customer's purchase days at calDays (days since
// the cohort start): the first purchase is the birth, later ones in the
// calibration period are the repeats x, with t_x and T measured from the
// birth in days/7 and M the mean value of the repeats; purchase days from
// calDays on are the holdout. Customers born after the calibration are left
// out.
func SummarizeCDNOW(cs []CDNOWCustomer, calDays int) []Summary {
	out := make([]Summary, 0, len(cs))
	for _, c := range cs {
		if len(c.Purchases) == 0 || c.Purchases[0].Day >= calDays {
			continue
		}
		birth := c.Purchases[0].Day
		s := Summary{Birth: float64(birth) / 7}
		s.T = float64(calDays-1-birth) / 7
		sum := 0.0
		for _, p := range c.Purchases[1:] {
			if p.Day >= calDays {
				s.Holdout++
				continue
			}
			s.X++
			s.Tx = float64(p.Day-birth) / 7
			sum += p.Value
		}
		if s.X > 0 {
			s.M = sum / s.X
		}
		out = append(out, s)
	}
	return out
}

// WeeklyRepeats counts the repeat purchase days (every purchase day but each
// customer's first) in each week 1..weeks since the cohort start.
func WeeklyRepeats(cs []CDNOWCustomer, weeks int) []int {
	out := make([]int, weeks)
	for _, c := range cs {
		for _, p := range c.Purchases[1:] {
			if w := p.Day / 7; w < weeks {
				out[w]++
			}
		}
	}
	return out
}

// ExpectedWeeklyRepeats is BG/NBD's expected cumulative repeat purchases at
// the end of each week 1..weeks for a cohort with the given births (weeks
// since the cohort start): Σ_i E[X(w − birth_i)] (FHL 2005 fig. 2). A
// customer born within a week starts counting at their birth, as in the data.
func (m BGNBD) ExpectedWeeklyRepeats(births []float64, weeks int) []float64 {
	// Births fall on whole days: evaluate E[X(t)] once per distinct (day, week).
	count := map[float64]int{}
	for _, b := range births {
		count[b]++
	}
	out := make([]float64, weeks)
	for b, n := range count {
		for w := 1; w <= weeks; w++ {
			// A purchase on day 7w−1 is in week w; the week ends at 7w days,
			// and the birth day itself (day 7b) is the first purchase.
			t := float64(w) - b - 1.0/7
			if t > 0 {
				out[w-1] += float64(n) * m.ExpectedPopulation(t)
			}
		}
	}
	return out
}
