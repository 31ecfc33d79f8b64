package loadgen

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"math"
	"net/http"
	"slices"
	"strconv"
)

// PromHistogram is a Prometheus histogram read from the text exposition:
// the server's own view of a latency (WAL fsyncs, segment changes), which a
// bench reports beside what it measured from outside. Series with other
// labels than le are summed.
type PromHistogram struct {
	Bounds []float64 // upper bounds, ascending; the last is +Inf
	Counts []float64 // cumulative
	Sum    float64
}

// addBucket adds n observations at or below le.
func (h *PromHistogram) addBucket(le, n float64) {
	i, found := slices.BinarySearch(h.Bounds, le)
	if found {
		h.Counts[i] += n
		return
	}
	h.Bounds = slices.Insert(h.Bounds, i, le)
	h.Counts = slices.Insert(h.Counts, i, n)
}

// parseBucket adds a `<name>_bucket{…le="…"…} n` sample line to h.
func (h *PromHistogram) parseBucket(line []byte) error {
	le, ok := labelValue(line, "le")
	if !ok {
		return fmt.Errorf("metrics line %q: no le label", line)
	}
	bound, err := strconv.ParseFloat(le, 64)
	if err != nil {
		return fmt.Errorf("metrics line %q: %w", line, err)
	}
	v, err := sampleValue(line)
	if err != nil {
		return err
	}
	h.addBucket(bound, v)
	return nil
}

// Total is the number of observations.
func (h PromHistogram) Total() float64 {
	if len(h.Counts) == 0 {
		return 0
	}
	return h.Counts[len(h.Counts)-1]
}

// Quantile is the upper bound of the bucket holding quantile q (0..1): an
// upper estimate, as precise as the buckets; Quantile(1) bounds the slowest.
func (h PromHistogram) Quantile(q float64) float64 {
	want := q * h.Total()
	for i, c := range h.Counts {
		if c >= want {
			return h.Bounds[i]
		}
	}
	return math.Inf(1)
}

// Minus is h's observations since an earlier reading o of the same
// histogram; h itself when o has other buckets (say, none: an older server).
func (h PromHistogram) Minus(o PromHistogram) PromHistogram {
	if !slices.Equal(h.Bounds, o.Bounds) {
		return h
	}
	d := PromHistogram{Bounds: h.Bounds, Counts: make([]float64, len(h.Counts)), Sum: h.Sum - o.Sum}
	for i := range h.Counts {
		d.Counts[i] = h.Counts[i] - o.Counts[i]
	}
	return d
}

// ReadPromHistogram reads histogram name from a metrics endpoint.
func ReadPromHistogram(ctx context.Context, url, name string) (PromHistogram, error) {
	var h PromHistogram
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return h, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return h, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return h, fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := bytes.TrimSpace(sc.Bytes())
		switch {
		case hasMetricName(line, name+"_bucket"):
			if err := h.parseBucket(line); err != nil {
				return h, err
			}
		case hasMetricName(line, name+"_sum"):
			v, err := sampleValue(line)
			if err != nil {
				return h, err
			}
			h.Sum += v
		}
	}
	return h, sc.Err()
}
