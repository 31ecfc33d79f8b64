package deliver

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/fnv"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/cockroachdb/pebble/v2"

	"tailor/internal/outbox"
	"tailor/internal/store"
)

// Cap is a frequency cap: at most Max sends on Channel ("all": every
// channel) per Days UTC days, counted across journeys. Transactional sends
// are neither capped nor counted.
type Cap struct {
	Channel string
	Max     int
	Days    int
}

// ParseCap parses "email=3/7d" (also "all=5/1d" or "sms=1/24h"; hours
// round up to whole days, the counters' unit).
func ParseCap(s string) (Cap, error) {
	ch, rest, ok := strings.Cut(s, "=")
	n, win, ok2 := strings.Cut(rest, "/")
	if !ok || !ok2 || ch == "" {
		return Cap{}, fmt.Errorf("cap %q: want channel=N/period, e.g. email=3/7d", s)
	}
	max, err := strconv.Atoi(n)
	if err != nil || max < 1 {
		return Cap{}, fmt.Errorf("cap %q: the count must be a whole number ≥ 1", s)
	}
	var days int
	switch {
	case strings.HasSuffix(win, "d"):
		days, err = strconv.Atoi(strings.TrimSuffix(win, "d"))
	case strings.HasSuffix(win, "h"):
		var h int
		h, err = strconv.Atoi(strings.TrimSuffix(win, "h"))
		days = (h + 23) / 24
	default:
		err = errors.New("no unit")
	}
	if err != nil || days < 1 || days > 366 {
		return Cap{}, fmt.Errorf("cap %q: the period must be 1d to 366d (or hours), e.g. 7d", s)
	}
	return Cap{Channel: ch, Max: max, Days: days}, nil
}

// QuietHours is a daily window, in each profile's time zone, in which
// marketing sends wait. Start after End wraps midnight (21:00-08:00).
type QuietHours struct {
	Start, End int // minutes after midnight
}

// ParseQuietHours parses "21:00-08:00".
func ParseQuietHours(s string) (QuietHours, error) {
	a, b, ok := strings.Cut(s, "-")
	if !ok {
		return QuietHours{}, fmt.Errorf("quiet hours %q: want HH:MM-HH:MM, e.g. 21:00-08:00", s)
	}
	start, err1 := parseClock(a)
	end, err2 := parseClock(b)
	if err := errors.Join(err1, err2); err != nil || start == end {
		return QuietHours{}, fmt.Errorf("quiet hours %q: want two different times HH:MM-HH:MM, e.g. 21:00-08:00", s)
	}
	return QuietHours{Start: start, End: end}, nil
}

func parseClock(s string) (int, error) {
	t, err := time.Parse("15:04", strings.TrimSpace(s))
	if err != nil {
		return 0, err
	}
	return t.Hour()*60 + t.Minute(), nil
}

// until returns when the quiet window that holds t ends, or zero when t is
// not quiet, with t in the profile's zone.
func (q QuietHours) until(t time.Time) time.Time {
	m := t.Hour()*60 + t.Minute()
	quiet := q.Start <= m && m < q.End
	if q.Start > q.End {
		quiet = m >= q.Start || m < q.End
	}
	if !quiet {
		return time.Time{}
	}
	end := time.Date(t.Year(), t.Month(), t.Day(), q.End/60, q.End%60, 0, 0, t.Location())
	if !end.After(t) {
		end = time.Date(t.Year(), t.Month(), t.Day()+1, q.End/60, q.End%60, 0, 0, t.Location())
	}
	return end
}

// Decision is the policy engine's verdict on one message.
type Decision struct {
	Action string    // "send", "defer", "suppress" or "drop"
	Reason string    // consent's reason, "holdout", "frequency_cap", "quiet_hours"
	Until  time.Time // for defer
}

// Policy is the send-policy engine. Its counters live under oc/.
type Policy struct {
	DB      *pebble.DB
	Consent Consent // nil allows every send
	// HoldoutPercent of profiles (by a hash of the profile id, so the same
	// profiles every time) never get journey messages.
	HoldoutPercent float64
	Caps           []Cap
	Quiet          *QuietHours
	// Timezone returns a profile's IANA time zone ("" for none: Local).
	Timezone func(profile string) string
	Local    *time.Location

	mu      sync.Mutex
	pending map[string]int // sends allowed by a cap but not yet counted
	zones   sync.Map       // zone name → *time.Location (nil: unknown)
}

// Holdout reports whether profile is in the global holdout group.
func (p *Policy) Holdout(profile string) bool {
	if p.HoldoutPercent <= 0 {
		return false
	}
	h := fnv.New64a()
	h.Write([]byte(profile))
	return float64(h.Sum64()%10000) < p.HoldoutPercent*100
}

// Check decides rec's fate at now. A "send" verdict of a marketing message
// reserves its place under the caps until Counted or Unreserve.
func (p *Policy) Check(rec *outbox.Record, now time.Time) (Decision, error) {
	if p.Consent != nil {
		if ok, why := p.Consent.Allowed(rec.Profile, rec.Channel, rec.Purpose); !ok {
			if why == "" {
				why = "no_consent"
			}
			return Decision{Action: "suppress", Reason: why}, nil
		}
	}
	if rec.Journey != "" && p.Holdout(rec.Profile) {
		return Decision{Action: "suppress", Reason: "holdout"}, nil
	}
	if rec.Purpose == outbox.PurposeTransactional {
		return Decision{Action: "send"}, nil
	}
	policyAction := "defer"
	if rec.OnPolicy == outbox.PolicyDrop {
		policyAction = "drop"
	}
	if p.Quiet != nil {
		if until := p.Quiet.until(now.In(p.zone(rec.Profile))); !until.IsZero() {
			return Decision{Action: policyAction, Reason: "quiet_hours", Until: until.UTC()}, nil
		}
	}
	if len(p.Caps) == 0 {
		return Decision{Action: "send"}, nil
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range p.Caps {
		if c.Channel != "all" && c.Channel != rec.Channel {
			continue
		}
		n, oldest, err := p.count(rec.Profile, c.Channel, c.Days, now)
		if err != nil {
			return Decision{}, err
		}
		if n+p.pending[pendKey(rec.Profile, c.Channel)] >= c.Max {
			if oldest.IsZero() {
				oldest = now.UTC().Truncate(24 * time.Hour) // only sends in flight today
			}
			until := oldest.AddDate(0, 0, c.Days)
			return Decision{Action: policyAction, Reason: "frequency_cap", Until: until}, nil
		}
	}
	if p.pending == nil {
		p.pending = map[string]int{}
	}
	for _, ch := range []string{rec.Channel, "all"} {
		p.pending[pendKey(rec.Profile, ch)]++
	}
	return Decision{Action: "send"}, nil
}

func pendKey(profile, channel string) string { return profile + "\x00" + channel }

// Unreserve gives back the reservation of a marketing send that was not
// made.
func (p *Policy) Unreserve(rec *outbox.Record) {
	if rec.Purpose == outbox.PurposeTransactional || len(p.Caps) == 0 {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, ch := range []string{rec.Channel, "all"} {
		k := pendKey(rec.Profile, ch)
		if p.pending[k]--; p.pending[k] <= 0 {
			delete(p.pending, k)
		}
	}
}

// Counted counts a marketing send that was made under the caps (its
// channel's counter and "all"), releasing its reservation. The write is not
// synced: the outbox's next sync carries it.
func (p *Policy) Counted(rec *outbox.Record, at time.Time) error {
	if rec.Purpose == outbox.PurposeTransactional || len(p.Caps) == 0 {
		return nil
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	day := uint32(at.UTC().Unix() / 86400)
	b := p.DB.NewBatch()
	defer b.Close()
	for _, ch := range []string{rec.Channel, "all"} {
		k := capKey(rec.Profile, ch, day)
		n, err := readCount(p.DB, k)
		if err != nil {
			return err
		}
		_ = b.Set(k, binary.BigEndian.AppendUint32(nil, n+1), nil)
		pk := pendKey(rec.Profile, ch)
		if p.pending[pk]--; p.pending[pk] <= 0 {
			delete(p.pending, pk)
		}
	}
	return b.Commit(pebble.NoSync)
}

func capKey(profile, channel string, day uint32) []byte {
	k := make([]byte, 0, len(store.PrefixCapCounter)+len(profile)+len(channel)+6)
	k = append(append(append(append(append(k, store.PrefixCapCounter...), profile...), 0), channel...), 0)
	return binary.BigEndian.AppendUint32(k, day)
}

func readCount(db *pebble.DB, k []byte) (uint32, error) {
	v, closer, err := db.Get(k)
	if errors.Is(err, pebble.ErrNotFound) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("deliver: read counter: %w", err)
	}
	defer closer.Close()
	if len(v) != 4 {
		return 0, nil
	}
	return binary.BigEndian.Uint32(v), nil
}

// count sums profile's sends on channel over the days UTC days up to now's,
// and returns the start of the oldest of those days that has sends.
func (p *Policy) count(profile, channel string, days int, now time.Time) (int, time.Time, error) {
	today := uint32(now.UTC().Unix() / 86400)
	first := today - uint32(days-1)
	it, err := p.DB.NewIter(&pebble.IterOptions{LowerBound: capKey(profile, channel, first), UpperBound: capKey(profile, channel, today+1)})
	if err != nil {
		return 0, time.Time{}, fmt.Errorf("deliver: read caps: %w", err)
	}
	defer it.Close()
	total := 0
	var oldest time.Time
	for it.First(); it.Valid(); it.Next() {
		k, v := it.Key(), it.Value()
		if len(v) != 4 || len(k) < 4 {
			continue
		}
		n := int(binary.BigEndian.Uint32(v))
		if n > 0 && oldest.IsZero() {
			oldest = time.Unix(int64(binary.BigEndian.Uint32(k[len(k)-4:]))*86400, 0).UTC()
		}
		total += n
	}
	return total, oldest, it.Error()
}

func (p *Policy) zone(profile string) *time.Location {
	local := p.Local
	if local == nil {
		local = time.Local
	}
	if p.Timezone == nil {
		return local
	}
	name := p.Timezone(profile)
	if name == "" {
		return local
	}
	if l, ok := p.zones.Load(name); ok {
		if l == nil {
			return local
		}
		return l.(*time.Location)
	}
	l, err := time.LoadLocation(name)
	if err != nil {
		p.zones.Store(name, nil)
		return local
	}
	p.zones.Store(name, l)
	return l
}
