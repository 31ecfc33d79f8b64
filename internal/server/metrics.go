package server

import (
	"github.com/prometheus/client_golang/prometheus"

	"tailor/internal/event"
	"tailor/internal/profile"
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
