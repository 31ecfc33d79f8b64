package journey

import (
	"slices"
	"time"
)

// Stats are a journey's figures since it was created, over all versions.
type Stats struct {
	Entered uint64 `json:"entered"`
	// HeldOut counts entrants kept out of the steps (journey and global
	// holdout); their conversions are counted apart, as the control group.
	HeldOut          uint64                `json:"held_out"`
	Exited           uint64                `json:"exited"`
	Converted        uint64                `json:"converted"`
	Revenue          float64               `json:"revenue"`
	HeldOutConverted uint64                `json:"held_out_converted"`
	HeldOutRevenue   float64               `json:"held_out_revenue"`
	Steps            map[string]*StepStats `json:"steps"`
	Days             map[string]*DayStats  `json:"days"`
}

// StepStats are one step's figures. Waiting is how many runs wait at the
// step now; Converted and Revenue are the conversions whose last message
// this step sent.
type StepStats struct {
	Entered   uint64  `json:"entered"`
	Waiting   int64   `json:"waiting"`
	Sent      uint64  `json:"sent"`
	Converted uint64  `json:"converted"`
	Revenue   float64 `json:"revenue"`
}

// DayStats are one UTC day's figures.
type DayStats struct {
	Entered   uint64  `json:"entered"`
	Sent      uint64  `json:"sent"`
	Converted uint64  `json:"converted"`
	Revenue   float64 `json:"revenue"`
}

// maxDays bounds the days kept per journey.
const maxDays = 400

func newStats() *Stats {
	return &Stats{Steps: make(map[string]*StepStats), Days: make(map[string]*DayStats)}
}

func (s *Stats) step(id string) *StepStats {
	ss := s.Steps[id]
	if ss == nil {
		ss = &StepStats{}
		s.Steps[id] = ss
	}
	return ss
}

func (s *Stats) day(t time.Time) *DayStats {
	k := t.UTC().Format(time.DateOnly)
	d := s.Days[k]
	if d == nil {
		if len(s.Days) >= maxDays {
			keys := make([]string, 0, len(s.Days))
			for k := range s.Days {
				keys = append(keys, k)
			}
			slices.Sort(keys)
			delete(s.Days, keys[0])
		}
		d = &DayStats{}
		s.Days[k] = d
	}
	return d
}

// clone copies s for a reader outside the engine's lock.
func (s *Stats) clone() *Stats {
	c := *s
	c.Steps = make(map[string]*StepStats, len(s.Steps))
	for k, v := range s.Steps {
		x := *v
		c.Steps[k] = &x
	}
	c.Days = make(map[string]*DayStats, len(s.Days))
	for k, v := range s.Days {
		x := *v
		c.Days[k] = &x
	}
	return &c
}
