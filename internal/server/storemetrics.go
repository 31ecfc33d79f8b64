package server

import (
	"math"
	"time"

	"github.com/cockroachdb/pebble/v2"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"tailor/internal/store"
)

// storeCollector exports what the embedded stores spend: how many bytes
// each write costs again in flushes and compactions (write amplification,
// the largest CPU cost of ingest into a big store), and how well the block
// cache holds what reads need (--store-cache). Read once per scrape. Each
// series but the stalls' (counted for the process) has a store label:
// "log" or "state" (store.Stores), "shared" while the log still lives in
// the state's store. The stores share one block cache, whose series have
// no store label either.
type storeCollector struct{ stores *store.Stores }

var storeLabel = []string{"store"}

var (
	storeWALBytesDesc = prometheus.NewDesc("tailor_store_wal_bytes_total",
		"Bytes of batches written to the store's write-ahead log since start.", storeLabel, nil)
	storeFlushBytesDesc = prometheus.NewDesc("tailor_store_flush_bytes_total",
		"Bytes of sstables and blob files written by memtable flushes since start.", storeLabel, nil)
	storeCompactBytesDesc = prometheus.NewDesc("tailor_store_compaction_bytes_total",
		"Bytes of sstables and blob files written by compactions since start, by output level.", []string{"store", "level"}, nil)
	storeCacheHitsDesc = prometheus.NewDesc("tailor_store_cache_hits_total",
		"Block cache hits since start.", nil, nil)
	storeCacheMissesDesc = prometheus.NewDesc("tailor_store_cache_misses_total",
		"Block cache misses (blocks read from disk) since start.", nil, nil)
	storeCacheBytesDesc = prometheus.NewDesc("tailor_store_cache_bytes",
		"Bytes the block cache holds (at most --store-cache).", nil, nil)
	storeDiskBytesDesc = prometheus.NewDesc("tailor_store_disk_bytes",
		"Disk space the store uses.", storeLabel, nil)
	storeL0FilesDesc = prometheus.NewDesc("tailor_store_l0_files",
		"Sstables in level 0; many mean compaction is behind and reads slow down.", storeLabel, nil)
	storeReadAmpDesc = prometheus.NewDesc("tailor_store_read_amplification",
		"Sstables or sublevels a point read may consult.", storeLabel, nil)
	storeStallsDesc = prometheus.NewDesc("tailor_store_write_stalls_total",
		"Times the store stopped accepting writes until a flush or compaction caught up, since start; every acknowledgement waits meanwhile.", nil, nil)
	storeStallSecondsDesc = prometheus.NewDesc("tailor_store_write_stall_seconds_total",
		"Time the store's writes were stalled since start.", nil, nil)
	storeMemtablesDesc = prometheus.NewDesc("tailor_store_memtables",
		"Memtables the store holds: the one taking writes and those queued for a flush.", storeLabel, nil)
	storeZombieMemtablesDesc = prometheus.NewDesc("tailor_store_memtable_zombies",
		"Memtables already flushed but still held by an open iterator; the store cannot reuse their memory, so the next memtable is fresh memory (page faults on every write into it).", storeLabel, nil)
	storeJobSecondsDesc = prometheus.NewDesc("tailor_store_background_seconds_total",
		"Time the store's flushes (job=\"flush\") or compactions (job=\"compaction\") have run since start, a job under way up to the scrape; jobs running at once add up. Each uses a core for much of the time it runs.", []string{"store", "job"}, nil)
	storeJobsDesc = prometheus.NewDesc("tailor_store_background_jobs_total",
		"Flushes or compactions the store finished since start.", []string{"store", "job"}, nil)
	storeJobsRunningDesc = prometheus.NewDesc("tailor_store_background_jobs_running",
		"Flushes or compactions under way.", []string{"store", "job"}, nil)
	storePacedSecondsDesc = prometheus.NewDesc("tailor_store_paced_seconds_total",
		"Time the stores' flushes (job=\"flush\") or compactions (job=\"compaction\") have slept since start to keep to their share of the clock (--flush-duty, --compaction-duty).", []string{"job"}, nil)
	storeWALFsyncDesc = prometheus.NewDesc("tailor_store_wal_fsync_seconds",
		"Time each fsync of the store's write-ahead log took since start; every group commit, and so every acknowledgement, waits for one.", storeLabel, nil)
)

// walFsyncBounds are the upper bounds (seconds) tailor_store_wal_fsync_seconds
// reports: each is one of Pebble's own bounds (pebble.FsyncLatencyBuckets,
// in nanoseconds, 100 of them), so that the counts are exact, not
// interpolated; walFsyncBuckets picks the nearest.
var walFsyncBounds = walFsyncBuckets([]time.Duration{
	100 * time.Microsecond, 500 * time.Microsecond, time.Millisecond, 2 * time.Millisecond,
	5 * time.Millisecond, 10 * time.Millisecond, 25 * time.Millisecond, 50 * time.Millisecond,
	100 * time.Millisecond, 250 * time.Millisecond, 500 * time.Millisecond, time.Second,
	2500 * time.Millisecond, 5 * time.Second, 10 * time.Second,
})

// walFsyncBuckets returns, for each wanted bound, Pebble's bucket bound
// nearest to it, in nanoseconds, without repeats.
func walFsyncBuckets(want []time.Duration) []float64 {
	var out []float64
	for _, w := range want {
		best := math.Inf(1)
		for _, b := range pebble.FsyncLatencyBuckets {
			if math.Abs(b-float64(w)) < math.Abs(best-float64(w)) {
				best = b
			}
		}
		if len(out) == 0 || best > out[len(out)-1] {
			out = append(out, best)
		}
	}
	return out
}

// walFsyncHistogram converts Pebble's WAL fsync histogram (nanoseconds)
// to seconds on walFsyncBounds; ok is false when Pebble has none.
func walFsyncHistogram(h prometheus.Histogram) (count uint64, sum float64, buckets map[float64]uint64, ok bool) {
	if h == nil {
		return 0, 0, nil, false
	}
	var m dto.Metric
	if h.Write(&m) != nil || m.Histogram == nil {
		return 0, 0, nil, false
	}
	buckets = make(map[float64]uint64, len(walFsyncBounds))
	src := m.Histogram.GetBucket()
	for _, want := range walFsyncBounds {
		for _, b := range src {
			// Pebble's bounds are the same float64s as walFsyncBounds'.
			if b.GetUpperBound() == want {
				buckets[want/1e9] = b.GetCumulativeCount()
				break
			}
		}
	}
	return m.Histogram.GetSampleCount(), m.Histogram.GetSampleSum() / 1e9, buckets, true
}

func (c storeCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{storeWALBytesDesc, storeFlushBytesDesc, storeCompactBytesDesc, storeCacheHitsDesc,
		storeCacheMissesDesc, storeCacheBytesDesc, storeDiskBytesDesc, storeL0FilesDesc, storeReadAmpDesc,
		storeStallsDesc, storeStallSecondsDesc, storeWALFsyncDesc, storeMemtablesDesc, storeZombieMemtablesDesc,
		storeJobSecondsDesc, storeJobsDesc, storeJobsRunningDesc, storePacedSecondsDesc} {
		ch <- d
	}
}

func (c storeCollector) Collect(ch chan<- prometheus.Metric) {
	stalls, stalled := store.WriteStalls()
	ch <- prometheus.MustNewConstMetric(storeStallsDesc, prometheus.CounterValue, float64(stalls))
	ch <- prometheus.MustNewConstMetric(storeStallSecondsDesc, prometheus.CounterValue, stalled.Seconds())
	if p := c.stores.Pacer(); p != nil {
		for k, d := range p.Paused() {
			ch <- prometheus.MustNewConstMetric(storePacedSecondsDesc, prometheus.CounterValue, d.Seconds(), store.JobNames[k])
		}
	}
	c.stores.Each(func(name string, db *pebble.DB) error {
		if c.stores.Shared() {
			name = "shared"
		}
		m := db.Metrics()
		if db == c.stores.State { // the cache is shared: its series once
			ch <- prometheus.MustNewConstMetric(storeCacheHitsDesc, prometheus.CounterValue, float64(m.BlockCache.Hits))
			ch <- prometheus.MustNewConstMetric(storeCacheMissesDesc, prometheus.CounterValue, float64(m.BlockCache.Misses))
			ch <- prometheus.MustNewConstMetric(storeCacheBytesDesc, prometheus.GaugeValue, float64(m.BlockCache.Size))
		}
		collectStore(ch, name, m)
		if w := c.stores.Work(db); w != nil {
			collectWork(ch, name, w.Totals(time.Now()))
		}
		return nil
	})
}

func collectStore(ch chan<- prometheus.Metric, name string, m *pebble.Metrics) {
	counter := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, v, append([]string{name}, labels...)...)
	}
	gauge := func(d *prometheus.Desc, v float64) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, name)
	}
	counter(storeWALBytesDesc, float64(m.WAL.BytesIn))
	var flushed uint64
	for i := range m.Levels {
		// Blob files too, so that write amplification stays honest if value
		// separation is turned on (off today: docs/ARCHITECTURE.md).
		flushed += m.Levels[i].TableBytesFlushed + m.Levels[i].BlobBytesFlushed
		counter(storeCompactBytesDesc, float64(m.Levels[i].TableBytesCompacted+m.Levels[i].BlobBytesCompacted), levelName[i])
	}
	counter(storeFlushBytesDesc, float64(flushed))
	gauge(storeDiskBytesDesc, float64(m.DiskSpaceUsage()))
	gauge(storeL0FilesDesc, float64(m.Levels[0].TablesCount))
	gauge(storeReadAmpDesc, float64(m.ReadAmp()))
	gauge(storeMemtablesDesc, float64(m.MemTable.Count))
	gauge(storeZombieMemtablesDesc, float64(m.MemTable.ZombieCount))
	if n, sum, b, ok := walFsyncHistogram(m.LogWriter.FsyncLatency); ok {
		ch <- prometheus.MustNewConstHistogram(storeWALFsyncDesc, n, sum, b, name)
	}
}

// collectWork emits a store's background jobs' series.
func collectWork(ch chan<- prometheus.Metric, name string, jobs [len(store.JobNames)]store.JobTotals) {
	for k, t := range jobs {
		job := store.JobNames[k]
		ch <- prometheus.MustNewConstMetric(storeJobSecondsDesc, prometheus.CounterValue, t.Busy.Seconds(), name, job)
		ch <- prometheus.MustNewConstMetric(storeJobsDesc, prometheus.CounterValue, float64(t.Finished), name, job)
		ch <- prometheus.MustNewConstMetric(storeJobsRunningDesc, prometheus.GaugeValue, float64(t.Running), name, job)
	}
}

var levelName = [...]string{"0", "1", "2", "3", "4", "5", "6"}
