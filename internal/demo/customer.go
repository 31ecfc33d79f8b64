package demo

import (
	"math/rand/v2"
	"strconv"
	"time"
)

// Spend tiers.
const (
	tierLow = iota
	tierMid
	tierHigh
)

var tierNames = [3]string{"low", "mid", "high"}

// Lifecycle stages, as of Config.End.
const (
	stageNew      = iota // first seen in the last 30 days
	stageActive          // seen in the last 30 days, first seen before
	stageChurning        // last seen 30 to 180 days ago, activity fading
	stageLapsed          // last seen more than 180 days ago
)

var stageNames = [4]string{"new", "active", "churning", "lapsed"}

const (
	secondMs = int64(1000)
	minuteMs = 60 * secondMs
	hourMs   = 60 * minuteMs
	dayMs    = 24 * hourMs
)

// stageShare is the per-mille share of each stage, per tier: big spenders
// stay active more often.
var stageShare = [3][4]int{
	tierLow:  {90, 250, 230, 430},
	tierMid:  {80, 360, 240, 320},
	tierHigh: {60, 500, 230, 210},
}

// extraSessions is the mean number of sessions after the first, per tier,
// in tenths, before the stage multiplier.
var extraSessions = [3]int{tierLow: 5, tierMid: 15, tierHigh: 35}

// stageSessions scales extraSessions per stage, in percent.
var stageSessions = [4]int{stageNew: 40, stageActive: 130, stageChurning: 100, stageLapsed: 60}

// plan is everything about a customer that does not depend on what they do
// in a session: who they are, their tier and stage, when their sessions
// start and in which session they sign up. Customers() needs only the plan;
// Messages() plays the sessions out from a second random stream.
type plan struct {
	index               int
	tier, stage         int
	city                *city
	firstName, lastName string
	userID, email       string
	phone               string
	created             int64   // unix ms: sign-up, or first visit for visitors who never sign up
	sessions            []int64 // session starts, unix ms, ascending
	signup              int     // session index of the sign-up; -1: never identifies
	favs                [3]int  // favourite leaf categories
	nfav                int
	// loyal customers come back to replenish what they buy (extra
	// sessions, drawn last so that nothing else about the plan changes)
	// and re-buy the same products.
	loyal bool
}

// loyalPct is the per-cent share of loyal customers per tier, among those
// who sign up and stay (active or churning).
var loyalPct = [3]int{tierLow: 10, tierMid: 20, tierHigh: 35}

// replenishEvery is the mean time between a loyal customer's extra
// (replenishment) sessions.
const replenishEvery = 35 * dayMs

// Random streams of a customer. Each customer has two independent streams
// seeded from (Seed, index), so any customer can be generated alone.
const (
	streamPlan    = 0x706c_616e_0000_0001
	streamContent = 0x636f_6e74_656e_7402
)

func (g *Generator) seedCustomer(pcg *rand.PCG, stream uint64, index int) {
	pcg.Seed(mix(uint64(g.cfg.Seed)^stream), mix(uint64(index)^stream<<1))
}

// mix is SplitMix64's finalizer: it spreads nearby inputs over all 64 bits.
func mix(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ x>>30) * 0xbf58476d1ce4e5b9
	x = (x ^ x>>27) * 0x94d049bb133111eb
	return x ^ x>>31
}

// pickIndex draws an index with probability weights[i]/sum(weights).
func pickIndex(r *rand.Rand, weights []int) int {
	total := 0
	for _, w := range weights {
		total += w
	}
	x := r.IntN(total)
	for i, w := range weights {
		if x < w {
			return i
		}
		x -= w
	}
	return len(weights) - 1
}

// geometric draws a count with the given mean (in tenths) and cap.
func geometric(r *rand.Rand, meanTenths, limit int) int {
	// P(continue) = m/(1+m), in per-mille.
	q := 1000 * meanTenths / (10 + meanTenths)
	n := 0
	for n < limit && r.IntN(1000) < q {
		n++
	}
	return n
}

// makePlan fills p for customer index.
func (g *Generator) makePlan(p *plan, index int) {
	g.seedCustomer(&g.planPCG, streamPlan, index)
	r := g.planRand
	p.index = index
	p.tier = pickIndex(r, []int{550, 330, 120})
	p.stage = pickIndex(r, stageShare[p.tier][:])
	p.city = &cities[g.cityPick.pick(r)]
	pool := &namePools[p.city.names]
	p.firstName = pool.first[r.IntN(len(pool.first))]
	p.lastName = pool.last[r.IntN(len(pool.last))]
	n := strconv.Itoa(index + 1)
	p.userID = "user-" + n
	first, last := emailPart(p.firstName), emailPart(p.lastName)
	var local string
	switch x := r.IntN(10); {
	case x < 5:
		local = first + "." + last + n
	case x < 8:
		local = first[:1] + last + n
	default:
		local = first + "_" + last[:1] + n
	}
	switch x := r.IntN(20); {
	case x < 12:
		p.email = local + "@example.com"
	case x < 17:
		p.email = local + "@example.org"
	default:
		p.email = local + "@example.net"
	}
	// Phone numbers are identifiers: identity resolution merges profiles
	// that share one, so every customer gets a distinct number, derived
	// from its index by a bijection (7919 is coprime with 9e8), not drawn.
	local9 := 100_000_000 + index*7919%900_000_000
	if p.city.phone == "+1" {
		// NANP-shaped: area code 201..980, then seven digits.
		p.phone = "+1" + strconv.Itoa(201+local9%780) + strconv.Itoa(1_000_000+local9/780%9_000_000)
	} else {
		p.phone = p.city.phone + strconv.Itoa(local9)
	}
	p.nfav = 1 + r.IntN(3)
	for k := 0; k < p.nfav; k++ {
		p.favs[k] = int(g.leafPick.pick(r))
	}

	// Session count.
	mean := extraSessions[p.tier] * stageSessions[p.stage] / 100
	mean = mean * (5 + r.IntN(16)) / 10 // engagement: 0.5x to 2x
	limit := 80
	if p.stage == stageNew {
		limit = 5
	}
	ns := 1 + geometric(r, mean, limit-1)
	if (p.stage == stageActive || p.stage == stageChurning) && ns < 2 {
		ns = 2
	}

	// First and last visits, by stage.
	start, end, off := g.startMs, g.endMs, p.city.offset
	var firstT, lastT int64
	switch p.stage {
	case stageNew:
		firstT = g.sampleTime(r, end-30*dayMs+hourMs, end-3*hourMs, off)
		lastT = firstT
		if ns > 1 {
			lastT = g.sampleTime(r, firstT+hourMs, end-2*hourMs, off)
		}
	case stageActive:
		lastT = g.sampleTime(r, end-25*dayMs, end-2*hourMs, off)
		firstT = g.sampleTime(r, start, end-35*dayMs, off)
	case stageChurning:
		lastT = g.sampleTime(r, end-170*dayMs, end-35*dayMs, off)
		firstT = g.sampleTime(r, start, lastT-30*dayMs, off)
	default: // lapsed
		lastT = g.sampleTime(r, start+10*dayMs, end-190*dayMs, off)
		firstT = lastT
		if ns > 1 {
			firstT = g.sampleTime(r, max(start, lastT-400*dayMs), lastT-hourMs, off)
		}
	}
	if ns > 1 && lastT-firstT < int64(ns)*hourMs {
		ns = max(1, int((lastT-firstT)/hourMs))
	}
	p.sessions = append(p.sessions[:0], firstT)
	for k := 1; k < ns-1; k++ {
		var t int64
		if p.stage == stageChurning {
			t = g.sampleFading(r, firstT, lastT, off)
		} else {
			t = g.sampleTime(r, firstT, lastT, off)
		}
		p.sessions = append(p.sessions, t)
	}
	if ns > 1 {
		p.sessions = append(p.sessions, lastT)
	}
	// Insertion sort: a few dozen values at most.
	s := p.sessions
	for a := 1; a < len(s); a++ {
		for b := a; b > 0 && s[b] < s[b-1]; b-- {
			s[b], s[b-1] = s[b-1], s[b]
		}
	}

	// Sign-up: most sign up on the first visit, some later, some never.
	switch x := r.IntN(100); {
	case x < 14:
		p.signup = -1
	case x < 62 || ns == 1:
		p.signup = 0
	default:
		p.signup = 1 + r.IntN(ns-1)
	}
	p.created = p.sessions[max(p.signup, 0)]

	// Loyalty comes last: the draws above, and so the customer's row, do
	// not depend on it.
	p.loyal = p.signup >= 0 && (p.stage == stageActive || p.stage == stageChurning) && r.IntN(100) < loyalPct[p.tier]
	if !p.loyal {
		return
	}
	extra := min(int((lastT-firstT)/replenishEvery), 12)
	for k := 0; k < extra; k++ {
		t := g.sampleTime(r, firstT, lastT, off)
		i := len(p.sessions)
		p.sessions = append(p.sessions, t)
		for ; i > 0 && p.sessions[i] < p.sessions[i-1]; i-- {
			p.sessions[i], p.sessions[i-1] = p.sessions[i-1], p.sessions[i]
		}
	}
	// The sign-up stays the same visit.
	for i, t := range p.sessions {
		if t == p.created {
			p.signup = i
			break
		}
	}
}

// Customers calls fn for every customer's profile row (for CSV export), in
// customer order. Every customer has a row, including the ~14% who never
// identify on the website: their events carry only anonymous ids, as for a
// known customer who never logged in. CreatedAt is the sign-up time (the
// first visit for those who never sign up); the matching identify message
// carries the same created_at trait.
func (g *Generator) Customers(fn func(Customer) error) error {
	for i := 0; i < g.cfg.Customers; i++ {
		if err := fn(g.Customer(i)); err != nil {
			return err
		}
	}
	return nil
}

// Customer returns the profile row of customer index (0-based). It may be
// called from inside a Messages callback.
func (g *Generator) Customer(index int) Customer {
	p := &g.rowPlan
	g.makePlan(p, index)
	return Customer{
		UserID:    p.userID,
		Email:     p.email,
		FirstName: p.firstName,
		LastName:  p.lastName,
		Phone:     p.phone,
		Country:   p.city.country,
		City:      p.city.name,
		Timezone:  p.city.tz,
		Locale:    p.city.locale,
		CreatedAt: time.UnixMilli(p.created).UTC(),
		Tier:      tierNames[p.tier],
		Stage:     stageNames[p.stage],
	}
}
