package deliver

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Metrics are the delivery figures for Prometheus. A nil *Metrics measures
// nothing.
type Metrics struct {
	sends     *prometheus.CounterVec
	failures  *prometheus.CounterVec
	retries   *prometheus.CounterVec
	resends   *prometheus.CounterVec
	decisions *prometheus.CounterVec
	latency   *prometheus.HistogramVec
}

// NewMetrics registers the delivery metrics with reg; depth reports the
// outbox's queue depth and rates the configured pace per channel.
func NewMetrics(reg prometheus.Registerer, depth func() float64, rates map[string]float64) *Metrics {
	m := &Metrics{
		sends: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "tailor_deliver_sends_total",
			Help: "Messages accepted by their adapter, per channel; its rate is the adapter's send rate."}, []string{"channel"}),
		failures: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "tailor_deliver_failures_total",
			Help: "Messages failed for good (render errors, permanent adapter errors, retries exhausted), per channel."}, []string{"channel"}),
		retries: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "tailor_deliver_retries_total",
			Help: "Temporary adapter failures rescheduled with backoff, per channel."}, []string{"channel"}),
		resends: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "tailor_deliver_resends_after_crash_total",
			Help: "Messages found in sending after a crash and sent again with the same key, per channel."}, []string{"channel"}),
		decisions: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "tailor_deliver_decisions_total",
			Help: "Send-policy decisions: send, defer, suppress, drop, with their reason."}, []string{"decision", "reason"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "tailor_deliver_adapter_seconds",
			Help: "Time an adapter took to accept a message.", Buckets: prometheus.ExponentialBuckets(0.0005, 2, 14)}, []string{"channel"}),
	}
	reg.MustRegister(m.sends, m.failures, m.retries, m.resends, m.decisions, m.latency,
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "tailor_deliver_queue_depth",
			Help: "Messages in the outbox not yet final (queued or sending)."}, depth))
	pace := prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "tailor_deliver_pace_per_second",
		Help: "Configured send rate limit per channel (absent: unpaced)."}, []string{"channel"})
	for ch, r := range rates {
		pace.WithLabelValues(ch).Set(r)
	}
	reg.MustRegister(pace)
	return m
}

func (m *Metrics) sent(ch string, took time.Duration) {
	if m != nil {
		m.sends.WithLabelValues(ch).Inc()
		m.latency.WithLabelValues(ch).Observe(took.Seconds())
	}
}

func (m *Metrics) failure(ch string) {
	if m != nil {
		m.failures.WithLabelValues(ch).Inc()
	}
}

func (m *Metrics) retry(ch string) {
	if m != nil {
		m.retries.WithLabelValues(ch).Inc()
	}
}

func (m *Metrics) resend(ch string) {
	if m != nil {
		m.resends.WithLabelValues(ch).Inc()
	}
}

func (m *Metrics) decision(d, reason string) {
	if m != nil {
		if d == "suppress" && reason != "holdout" {
			reason = "consent" // consent reasons are free text; keep the label set small
		}
		m.decisions.WithLabelValues(d, reason).Inc()
	}
}
