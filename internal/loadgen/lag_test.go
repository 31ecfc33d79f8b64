package loadgen

import (
	"context"
	"fmt"
	"math"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

func TestParseLag(t *testing.T) {
	for _, tc := range []struct {
		name    string
		text    string
		want    lagGauges
		wantErr string
	}{
		{
			name: "plain gauges with help and type",
			text: `# HELP tailor_processor_lag_events Events acknowledged but not yet applied.
# TYPE tailor_processor_lag_events gauge
tailor_processor_lag_events 1234
# HELP tailor_processor_lag_seconds Age of the oldest acknowledged, unapplied event.
# TYPE tailor_processor_lag_seconds gauge
tailor_processor_lag_seconds 0.4
tailor_ingest_events_total{type="track"} 99
`,
			want: lagGauges{events: 1234, seconds: 0.4, hasEvents: true, hasSeconds: true},
		},
		{
			name: "similar names are not the gauges",
			text: "tailor_processor_lag_events_total 5\ntailor_processor_lag_seconds_bucket{le=\"1\"} 7\ntailor_processor_lag_events 0\n",
			want: lagGauges{events: 0, hasEvents: true},
		},
		{
			name: "timestamps, CRLF and exponent notation",
			text: "tailor_processor_lag_events 1.5e3 1700000000000\r\ntailor_processor_lag_seconds\t2.5e-1\r\n",
			want: lagGauges{events: 1500, seconds: 0.25, hasEvents: true, hasSeconds: true},
		},
		{
			name: "labelled series: events summed, seconds max",
			text: `tailor_processor_lag_events{partition="0"} 3
tailor_processor_lag_events{partition="1",note="a } b \" c"} 4
tailor_processor_lag_seconds{partition="0"} 0.5
tailor_processor_lag_seconds{partition="1"} 0.2
`,
			want: lagGauges{events: 7, seconds: 0.5, hasEvents: true, hasSeconds: true},
		},
		{
			name: "the server's CPU time and applied events",
			text: "# TYPE process_cpu_seconds_total counter\nprocess_cpu_seconds_total 81.5\nprocess_cpu_seconds_totalx 3\ntailor_processor_applied_total 2e6\ntailor_processor_lag_events 0\n",
			want: lagGauges{hasEvents: true, cpu: 81.5, applied: 2e6, hasCPU: true},
		},
		{
			name: "the server's start time",
			text: "# TYPE process_start_time_seconds gauge\nprocess_start_time_seconds 1.76474e+09\ntailor_processor_lag_events 2\n",
			want: lagGauges{hasEvents: true, events: 2, started: 1.76474e9},
		},
		{
			name: "the collector's figures",
			text: "go_gc_duration_seconds{quantile=\"0.5\"} 0.001\ngo_gc_duration_seconds_sum 0.5\ngo_gc_duration_seconds_count 42\n" +
				"go_cpu_classes_gc_total_cpu_seconds_total 12.5\ngo_cpu_classes_gc_mark_assist_cpu_seconds_total 2.5\n" +
				"go_memstats_alloc_bytes_total 3e9\ngo_memstats_alloc_bytes 1e8\ngo_gc_scan_heap_bytes 4.5e8\n",
			want: lagGauges{gcs: 42, gcCPU: 12.5, gcAssist: 2.5, hasGCCPU: true, alloc: 3e9, hasAlloc: true, scanHeap: 4.5e8},
		},
		{
			name: "absent",
			text: "go_goroutines 12\n",
			want: lagGauges{},
		},
		{
			name:    "bad value",
			text:    "tailor_processor_lag_events many\n",
			wantErr: "many",
		},
		{
			name:    "unterminated labels",
			text:    "tailor_processor_lag_events{partition=\"0 3\n",
			wantErr: "unterminated",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := parseLag([]byte(tc.text))
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("error %v, want one mentioning %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("got %+v, want %+v", got, tc.want)
			}
		})
	}
}

func FuzzParseLag(f *testing.F) {
	f.Add("tailor_processor_lag_events{a=\"}\"} 1\ntailor_processor_lag_seconds 2\n")
	f.Fuzz(func(t *testing.T, text string) {
		parseLag([]byte(text)) // must not panic
	})
}

func TestCPUPerEvent(t *testing.T) {
	at := func(cpu, applied float64) lagGauges { return lagGauges{cpu: cpu, applied: applied, hasCPU: true} }
	for _, tc := range []struct {
		name string
		a, b lagGauges
		want time.Duration
	}{
		{"two seconds over 40,000 events", at(10, 1000), at(12, 41000), 50 * time.Microsecond},
		{"no events applied", at(10, 1000), at(12, 1000), 0},
		{"no CPU figure before", lagGauges{applied: 1000}, at(12, 41000), 0},
		{"no CPU figure after", at(10, 1000), lagGauges{applied: 41000}, 0},
	} {
		if got := cpuPerEvent(tc.a, tc.b); got != tc.want {
			t.Errorf("%s: got %v, want %v", tc.name, got, tc.want)
		}
	}
}

func TestCPUCores(t *testing.T) {
	t0 := time.Unix(1_764_740_000, 0)
	at := func(cpu float64, sec int) lagGauges {
		return lagGauges{cpu: cpu, hasCPU: true, at: t0.Add(time.Duration(sec) * time.Second)}
	}
	for _, tc := range []struct {
		name string
		a, b lagGauges
		want float64
	}{
		{"60 CPU seconds over 40 s", at(10, 0), at(70, 40), 1.5},
		{"idle", at(10, 0), at(10, 40), 0},
		{"no time between the readings", at(10, 5), at(12, 5), 0},
		{"readings out of order", at(10, 40), at(12, 0), 0},
		{"no CPU figure before", lagGauges{at: t0}, at(12, 40), 0},
		{"no CPU figure after", at(10, 0), lagGauges{at: t0.Add(40 * time.Second)}, 0},
		{"no time on the first reading", lagGauges{cpu: 10, hasCPU: true}, at(70, 40), 0},
	} {
		if got := cpuCores(tc.a, tc.b); got != tc.want {
			t.Errorf("%s: got %v, want %v", tc.name, got, tc.want)
		}
	}
	r := &LagReport{Drained: true, DrainTime: time.Second, CPUPerEvent: 37800 * time.Nanosecond, ServerCores: 1.514}
	if s := r.String(); !strings.HasSuffix(s, "; server CPU 37.8µs an event, 1.51 cores on average") {
		t.Errorf("report %q does not end with the server's CPU an event and its cores", s)
	}
	r = &LagReport{Drained: true, DrainTime: time.Second, ServerCores: 0.25} // no event applied
	if s := r.String(); !strings.HasSuffix(s, "drained in 1.00s; server CPU 0.25 cores on average") {
		t.Errorf("report %q does not end with the server's cores alone", s)
	}
	if s := (&LagReport{Drained: true, DrainTime: time.Second}).String(); strings.Contains(s, "cores") {
		t.Errorf("report %q names cores it was not given", s)
	}
}

func TestUptime(t *testing.T) {
	at := time.Unix(1_764_740_000, 0)
	for _, tc := range []struct {
		name string
		g    lagGauges
		want time.Duration
	}{
		{"started 95.5 s before the reading", lagGauges{started: 1_764_739_904.5, at: at}, 95500 * time.Millisecond},
		{"no start time", lagGauges{at: at}, 0},
		{"not read", lagGauges{started: 1_764_739_904.5}, 0},
		{"a clock behind the server's", lagGauges{started: 1_764_740_010, at: at}, 0},
	} {
		if got := uptime(tc.g); got != tc.want {
			t.Errorf("%s: got %v, want %v", tc.name, got, tc.want)
		}
	}
	r := &LagReport{Drained: true, DrainTime: time.Second, Uptime: 95500 * time.Millisecond}
	if s := r.String(); !strings.HasSuffix(s, "; server up 1m36s when the run began") {
		t.Errorf("report %q does not end with the uptime", s)
	}
}

// TestLogBytesParsed: the log's value bytes are told apart by their form
// label, the WAL's read as is.
func TestLogBytesParsed(t *testing.T) {
	g, err := parseLag([]byte("tailor_log_value_bytes_total{form=\"received\"} 4.5e+08\n" +
		"tailor_log_value_bytes_total{form=\"stored\"} 1.5e+08\ntailor_store_wal_bytes_total 2.6e+08\n"))
	if err != nil {
		t.Fatal(err)
	}
	if !g.hasValues || g.valueIn != 4.5e8 || g.valueOut != 1.5e8 || !g.hasWAL || g.wal != 2.6e8 {
		t.Fatalf("parsed %+v", g)
	}
	// A server with two stores: their WALs add up.
	g, err = parseLag([]byte("tailor_store_wal_bytes_total{store=\"log\"} 2.6e+08\ntailor_store_wal_bytes_total{store=\"state\"} 4e+07\n"))
	if err != nil {
		t.Fatal(err)
	}
	if !g.hasWAL || g.wal != 3e8 {
		t.Fatalf("two stores' WALs parsed as %v, want 3e8", g.wal)
	}
	// Tables: flushes by store, compactions by store and output level, all
	// summed.
	g, err = parseLag([]byte("tailor_store_flush_bytes_total{store=\"log\"} 1e+08\ntailor_store_flush_bytes_total{store=\"state\"} 2e+07\n" +
		"tailor_store_compaction_bytes_total{level=\"L4\",store=\"log\"} 3e+07\ntailor_store_compaction_bytes_total{level=\"L6\",store=\"log\"} 5e+06\n" +
		"tailor_store_compaction_bytes_total{level=\"L5\",store=\"state\"} 1e+06\n"))
	if err != nil {
		t.Fatal(err)
	}
	if !g.hasTables || g.flushed != 1.2e8 || g.compacted != 3.6e7 {
		t.Fatalf("tables parsed as flushed %v, compacted %v, want 1.2e8 and 3.6e7", g.flushed, g.compacted)
	}
}

// TestWALFsyncOfTheLogStore: of a server with two stores, only the log
// store's fsyncs are read (acknowledgements wait for those alone).
func TestWALFsyncOfTheLogStore(t *testing.T) {
	g, err := parseLag([]byte(`tailor_store_wal_fsync_seconds_bucket{store="log",le="0.001"} 7
tailor_store_wal_fsync_seconds_bucket{store="log",le="+Inf"} 9
tailor_store_wal_fsync_seconds_bucket{store="state",le="0.001"} 100
tailor_store_wal_fsync_seconds_bucket{store="state",le="+Inf"} 300
`))
	if err != nil {
		t.Fatal(err)
	}
	if h := g.fsyncs; len(h.Bounds) != 2 || h.Counts[0] != 7 || h.Counts[1] != 9 {
		t.Fatalf("parsed %+v, want the log store's 7 and 9", h)
	}
}

// TestWALFsyncTail: the WAL fsync histogram is read from its buckets, and
// the run's share is the difference of two readings.
func TestWALFsyncTail(t *testing.T) {
	reading := func(counts ...float64) lagGauges {
		var text strings.Builder
		for i, le := range []string{"0.001", "0.005", "0.025", "0.1", "+Inf"} {
			text.WriteString(`tailor_store_wal_fsync_seconds_bucket{le="` + le + `"} ` + strconv.FormatFloat(counts[i], 'g', -1, 64) + "\n")
		}
		text.WriteString("tailor_store_wal_fsync_seconds_sum 3.2\ntailor_store_wal_fsync_seconds_count 1e9\n")
		g, err := parseLag([]byte(text.String()))
		if err != nil {
			t.Fatal(err)
		}
		return g
	}
	// Before the run: 1,000 fsyncs, some slow; the run's own: 1,000 more,
	// 985 within 1 ms, 10 within 5 ms, 5 within 25 ms, none slower.
	before := reading(500, 800, 900, 990, 1000)
	if h := before.fsyncs; len(h.Bounds) != 5 || h.Bounds[1] != 0.005 || h.Counts[1] != 800 || h.Bounds[4] != math.Inf(1) || h.Counts[4] != 1000 {
		t.Fatalf("parsed %+v", before.fsyncs)
	}
	after := reading(1485, 1795, 1900, 1990, 2000)
	for _, tc := range []struct {
		name         string
		a, b         lagGauges
		n, p99, maxb float64
	}{
		{"the run's fsyncs", before, after, 1000, 0.005, 0.025},
		{"none during the run", before, before, 0, 0, 0},
		{"an old server", lagGauges{}, after, 0, 0, 0},
		{"slower than the last bound", before, reading(1485, 1795, 1900, 1990, 2001), 1001, 0.005, math.Inf(1)},
	} {
		n, p99, maxb := fsyncTail(tc.a, tc.b)
		if n != tc.n || p99 != tc.p99 || maxb != tc.maxb {
			t.Errorf("%s: %v fsyncs, p99 %v, max %v; want %v, %v, %v", tc.name, n, p99, maxb, tc.n, tc.p99, tc.maxb)
		}
	}
	r := &LagReport{Drained: true}
	r.counters(before, after)
	if s := r.String(); !strings.Contains(s, "1000 WAL fsyncs p99 ≤ 5ms max ≤ 25ms, ") {
		t.Errorf("report %q lacks the fsyncs", s)
	}
	// A progress line names its second's slowest fsync only past
	// slowFsync: the run above's slowest (≤ 25 ms) is not named, one
	// within 100 ms is.
	checkSecond(t, before, reading(1485, 1795, 1899, 1999, 2009), "  slowest WAL fsync ≤ 100ms", "fsync")
	l := &lagSampler{n: 2, prev: before, last: after}
	if got := l.file(nil); strings.Contains(got, "fsync") {
		t.Errorf("a second whose fsyncs took ≤ 25 ms: %q", got)
	}
	if _, err := parseLag([]byte("tailor_store_wal_fsync_seconds_bucket 3\n")); err == nil {
		t.Error("a bucket without le parsed")
	}
}

// TestHandoffs: the report says how often acknowledgements waited for the
// processor's full queue during the run, and how often the queue
// overflowed to the log (the counters' differences), and says nothing of
// either when the server does not export the counters.
func TestHandoffs(t *testing.T) {
	text := "tailor_processor_lag_events 0\ntailor_processor_handoff_waits_total 12\ntailor_processor_handoff_wait_seconds_total 0.75\n" +
		"tailor_processor_overflows_total 4\ntailor_processor_read_back_total 1e4\n"
	before, err := parseLag([]byte(text))
	if err != nil {
		t.Fatal(err)
	}
	if !before.hasHandoff || before.handoffs != 12 || before.handoffSec != 0.75 || !before.hasOverflow || before.overflows != 4 || before.readBack != 1e4 {
		t.Fatalf("parsed %+v, want 12 waits, 0.75 s, 4 overflows, 10,000 read back", before)
	}
	before.hasOverflow = false // a server that blocks instead
	after := lagGauges{handoffs: 49, handoffSec: 2.85, hasHandoff: true}
	for _, tc := range []struct {
		name   string
		a, b   lagGauges
		suffix string // of the report's text up to "drained"
	}{
		{"waits during the run", before, after, "acks held by a full processor queue 37 times (2.10s in all), "},
		{"none", before, before, "acks held by a full processor queue 0 times, "},
		{"an old server", lagGauges{}, lagGauges{}, "at stop 0.00s (0 events), "},
		{"the log's bytes",
			lagGauges{applied: 1000, valueIn: 1e6, valueOut: 9e5, hasValues: true, wal: 5e6, hasWAL: true},
			lagGauges{applied: 3000, valueIn: 2.5e6, valueOut: 1.425e6, hasValues: true, wal: 6.2e6, hasWAL: true},
			"at stop 0.00s (0 events), log values stored at 0.35× their bytes, WAL 600 bytes an event, "},
		{"the stores' tables",
			lagGauges{applied: 1000, wal: 5e6, hasWAL: true, flushed: 1e6, compacted: 4e6, hasTables: true},
			lagGauges{applied: 3000, wal: 6.2e6, hasWAL: true, flushed: 1.6e6, compacted: 4.16e6, hasTables: true},
			"WAL 600 bytes an event, tables flushed 300 and compacted 80 bytes an event, "},
		{"overflows to the log",
			lagGauges{handoffs: 3, hasHandoff: true, overflows: 2, readBack: 900, hasOverflow: true},
			lagGauges{handoffs: 3, hasHandoff: true, overflows: 7, readBack: 42900, hasOverflow: true},
			"acks held by a full processor queue 0 times, processor queue overflowed to the log 5 times (42000 events read back), "},
	} {
		r := &LagReport{Drained: true, DrainTime: time.Second}
		r.counters(tc.a, tc.b)
		s, _, _ := strings.Cut(r.String(), "drained")
		if !strings.HasSuffix(s, tc.suffix) {
			t.Errorf("%s: report %q, want it to end in %q before \"drained\"", tc.name, r.String(), tc.suffix)
		}
	}
}

// TestGCReport: the run's collections, the collector's CPU and the
// allocations are per event applied between the two readings; a server
// without the runtime's CPU classes still reports what it exports.
func TestGCReport(t *testing.T) {
	a := lagGauges{applied: 1e6, gcs: 10, gcCPU: 20, gcAssist: 5, hasGCCPU: true, alloc: 1e9, hasAlloc: true, scanHeap: 1e8}
	b := lagGauges{applied: 3e6, gcs: 14, gcCPU: 22, gcAssist: 5.5, hasGCCPU: true, alloc: 7e9, hasAlloc: true, scanHeap: 3.5e8}
	var r LagReport
	r.gc(a, b)
	if r.GCs != 4 || r.GCPerEvent != time.Microsecond || r.AssistShare != 0.25 || r.AllocPerEvent != 3000 || r.ScanHeap != 3.5e8 {
		t.Fatalf("report %+v", r)
	}
	if s := r.String(); !strings.Contains(s, "4 collections (1.0µs of CPU an event, 25% assists, 3.0 kB allocated an event, 350 MB scannable), ") {
		t.Errorf("report %q lacks the collector's figures", s)
	}
	a.hasGCCPU, b.hasGCCPU = false, false
	r = LagReport{}
	r.gc(a, b)
	if s := r.String(); !strings.Contains(s, "4 collections (3.0 kB allocated an event, 350 MB scannable), ") {
		t.Errorf("report without CPU classes %q", s)
	}
	r = LagReport{}
	r.gc(b, b) // no event applied: nothing to divide by
	if r.AllocPerEvent != 0 || r.GCs != 0 || strings.Contains(r.String(), "collections") {
		t.Errorf("report of no events %+v", r)
	}
}

// TestCheckpointReport: the run's checkpoints, their mean pause and the
// mean of each part, largest first (three named), come from two scrapes of
// the server's histograms; a server without them reports none.
func TestCheckpointReport(t *testing.T) {
	scrape := func(pause, count, profiles, segments, recommend, journeys float64) lagGauges {
		t.Helper()
		text := fmt.Sprintf(`# TYPE tailor_checkpoint_pause_seconds histogram
tailor_checkpoint_pause_seconds_bucket{le="+Inf"} %[2]g
tailor_checkpoint_pause_seconds_sum %[1]g
tailor_checkpoint_pause_seconds_count %[2]g
tailor_checkpoint_part_seconds_sum{part="profiles"} %[3]g
tailor_checkpoint_part_seconds_count{part="profiles"} %[2]g
tailor_checkpoint_part_seconds_sum{part="segments"} %[4]g
tailor_checkpoint_part_seconds_sum{part="recommend"} %[5]g
tailor_checkpoint_part_seconds_sum{part="journeys"} %[6]g
`, pause, count, profiles, segments, recommend, journeys)
		g, err := parseLag([]byte(text))
		if err != nil {
			t.Fatal(err)
		}
		return g
	}
	a := scrape(1, 10, 0.6, 0.2, 0.1, 0.01)
	b := scrape(2.7, 30, 1.8, 0.5, 0.3, 0.02)
	var r LagReport
	r.checkpoints(a, b)
	if r.Checkpoints != 20 || r.CheckpointPause != 85*time.Millisecond {
		t.Fatalf("%v checkpoints, mean pause %v; want 20, 85ms", r.Checkpoints, r.CheckpointPause)
	}
	want := "20 checkpoints paused the processor 85.0ms on average (profiles 60.0ms, segments 15.0ms, recommend 10.0ms), "
	if s := r.String(); !strings.Contains(s, want) {
		t.Errorf("report %q lacks %q", s, want)
	}
	var none LagReport
	none.checkpoints(lagGauges{}, lagGauges{})
	if s := none.String(); strings.Contains(s, "checkpoints") {
		t.Errorf("a server without the figures: %q", s)
	}
}

// TestStoreJobsReport: the stores' flushes and compactions between two
// readings are reported by store and kind, busiest first, jobs that did
// nothing left out; a server without the series gets no such part.
func TestStoreJobsReport(t *testing.T) {
	reading := func(logFlush, logComp, stateComp, flushes, comps float64) lagGauges {
		g, err := parseLag([]byte(fmt.Sprintf(`tailor_processor_lag_events 0
tailor_store_background_seconds_total{job="flush",store="log"} %g
tailor_store_background_seconds_total{job="compaction",store="log"} %g
tailor_store_background_seconds_total{job="flush",store="state"} 1
tailor_store_background_seconds_total{job="compaction",store="state"} %g
tailor_store_background_jobs_total{job="flush",store="log"} %g
tailor_store_background_jobs_total{job="compaction",store="log"} %g
tailor_store_background_jobs_total{job="flush",store="state"} 2
tailor_store_background_jobs_total{job="compaction",store="state"} 3
`, logFlush, logComp, stateComp, flushes, comps)))
		if err != nil {
			t.Fatal(err)
		}
		return g
	}
	before, after := reading(10, 20, 4, 5, 50), reading(15, 23.5, 4.5, 7, 60)
	if !after.hasWork || after.work != 15+23.5+1+4.5 {
		t.Fatalf("parsed work %v (%v)", after.work, after.hasWork)
	}
	r := &LagReport{Drained: true}
	r.counters(before, after)
	want := "store jobs until drained log flush 2 (5.0s), log compaction 10 (3.5s), state compaction 0 (0.5s), "
	if s := r.String(); !strings.Contains(s, want) {
		t.Errorf("report %q lacks %q", s, want)
	}
	var none LagReport
	none.counters(lagGauges{}, after)
	if s := none.String(); strings.Contains(s, "store jobs") {
		t.Errorf("report of a server without the series: %q", s)
	}
}

// TestBusySeconds: each second of a run is filed by the stores' work
// between the last two readings, and the report gives each set's p99.
func TestBusySeconds(t *testing.T) {
	second := func(d time.Duration) *HistSnapshot {
		var h Histogram
		for range 100 {
			h.Record(d)
		}
		return h.Snapshot()
	}
	t0 := time.Unix(1_000, 0)
	l := &lagSampler{n: 1}
	if got := l.file(second(time.Millisecond)); got != "lag 0.00s (0 events)" {
		t.Fatalf("one reading: %q", got) // no rate yet: the second is not filed
	}
	for i, tc := range []struct {
		work    float64 // job-seconds since the reading before
		latency time.Duration
		want    string
	}{
		{0, 20 * time.Millisecond, "store jobs 0.0s/s"},
		{2.4, 300 * time.Millisecond, "store jobs 2.4s/s"},
		{0.1, 30 * time.Millisecond, "store jobs 0.1s/s"}, // a table moved: not busy
		{1, 150 * time.Millisecond, "store jobs 1.0s/s"},
	} {
		l.prev = l.last
		l.last = lagGauges{hasWork: true, work: l.prev.work + tc.work, at: t0.Add(time.Duration(i+1) * time.Second)}
		if i == 0 {
			l.prev = lagGauges{hasWork: true, at: t0}
		}
		if got := l.file(second(tc.latency)); !strings.HasSuffix(got, tc.want) {
			t.Errorf("second %d: %q, want it to end in %q", i, got, tc.want)
		}
	}
	r := &LagReport{Drained: true}
	l.split(r)
	if r.BusySeconds != 2 || r.CalmSeconds != 2 {
		t.Fatalf("busy %d, calm %d seconds; want 2 and 2", r.BusySeconds, r.CalmSeconds)
	}
	if r.BusyP99 < 290*time.Millisecond || r.BusyP99 > 310*time.Millisecond || r.CalmP99 < 29*time.Millisecond || r.CalmP99 > 31*time.Millisecond {
		t.Fatalf("busy p99 %v, calm p99 %v; want about 300ms and 30ms", r.BusyP99, r.CalmP99)
	}
	if s := r.String(); !strings.Contains(s, "seconds with store jobs running 2 of 4 (ack p99 ") {
		t.Errorf("report %q lacks the split", s)
	}
}

// TestProgressReadsAtTheTick: each progress line takes its own reading, so
// the work beside a second is the work done since the line before; a
// second whose reading failed is not filed.
func TestProgressReadsAtTheTick(t *testing.T) {
	var work atomic.Int64 // job-seconds the fake server reports
	var fail atomic.Bool
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if fail.Load() {
			http.Error(w, "down", http.StatusServiceUnavailable)
			return
		}
		fmt.Fprintf(w, "tailor_processor_lag_events 0\ntailor_store_background_seconds_total{job=\"flush\",store=\"log\"} %d\n", work.Load())
	}))
	defer srv.Close()
	l := newLagSampler(srv.URL)
	ctx := context.Background()
	var h Histogram
	h.Record(time.Millisecond)
	sec := h.Snapshot()

	l.progress(ctx, sec) // the first reading: nothing to compare with
	work.Add(1000)       // a job ran between two ticks
	if got := l.progress(ctx, sec); !strings.Contains(got, "store jobs") {
		t.Fatalf("second line %q lacks the stores' work", got)
	}
	l.progress(ctx, sec) // no work since the line before
	fail.Store(true)
	l.progress(ctx, sec)
	r := &LagReport{}
	l.split(r)
	if r.BusySeconds != 1 || r.CalmSeconds != 1 {
		t.Fatalf("busy %d, calm %d seconds; want 1 and 1 (the first and the failed reading's not filed)", r.BusySeconds, r.CalmSeconds)
	}
}

// TestProgressCheckpointPause: a second in which checkpoints paused the
// processor says for how long; one without says nothing of them.
func TestProgressCheckpointPause(t *testing.T) {
	reading := func(pause float64) lagGauges {
		return gauges(t, "tailor_checkpoint_pause_seconds_sum %g\ntailor_checkpoint_pause_seconds_count 3\n", pause)
	}
	checkSecond(t, reading(1.5), reading(1.73), "  checkpoints paused 230.0ms", "checkpoints")
}

// TestWriteStalls: the stores' write stalls are read from the server's
// counters; a second in which writes stalled says for how long, and the
// report gives the run's count and time (none as "write stalls 0"); a
// server without the counters gets neither.
func TestWriteStalls(t *testing.T) {
	reading := func(n, secs float64, at time.Time) lagGauges {
		g := gauges(t, "tailor_store_write_stalls_total %g\ntailor_store_write_stall_seconds_total %g\n", n, secs)
		g.at = at
		return g
	}
	t0 := time.Unix(1_000, 0)
	a, b := reading(3, 1.5, t0), reading(5, 1.92, t0.Add(time.Second))
	if !a.hasStalls || a.stalls != 3 || a.stalled != 1.5 {
		t.Fatalf("parsed %+v, want 3 stalls, 1.5 s", a)
	}
	checkSecond(t, a, b, "writes stalled 420.0ms", "stalled")
	checkReport(t, "stall", []reportCase{
		{"stalls during the run", a, b, "write stalls 2 (0.42s in all), "},
		{"none", b, b, "write stalls 0, "},
		{"an old server", lagGauges{}, lagGauges{}, ""},
	})
}

// checkSecond checks that a second's line after readings a and b ends
// with clause, and that one without a change (b, b) holds no key.
func checkSecond(t *testing.T, a, b lagGauges, clause, key string) {
	t.Helper()
	l := &lagSampler{n: 2, prev: a, last: b}
	if got := l.file(nil); !strings.HasSuffix(got, clause) {
		t.Errorf("a second with it: %q, want it to end with %q", got, clause)
	}
	l.prev = b
	if got := l.file(nil); strings.Contains(got, key) {
		t.Errorf("a second without: %q", got)
	}
}

// gauges parses a reading of the lag gauges (zero) and the series format
// and args print.
func gauges(t *testing.T, format string, args ...any) lagGauges {
	t.Helper()
	g, err := parseLag(fmt.Appendf([]byte("tailor_processor_lag_events 0\n"), format, args...))
	if err != nil {
		t.Fatal(err)
	}
	return g
}

// reportCase is a run's readings before and after, and the clause its
// report must hold ("" for none).
type reportCase struct {
	name string
	a, b lagGauges
	want string
}

// checkReport checks each case's report: its clause, or for "" no word
// key.
func checkReport(t *testing.T, key string, cases []reportCase) {
	t.Helper()
	for _, tc := range cases {
		r := &LagReport{Drained: true}
		r.counters(tc.a, tc.b)
		s := r.String()
		if tc.want == "" && strings.Contains(s, key) || tc.want != "" && !strings.Contains(s, tc.want) {
			t.Errorf("%s: report %q, want %q", tc.name, s, tc.want)
		}
	}
}

// TestProgressCollections: a second in which collections ended says how
// many and the collector's CPU since the reading before; one without says
// nothing of them.
func TestProgressCollections(t *testing.T) {
	reading := func(n, cpu float64) lagGauges {
		return gauges(t, "go_gc_duration_seconds_count %g\ngo_cpu_classes_gc_total_cpu_seconds_total %g\n", n, cpu)
	}
	checkSecond(t, reading(7, 12.5), reading(8, 13.35), "  collections ended 1 (850.0ms of CPU)", "collections")
}

// TestPacedJobs: the time the stores' jobs slept to keep to their duty is
// summed over the jobs' labels; a second in which they slept says how
// long, the report gives the run's total, and a server without the
// counter gets neither.
func TestPacedJobs(t *testing.T) {
	reading := func(flush, compaction float64) lagGauges {
		return gauges(t, "tailor_store_paced_seconds_total{job=\"flush\"} %g\ntailor_store_paced_seconds_total{job=\"compaction\"} %g\n", flush, compaction)
	}
	a, b := reading(1, 0.5), reading(1.2, 0.8)
	if !a.hasPaced || a.paced != 1.5 {
		t.Fatalf("parsed %+v, want 1.5 s paced", a)
	}
	checkSecond(t, a, b, "jobs paced 500.0ms", "paced")
	checkReport(t, "paced", []reportCase{
		{"paced during the run", a, b, "store jobs paced 0.50s, "},
		{"none", b, b, "store jobs paced 0.00s, "},
		{"an old server", lagGauges{}, lagGauges{}, ""},
	})
}

func TestGrewBy(t *testing.T) {
	for _, tc := range []struct {
		name string
		ok   bool
		a, b float64
		want string
	}{
		{"grew", true, 1.5, 1.73, "  x 230.0ms"},
		{"the same", true, 1.5, 1.5, ""},
		{"fell (a restarted server)", true, 1.5, 0.2, ""},
		{"not exported", false, 1.5, 1.73, ""},
	} {
		if got := grewBy("x", tc.ok, tc.a, tc.b); got != tc.want {
			t.Errorf("%s: %q, want %q", tc.name, got, tc.want)
		}
	}
}
