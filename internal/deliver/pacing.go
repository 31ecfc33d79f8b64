package deliver

import (
	"encoding/binary"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/cockroachdb/pebble/v2"

	"tailor/internal/store"
)

// Warmup is a sending domain's warm-up schedule: on day 1 at most First
// sends, each later day Factor times the day before.
type Warmup struct {
	First  int
	Factor float64
}

// ParseRate parses "email=100" (sends per second) into channel and rate.
func ParseRate(s string) (string, float64, error) {
	ch, n, ok := strings.Cut(s, "=")
	r, err := strconv.ParseFloat(n, 64)
	if !ok || ch == "" || err != nil || r <= 0 {
		return "", 0, fmt.Errorf("rate %q: want channel=sends per second, e.g. email=200", s)
	}
	return ch, r, nil
}

// ParseWarmup parses "email=500,x2": day 1 500 sends, doubling each day.
func ParseWarmup(s string) (string, Warmup, error) {
	ch, rest, ok := strings.Cut(s, "=")
	first, factor, ok2 := strings.Cut(rest, ",x")
	n, err1 := strconv.Atoi(first)
	f, err2 := strconv.ParseFloat(factor, 64)
	if !ok || !ok2 || ch == "" || err1 != nil || err2 != nil || n < 1 || f < 1 {
		return "", Warmup{}, fmt.Errorf("warm-up %q: want channel=first day's sends,xfactor, e.g. email=500,x2", s)
	}
	return ch, Warmup{First: n, Factor: f}, nil
}

// limit is the day's allowance, day 0 being the first.
func (w Warmup) limit(day int) int {
	l := float64(w.First)
	for range day {
		l *= w.Factor
		if l > 1e12 {
			break
		}
	}
	return int(l)
}

// Pacer paces each adapter: a token bucket of its rate and, with a warm-up
// schedule, a daily allowance whose counts are kept under oc/ so a restart
// does not restart the day.
type Pacer struct {
	DB     *pebble.DB
	Rates  map[string]float64 // sends per second per channel; absent: unpaced
	Warmup map[string]Warmup

	mu      sync.Mutex
	buckets map[string]*bucket
}

type bucket struct {
	tokens float64
	last   time.Time
}

// Reserve takes a send slot for channel at now and returns how long to
// wait for it. A wait longer than hold is not taken: the caller keeps the
// message queued until now+wait.
func (p *Pacer) Reserve(channel string, now time.Time, hold time.Duration) (time.Duration, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	w, warm := p.Warmup[channel]
	day := uint32(now.UTC().Unix() / 86400)
	var sent uint32
	if warm {
		start, n, err := p.warmState(channel, day)
		if err != nil {
			return 0, err
		}
		if int(n) >= w.limit(int(day-start)) {
			return time.Unix(int64(day+1)*86400, 0).Sub(now), nil
		}
		sent = n
	}
	wait := p.take(channel, now, hold)
	if warm && wait <= hold {
		// Counted when reserved, not when sent, so that workers reserving
		// at once cannot overrun the day; a send that then fails costs
		// the day one of its allowance.
		if err := p.DB.Set(warmKey(channel, "day", day), binary.BigEndian.AppendUint32(nil, sent+1), pebble.NoSync); err != nil {
			return 0, fmt.Errorf("deliver: count warm-up: %w", err)
		}
	}
	return wait, nil
}

// take takes a token of channel's bucket, or reports the wait for one
// (taking it only when the wait is within hold).
func (p *Pacer) take(channel string, now time.Time, hold time.Duration) time.Duration {
	r, ok := p.Rates[channel]
	if !ok {
		return 0
	}
	if p.buckets == nil {
		p.buckets = map[string]*bucket{}
	}
	b := p.buckets[channel]
	burst := max(1, r/10) // a tenth of a second of sends, so a start does not burst
	if b == nil {
		b = &bucket{tokens: burst, last: now}
		p.buckets[channel] = b
	}
	b.tokens = min(burst, b.tokens+now.Sub(b.last).Seconds()*r)
	b.last = now
	if b.tokens >= 1 {
		b.tokens--
		return 0
	}
	wait := time.Duration((1 - b.tokens) / r * float64(time.Second))
	if wait <= hold {
		b.tokens--
	}
	return wait
}

// Keys under oc/ start with a NUL, which no profile id does.
func warmKey(channel, what string, day uint32) []byte {
	k := []byte(store.PrefixCapCounter + "\x00warmup\x00" + channel + "\x00" + what)
	if what == "day" {
		k = binary.BigEndian.AppendUint32(append(k, 0), day)
	}
	return k
}

// warmState returns the warm-up's first day (recorded on first use) and
// the sends counted on day.
func (p *Pacer) warmState(channel string, day uint32) (uint32, uint32, error) {
	sk := warmKey(channel, "start", 0)
	start, err := readCount(p.DB, sk)
	if err != nil {
		return 0, 0, err
	}
	if start == 0 {
		start = day
		if err := p.DB.Set(sk, binary.BigEndian.AppendUint32(nil, day), pebble.Sync); err != nil {
			return 0, 0, fmt.Errorf("deliver: record warm-up start: %w", err)
		}
	}
	sent, err := readCount(p.DB, warmKey(channel, "day", day))
	return start, sent, err
}
