package server

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"tailor/internal/event"
	"tailor/internal/profile"
	"tailor/internal/segment"
)

var (
	identityConflictsDesc = prometheus.NewDesc("tailor_identity_conflicts_total",
		"Events whose identifiers named profiles of different userIds (nothing merged) since start.", nil, nil)
	identityUnlinkedDesc = prometheus.NewDesc("tailor_identity_unlinked_total",
		"Identifiers or merges refused by the identity rules since start, by reason: limit_<kind> (the profile holds the most of that kind it may), "+
			"untrusted (email or phone from a client source), max_identities (the profile would exceed the cap), alias_refused (a client alias between two users).",
		[]string{"reason"}, nil)
	identityAliasMergesDesc = prometheus.NewDesc("tailor_identity_alias_merges_total",
		"Profiles merged by an alias since start.", nil, nil)
	profileLimitedDesc = prometheus.NewDesc("tailor_profile_limited_total",
		"Writes the per-profile limits kept out since start, by limit: traits (500 keys), trait_size (1 KB key, 4 KB value), "+
			"event_names (500 distinct), categories (500 distinct).", []string{"limit"}, nil)
)

// identityCollector exports the profile store's identity and per-profile
// limit counters, read once per scrape.
type identityCollector struct{ store *profile.Store }

func (c identityCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- identityConflictsDesc
	ch <- identityUnlinkedDesc
	ch <- identityAliasMergesDesc
	ch <- profileLimitedDesc
}

func (c identityCollector) Collect(ch chan<- prometheus.Metric) {
	st := c.store.IdentityStats()
	ch <- prometheus.MustNewConstMetric(identityConflictsDesc, prometheus.CounterValue, float64(st.Conflicts))
	ch <- prometheus.MustNewConstMetric(identityAliasMergesDesc, prometheus.CounterValue, float64(st.AliasMerges))
	for _, k := range []event.Kind{event.KindUserID, event.KindAnonymousID, event.KindEmail, event.KindPhone} {
		ch <- prometheus.MustNewConstMetric(identityUnlinkedDesc, prometheus.CounterValue, float64(st.Limited[k]), "limit_"+string(k))
	}
	r := c.store.Refused()
	for limit, n := range map[string]int{"traits": r.Traits, "trait_size": r.TraitSize, "event_names": r.EventNames, "categories": r.Categories} {
		ch <- prometheus.MustNewConstMetric(profileLimitedDesc, prometheus.CounterValue, float64(n), limit)
	}
	for reason, n := range map[string]uint64{"untrusted": st.Untrusted, "max_identities": st.MaxIdentities, "alias_refused": st.AliasRefused} {
		ch <- prometheus.MustNewConstMetric(identityUnlinkedDesc, prometheus.CounterValue, float64(n), reason)
	}
}

var (
	segmentMembersDesc = prometheus.NewDesc("tailor_segment_members",
		"Members of each saved segment.", []string{"segment"}, nil)
	segmentTransitionsDesc = prometheus.NewDesc("tailor_segment_transitions_total",
		"Profiles that entered or exited a saved segment since start.", []string{"segment", "kind"}, nil)
	segmentEvaluationsDesc = prometheus.NewDesc("tailor_segment_evaluations_total",
		"Single-profile segment evaluations (after events and timers) since start.", nil, nil)
	segmentTimersDesc = prometheus.NewDesc("tailor_segment_timers",
		"Pending re-evaluations of time windows.", nil, nil)
	segmentIndexBytesDesc = prometheus.NewDesc("tailor_segment_index_bytes",
		"Memory held by the segment index (estimate).", nil, nil)
	segmentIndexEventsDesc = prometheus.NewDesc("tailor_segment_index_events",
		"Events in the segment index.", nil, nil)
)

// segmentCollector reports the segment engine's figures at scrape time.
type segmentCollector struct{ e *segment.Engine }

func (c segmentCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{segmentMembersDesc, segmentTransitionsDesc, segmentEvaluationsDesc, segmentTimersDesc, segmentIndexBytesDesc, segmentIndexEventsDesc} {
		ch <- d
	}
}

func (c segmentCollector) Collect(ch chan<- prometheus.Metric) {
	for _, s := range c.e.List() {
		ch <- prometheus.MustNewConstMetric(segmentMembersDesc, prometheus.GaugeValue, float64(s.Size), s.ID)
		ch <- prometheus.MustNewConstMetric(segmentTransitionsDesc, prometheus.CounterValue, float64(s.Entered), s.ID, "entered")
		ch <- prometheus.MustNewConstMetric(segmentTransitionsDesc, prometheus.CounterValue, float64(s.Exited), s.ID, "exited")
	}
	st := c.e.Stats()
	ch <- prometheus.MustNewConstMetric(segmentEvaluationsDesc, prometheus.CounterValue, float64(st.Evaluations))
	ch <- prometheus.MustNewConstMetric(segmentTimersDesc, prometheus.GaugeValue, float64(st.Timers))
	ch <- prometheus.MustNewConstMetric(segmentIndexBytesDesc, prometheus.GaugeValue, float64(st.Index.Bytes))
	ch <- prometheus.MustNewConstMetric(segmentIndexEventsDesc, prometheus.GaugeValue, float64(st.Index.Events))
}

var (
	lockWaitsDesc = prometheus.NewDesc("tailor_state_lock_waits_total",
		"Writes to a state the processor changes per event (or the admin API changes) that found its lock held, since start, by state.",
		[]string{"state"}, nil)
	lockWaitSecondsDesc = prometheus.NewDesc("tailor_state_lock_wait_seconds_total",
		"Time those writes waited for the lock since start, by state. A high rate means readers (delivery, decide, the admin API) hold the processor up.",
		[]string{"state"}, nil)
)

// lockWaiter is a state whose lock counts its writers' waits.
type lockWaiter interface {
	LockWaited() (uint64, time.Duration)
}

// lockCollector exports the lock waits of the states the processor writes.
type lockCollector map[string]lockWaiter

func (c lockCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- lockWaitsDesc
	ch <- lockWaitSecondsDesc
}

func (c lockCollector) Collect(ch chan<- prometheus.Metric) {
	for name, l := range c {
		n, d := l.LockWaited()
		ch <- prometheus.MustNewConstMetric(lockWaitsDesc, prometheus.CounterValue, float64(n), name)
		ch <- prometheus.MustNewConstMetric(lockWaitSecondsDesc, prometheus.CounterValue, d.Seconds(), name)
	}
}
