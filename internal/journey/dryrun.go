package journey

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"tailor/internal/event"
	"tailor/internal/eventlog"
	"tailor/internal/profile"
)

// DryRunResult is what a journey would have done over the log's last days.
type DryRunResult struct {
	Journey    string    `json:"journey"`
	Version    int       `json:"version"`
	Days       int       `json:"days"`
	From       time.Time `json:"from"`
	To         time.Time `json:"to"`
	EventsRead int       `json:"events_read"`
	// FromSeq is the log position the run started after (found from the
	// receive times) and EntriesScanned the entries it read from there.
	FromSeq        uint64  `json:"from_seq"`
	EntriesScanned int     `json:"entries_scanned"`
	Entered        uint64  `json:"entered"`
	HeldOut        uint64  `json:"held_out"`
	Converted      uint64  `json:"converted"`
	Revenue        float64 `json:"revenue"`
	// Steps counts the runs that reached each step; Waiting those still
	// waiting at the end.
	Steps    map[string]uint64 `json:"steps"`
	Waiting  int64             `json:"waiting"`
	Messages map[string]int    `json:"messages"` // by channel
}

// LogReader is the event log as a dry run reads it. A reader that also
// has LastSeq() uint64 (the embedded log) is read from about the cut-off
// on; another is read whole.
type LogReader interface {
	ReplayAll(ctx context.Context, after uint64, fn func(eventlog.Entry) error) error
}

// receiveSlack is how much earlier than the window a dry run starts to
// read, by receive time: seqs are assigned after the receive time is
// stamped, so receive times are in seq order only to within the time a
// request waits for the log's writer.
const receiveSlack = time.Hour

// startAfter returns the seq after which the entries received at or after
// cut are: a binary search over seq, each probe the first entry after a
// seq (a seek per partition), so about log2(last seq) probes instead of a
// read of the whole log. 0 when src cannot tell its last seq.
func startAfter(ctx context.Context, src LogReader, cut time.Time) (uint64, error) {
	ls, ok := src.(interface{ LastSeq() uint64 })
	if !ok {
		return 0, nil
	}
	errFound := errors.New("found")
	// probe reports whether the first entry after seq a was received at
	// or after cut (true when there is none).
	probe := func(a uint64) (bool, error) {
		late := true
		err := src.ReplayAll(ctx, a, func(en eventlog.Entry) error {
			if ev, err := event.DecodeStored(en.Value); err == nil {
				late = !ev.ReceivedAt.Before(cut)
			}
			return errFound
		})
		if err != nil && !errors.Is(err, errFound) {
			return false, err
		}
		return late, nil
	}
	lo, hi := uint64(0), ls.LastSeq()
	for lo < hi {
		mid := lo + (hi-lo)/2
		late, err := probe(mid)
		if err != nil {
			return 0, err
		}
		if late {
			hi = mid
		} else {
			lo = mid + 1
		}
	}
	return lo, nil
}

// Owners resolves an event to the profile that now holds it.
type Owners interface {
	Owner(e *event.Event) (string, bool)
}

// DryRun replays the events of the last days (by event time) through a sandboxed
// engine running only j (as if live): timers fire in event time, sends
// are counted, nothing is sent, recorded or stored. Branch rules are
// evaluated on the profiles as they are now.
func DryRun(ctx context.Context, j *Journey, days int, src LogReader, owners Owners, base Options) (*DryRunResult, error) {
	now := time.Now()
	if base.Now != nil {
		now = base.Now()
	}
	from := now.Add(-time.Duration(days) * 24 * time.Hour)
	sb := New(Options{Segments: base.Segments, Profiles: base.Profiles, Event: base.Event, Now: func() time.Time { return now },
		GlobalHoldout: base.GlobalHoldout, Experiments: base.Experiments})
	sb.counting = map[string]int{}
	def := *j
	def.Status = StatusLive
	def.Version = max(def.Version, 1)
	js := sb.install(&def)
	res := &DryRunResult{Journey: j.ID, Version: def.Version, Days: days, From: from, To: now, Messages: sb.counting, Steps: map[string]uint64{}}
	var schedule []int64
	if t := def.Trigger; t.Type == TriggerSchedule {
		schedule = firings(t, from, now)
	}
	fire := func(at time.Time) {
		for len(schedule) > 0 && schedule[0] <= at.Unix() {
			f := schedule[0]
			schedule = schedule[1:]
			sb.mu.Lock()
			sb.broadcast(js, &event.Event{Seq: uint64(f)}, time.Unix(f, 0))
			sb.mu.Unlock()
		}
		sb.fireDirect(at)
	}
	// Only the log's tail can hold the window's events: one received
	// before the window happened before it too (an event's time is at
	// most its receipt, short of a client clock running ahead by more
	// than the slack, whose event is then left out).
	after, err := startAfter(ctx, src, from.Add(-receiveSlack))
	if err != nil {
		return nil, fmt.Errorf("dry run: find the log position of %s: %w", from.Format(time.RFC3339), err)
	}
	res.FromSeq = after
	err = src.ReplayAll(ctx, after, func(en eventlog.Entry) error {
		res.EntriesScanned++
		ev, err := event.DecodeStored(en.Value)
		if err != nil {
			return nil
		}
		// Event time, not receipt: an imported history was received at
		// once but happened over months. The sandbox's clock follows it.
		at := ev.Timestamp
		if at.IsZero() {
			at = ev.ReceivedAt
		}
		if at.Before(from) || at.After(now) {
			return nil
		}
		ev.ReceivedAt = at
		if ev.SourceID == internalSource && strings.HasPrefix(ev.Event, "Journey ") {
			return nil // the live engine's own events
		}
		ev.Partition, ev.Seq = en.Partition, en.Seq
		res.EventsRead++
		fire(ev.ReceivedAt)
		id, ok := owners.Owner(&ev)
		if !ok {
			return nil
		}
		sb.Apply(&ev, profile.Resolution{Profile: id})
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("dry run: read the log: %w", err)
	}
	fire(now)
	st := js.stats
	res.Entered, res.HeldOut, res.Converted, res.Revenue = st.Entered, st.HeldOut, st.Converted, st.Revenue
	for id, ss := range st.Steps {
		res.Steps[id] = ss.Entered
		res.Waiting += ss.Waiting
	}
	return res, nil
}

// firings lists a schedule's firings in (from, to].
func firings(t Trigger, from, to time.Time) []int64 {
	at, err := time.Parse(time.RFC3339, t.At)
	if err != nil {
		return nil
	}
	var out []int64
	d, _ := duration(t.Every)
	for ; !at.After(to) && len(out) < 10000; at = at.Add(d) {
		if at.After(from) {
			out = append(out, at.Unix())
		}
		if d == 0 {
			break
		}
	}
	return out
}

// fireDirect acts on the timers due at at without going through the log
// (a dry run's sandbox has none).
func (e *Engine) fireDirect(at time.Time) {
	e.mu.Lock()
	defer e.mu.Unlock()
	type due struct {
		js          *jstate
		k           runKey
		entry, step string
		at          uint32
	}
	for {
		var list []due
		e.due(at, func(js *jstate, k runKey, rn *run, c *compiled) {
			r := timerRecord(js, k, rn, c)
			list = append(list, due{js, k, r.Properties["entry"].(string), r.Properties["step"].(string), rn.due})
		})
		if len(list) == 0 {
			return
		}
		for _, d := range list {
			e.onTimer(d.js, d.k, d.entry, d.step, d.at, time.Unix(int64(d.at), 0))
		}
	}
}
