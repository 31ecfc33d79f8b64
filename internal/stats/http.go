package stats

import (
	"net/http"
	"strings"

	"tailor/internal/apierr"
)

// Current is the overview's figures now.
type Current struct {
	// EventsPerSecond is the rate of accepted events in the latest 10 s
	// interval (the one before while the latest has run for under 5 s).
	EventsPerSecond  float64 `json:"events_per_second"`
	AppliedPerSecond float64 `json:"applied_per_second"`
	Profiles         int64   `json:"profiles"`
	LagEvents        int64   `json:"lag_events"`
	LagSeconds       float64 `json:"lag_seconds"`
	// RejectedTotal counts rejected messages since the server started;
	// RejectedLastHour those of the last hour (across restarts).
	RejectedTotal          uint64 `json:"rejected_total"`
	RejectedLastHour       uint64 `json:"rejected_last_hour"`
	SegmentEntriesLastHour uint64 `json:"segment_entries_last_hour"`
	SegmentExitsLastHour   uint64 `json:"segment_exits_last_hour"`
}

// Series is one range's points as columns, ready for a chart: T holds each
// interval's start (unix seconds); a nil value is an interval without
// readings (the node was down).
type Series struct {
	T                []int64    `json:"t"`
	EventsPerSecond  []*float64 `json:"events_per_second"`
	AppliedPerSecond []*float64 `json:"applied_per_second"`
	Rejected         []*float64 `json:"rejected"`
	SegmentEntries   []*float64 `json:"segment_entries"`
	SegmentExits     []*float64 `json:"segment_exits"`
	Profiles         []*float64 `json:"profiles"`
	LagEvents        []*float64 `json:"lag_events"`
	LagSeconds       []*float64 `json:"lag_seconds"`
}

// Answer is GET /api/stats.
type Answer struct {
	Now     int64   `json:"now"`
	Range   string  `json:"range"`
	Step    int64   `json:"step"`
	Current Current `json:"current"`
	Series  Series  `json:"series"`
}

// Stats returns the current figures and the series of the range named
// rangeName (hour, day or week).
func (s *Sampler) Stats(rangeName string) (Answer, bool) {
	ri := -1
	for i, r := range Ranges {
		if r.Name == rangeName {
			ri = i
		}
	}
	if ri < 0 {
		return Answer{}, false
	}
	cur, now := s.opts.Read(), s.opts.Now()
	s.mu.Lock()
	hour := s.rings[0].series(now.Unix())
	pts := s.rings[ri].series(now.Unix())
	// The change since the last reading is not in the rings yet: it is
	// shown in the current interval (of these copies), so that what just
	// happened shows at once, also in the first seconds after a start.
	pending := delta(s.last, cur, now.Sub(s.lastAt))
	at := midpoint(s.lastAt, now)
	s.mu.Unlock()
	// A change over longer than two readings' time means nobody is
	// sampling (tests, a stopped sampler): it is not spread over a point.
	if now.Sub(s.lastAt) <= 2*s.opts.Interval {
		foldAt(hour, Ranges[0].Step, at, pending)
		foldAt(pts, Ranges[ri].Step, at, pending)
	}

	a := Answer{Now: now.Unix(), Range: rangeName, Step: Ranges[ri].Step}
	a.Current = Current{Profiles: cur.Profiles, LagEvents: cur.LagEvents, LagSeconds: cur.LagSeconds,
		RejectedTotal: cur.Rejected}
	// The hour ring's oldest point began up to a step more than an hour
	// ago: it is left out of the sums.
	for _, p := range hour[1:] {
		a.Current.RejectedLastHour += p.Rejected
		a.Current.SegmentEntriesLastHour += p.Entered
		a.Current.SegmentExitsLastHour += p.Exited
	}
	// The rate now is the latest interval's, unless it has run for less
	// than minRateSeconds (too short to say much): then the one before.
	for i := len(hour) - 1; i >= 0; i-- {
		p := hour[i]
		if p.Seconds >= minRateSeconds || p.Seconds > 0 && (i == 0 || hour[i-1].Seconds == 0) {
			a.Current.EventsPerSecond = float64(p.Accepted) / p.Seconds
			a.Current.AppliedPerSecond = float64(p.Applied) / p.Seconds
			break
		}
	}

	ser := &a.Series
	for _, p := range pts {
		ser.T = append(ser.T, p.T)
		if p.Seconds <= 0 {
			for _, col := range []*[]*float64{&ser.EventsPerSecond, &ser.AppliedPerSecond, &ser.Rejected, &ser.SegmentEntries,
				&ser.SegmentExits, &ser.Profiles, &ser.LagEvents, &ser.LagSeconds} {
				*col = append(*col, nil)
			}
			continue
		}
		ser.EventsPerSecond = append(ser.EventsPerSecond, num(float64(p.Accepted)/p.Seconds))
		ser.AppliedPerSecond = append(ser.AppliedPerSecond, num(float64(p.Applied)/p.Seconds))
		ser.Rejected = append(ser.Rejected, num(float64(p.Rejected)))
		ser.SegmentEntries = append(ser.SegmentEntries, num(float64(p.Entered)))
		ser.SegmentExits = append(ser.SegmentExits, num(float64(p.Exited)))
		ser.Profiles = append(ser.Profiles, num(float64(p.Profiles)))
		ser.LagEvents = append(ser.LagEvents, num(float64(p.LagEvents)))
		ser.LagSeconds = append(ser.LagSeconds, num(p.LagSeconds))
	}
	return a, true
}

// foldAt folds d into the point of series pts (of step seconds) holding
// unix second t, if there is one.
func foldAt(pts []Point, step, t int64, d Point) {
	i := len(pts) - 1 - int((pts[len(pts)-1].T-(t-t%step))/step)
	if i >= 0 && i < len(pts) {
		pts[i].fold(d)
	}
}

// minRateSeconds is the shortest interval whose rate is the current rate.
const minRateSeconds = 5

func num(v float64) *float64 { return &v }

// ServeHTTP answers GET /api/stats?range=hour|day|week (default hour).
func (s *Sampler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		apierr.WriteError(w, r, apierr.Plain, apierr.New(apierr.MethodNotAllowed, r.Method+" is not allowed here; send GET"))
		return
	}
	name := r.URL.Query().Get("range")
	if name == "" {
		name = "hour"
	}
	a, ok := s.Stats(name)
	if !ok {
		names := make([]string, len(Ranges))
		for i, rg := range Ranges {
			names[i] = rg.Name
		}
		apierr.WriteError(w, r, apierr.Plain, apierr.Errorf(apierr.BadRequest, "range: one of %s, got %q", strings.Join(names, ", "), name))
		return
	}
	apierr.WriteJSON(w, http.StatusOK, a)
}
