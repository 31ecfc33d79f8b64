// Package demo generates a deterministic synthetic store: a product catalog,
// customer profiles and the Segment-spec messages those customers send over
// two years of history (analytics.js / analytics-node shapes: identify, track
// with the e-commerce spec v2 events, page, screen, alias, group).
//
// Determinism: the same Config gives byte-identical output on any machine.
// The catalog comes from its own random stream; every customer has two
// streams seeded from (Seed, customer index), one for who they are and when
// they visit (the plan, which Customers needs) and one for what they do
// (which Messages needs), so any customer can be generated on its own and
// customers are produced one after another with flat memory. No output
// depends on map iteration or on floating-point arithmetic.
package demo

import (
	"math/rand/v2"
	"time"
)

// Config sizes and seeds the synthetic store. Zero values get defaults.
type Config struct {
	Customers int       // default 1000; any count from 1 (tested up to 5,000,000; tailor demo allows 50,000,000)
	Seed      int64     // default 1
	End       time.Time // default 2026-11-01T00:00:00Z; history spans the 2 years before End (End after 1972)
	Products  int       // default 200 + Customers/50, capped at 20,000
}

// DefaultEnd is the default Config.End.
var DefaultEnd = time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)

// Customer is one customer's profile row, as exported to customers.csv.
type Customer struct {
	UserID, Email, FirstName, LastName, Phone, Country, City, Timezone, Locale string
	CreatedAt                                                                  time.Time
	Tier                                                                       string // low|mid|high
	Stage                                                                      string // new|active|churning|lapsed
}

// Generator produces the demo store for one Config. Its methods reuse
// internal buffers: a Generator must not be used by several goroutines at
// once (make one per goroutine; they are cheap, and MessagesRange splits the
// work).
type Generator struct {
	cfg            Config
	startMs, endMs int64 // history is [startMs, endMs), unix ms

	leaves   []leaf
	leafPick weighted // leaf categories by popularity
	products []product
	trending weighted // all products by popularity

	dayWeight []int64
	maxWeight int64

	cityPick weighted

	planPCG  rand.PCG
	planRand *rand.Rand
	plan     plan // the customer Messages is playing
	rowPlan  plan // the customer Customer returns
	sim      sim
	simPCG   rand.PCG
}

// New returns a generator for cfg with defaults filled in.
func New(cfg Config) *Generator {
	if cfg.Customers <= 0 {
		cfg.Customers = 1000
	}
	if cfg.Seed == 0 {
		cfg.Seed = 1
	}
	if cfg.End.IsZero() {
		cfg.End = DefaultEnd
	}
	cfg.End = cfg.End.UTC()
	if cfg.Products <= 0 {
		cfg.Products = min(200+cfg.Customers/50, 20000)
	}
	g := &Generator{
		cfg:     cfg,
		endMs:   cfg.End.UnixMilli(),
		startMs: cfg.End.AddDate(-2, 0, 0).UnixMilli(),
	}
	g.planRand = rand.New(&g.planPCG)
	g.sim = sim{g: g, r: rand.New(&g.simPCG), buf: make([]byte, 0, 4096)}
	for i := range cities {
		g.cityPick.add(int32(i), uint64(cities[i].weight))
	}
	g.buildCatalog()
	g.buildCalendar()
	return g
}

// Config returns the configuration with defaults applied.
func (g *Generator) Config() Config { return g.cfg }

// Messages calls fn for every Segment-spec message of every customer, one
// JSON object per call. The bytes are only valid during the call; fn must
// copy them to keep them. Customers come one after another, in index order,
// each customer's messages in time order; all timestamps are within the two
// years before End. An error from fn stops the generation and is returned.
func (g *Generator) Messages(fn func(msg []byte) error) error {
	return g.MessagesRange(0, g.cfg.Customers, fn)
}

// MessagesRange is Messages for the customers with index in [from, to) only.
// The concatenation of the ranges [0,a), [a,b), [b,Customers) is Messages:
// use it to generate in parallel with one Generator per goroutine.
func (g *Generator) MessagesRange(from, to int, fn func(msg []byte) error) error {
	from, to = max(from, 0), min(to, g.cfg.Customers)
	g.sim.fn = fn
	defer func() { g.sim.fn = nil }()
	for i := from; i < to; i++ {
		if err := g.play(i); err != nil {
			return err
		}
	}
	return nil
}

// play runs customer index through g.sim, which hands each message to its fn.
func (g *Generator) play(index int) error {
	g.makePlan(&g.plan, index)
	g.seedCustomer(&g.simPCG, streamContent, index)
	g.sim.reset(&g.plan)
	return g.sim.run()
}

// exampleMessages is the fewest messages Example looks for: more than a
// page (50) of the profile's timeline.
const exampleMessages = 60

// Example returns a customer worth looking up in the demo store, and how
// many orders it completed: the first, in index order, that shows most of a
// profile (at least two completed orders, so an average order value and
// several purchases; more than a page of timeline, exampleMessages
// messages; email marketing allowed), else the first repeat buyer, else the
// first with one order. Every Order Completed message carries the
// customer's userId (checkout signs the customer in first), so the profile
// of c.UserID holds them all. ok is false when no customer completed an
// order, which only happens in very small stores.
//
// The store's history ends on the day it is made, so which customer this
// is changes with the date; the conditions keep what it shows the same.
// Example plays customers until it finds one; in the default store that is
// within the first hundred or so, a few milliseconds.
func (g *Generator) Example() (c Customer, orders int, ok bool) {
	g.sim.fn = func([]byte) error { return nil }
	defer func() { g.sim.fn = nil }()
	first, repeat, repeatOrders := -1, -1, 0
	for i := 0; i < g.cfg.Customers; i++ {
		if err := g.play(i); err != nil {
			break
		}
		n := g.sim.orders
		if n >= 2 && g.sim.n >= exampleMessages && g.sim.optIn {
			return g.Customer(i), n, true
		}
		if n >= 2 && repeat < 0 {
			repeat, repeatOrders = i, n
		}
		if n > 0 && first < 0 {
			first, orders = i, n
		}
	}
	if repeat >= 0 {
		return g.Customer(repeat), repeatOrders, true
	}
	if first < 0 {
		return Customer{}, 0, false
	}
	return g.Customer(first), orders, true
}
