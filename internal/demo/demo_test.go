package demo

import (
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"strings"
	"sync"
	"testing"
	"time"

	"tailor/internal/catalog"
)

// digest hashes everything a generator produces for cfg.
func digest(t testing.TB, cfg Config) string {
	t.Helper()
	g := New(cfg)
	h := sha256.New()
	write := func(h hash.Hash, b []byte) { h.Write(b); h.Write([]byte{'\n'}) }
	if err := g.Products(func(p catalog.Product) error {
		b, err := json.Marshal(p)
		write(h, b)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if err := g.Customers(func(c Customer) error {
		write(h, []byte(fmt.Sprintf("%+v", c)))
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if err := g.Messages(func(b []byte) error { write(h, b); return nil }); err != nil {
		t.Fatal(err)
	}
	return fmt.Sprintf("%x", h.Sum(nil))
}

func TestDeterminism(t *testing.T) {
	tests := []struct {
		name string
		a, b Config
		same bool
	}{
		{"same config", Config{Customers: 1000}, Config{Customers: 1000}, true},
		{"defaults are explicit", Config{}, Config{Customers: 1000, Seed: 1, End: DefaultEnd, Products: 220}, true},
		{"other seed", Config{Customers: 1000, Seed: 1}, Config{Customers: 1000, Seed: 2}, false},
		{"other end", Config{Customers: 1000}, Config{Customers: 1000, End: DefaultEnd.AddDate(0, -1, 0)}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, b := digest(t, tt.a), digest(t, tt.b)
			if (a == b) != tt.same {
				t.Errorf("digests %s and %s: same = %v, want %v", a[:12], b[:12], a == b, tt.same)
			}
		})
	}
}

// TestMessagesRange checks that customers are independent: generating a
// range on a fresh generator gives the same bytes as the full run, so work
// can be split between goroutines.
func TestMessagesRange(t *testing.T) {
	cfg := Config{Customers: 300, Seed: 7}
	var full []string
	if err := New(cfg).Messages(func(b []byte) error { full = append(full, string(b)); return nil }); err != nil {
		t.Fatal(err)
	}
	var parts [3][]string
	var wg sync.WaitGroup
	for i, r := range [3][2]int{{0, 17}, {17, 250}, {250, 300}} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			New(cfg).MessagesRange(r[0], r[1], func(b []byte) error { parts[i] = append(parts[i], string(b)); return nil })
		}()
	}
	wg.Wait()
	joined := append(append(parts[0], parts[1]...), parts[2]...)
	if strings.Join(joined, "\n") != strings.Join(full, "\n") {
		t.Fatalf("ranges give %d messages differing from the %d of the full run", len(joined), len(full))
	}
}

func TestMessagesStopOnError(t *testing.T) {
	boom := errors.New("boom")
	n := 0
	err := New(Config{Customers: 100}).Messages(func([]byte) error {
		n++
		if n == 50 {
			return boom
		}
		return nil
	})
	if !errors.Is(err, boom) || n != 50 {
		t.Fatalf("err = %v after %d messages, want boom after 50", err, n)
	}
}

// msg is the part of a Segment message the tests look at.
type msg struct {
	Type        string         `json:"type"`
	MessageID   string         `json:"messageId"`
	Timestamp   string         `json:"timestamp"`
	UserID      string         `json:"userId"`
	AnonymousID string         `json:"anonymousId"`
	PreviousID  string         `json:"previousId"`
	GroupID     string         `json:"groupId"`
	Event       string         `json:"event"`
	Name        string         `json:"name"`
	Traits      map[string]any `json:"traits"`
	Properties  *props         `json:"properties"` // never nil after load
	hasProps    bool
	Context     struct {
		IP        string `json:"ip"`
		Locale    string `json:"locale"`
		Timezone  string `json:"timezone"`
		UserAgent string `json:"userAgent"`
		Library   struct {
			Name    string `json:"name"`
			Version string `json:"version"`
		} `json:"library"`
		Page *struct {
			Path, URL, Title string
		} `json:"page"`
	} `json:"context"`
}

type lineItem struct {
	ProductID string  `json:"product_id"`
	SKU       string  `json:"sku"`
	Name      string  `json:"name"`
	Category  string  `json:"category"`
	Price     float64 `json:"price"`
	Quantity  int     `json:"quantity"`
}

type props struct {
	lineItem
	Query    string     `json:"query"`
	CartID   string     `json:"cart_id"`
	OrderID  string     `json:"order_id"`
	Currency string     `json:"currency"`
	URL      string     `json:"url"`
	Path     string     `json:"path"`
	Title    string     `json:"title"`
	Value    *float64   `json:"value"`
	Revenue  *float64   `json:"revenue"`
	Subtotal *float64   `json:"subtotal"`
	Shipping *float64   `json:"shipping"`
	Tax      *float64   `json:"tax"`
	Total    *float64   `json:"total"`
	Products []lineItem `json:"products"`
}

// run is one generated store, decoded.
type run struct {
	g         *Generator
	customers []Customer
	products  map[string]catalog.Product
	byCust    [][]msg // messages per customer index
}

var (
	runOnce sync.Once
	run5k   *run
	runErr  error
)

// store5k generates and decodes a 5,000-customer store once for the tests
// that look at the data.
func store5k(t *testing.T) *run {
	t.Helper()
	runOnce.Do(func() { run5k, runErr = load(Config{Customers: 5000, Seed: 42}) })
	if runErr != nil {
		t.Fatal(runErr)
	}
	return run5k
}

func load(cfg Config) (*run, error) {
	r := &run{g: New(cfg), products: map[string]catalog.Product{}}
	r.byCust = make([][]msg, r.g.cfg.Customers)
	r.g.Products(func(p catalog.Product) error { r.products[p.ID] = p; return nil })
	r.g.Customers(func(c Customer) error { r.customers = append(r.customers, c); return nil })
	err := r.g.Messages(func(b []byte) error {
		var m msg
		if err := json.Unmarshal(b, &m); err != nil {
			return fmt.Errorf("invalid JSON %s: %w", b, err)
		}
		var c int
		if _, err := fmt.Sscanf(m.MessageID, "demo-%d-", &c); err != nil || c < 1 || c > len(r.byCust) {
			return fmt.Errorf("messageId %q does not name a customer", m.MessageID)
		}
		if m.hasProps = m.Properties != nil; !m.hasProps {
			m.Properties = &props{}
		}
		r.byCust[c-1] = append(r.byCust[c-1], m)
		return nil
	})
	return r, err
}

func TestMessagesAreValidSegment(t *testing.T) {
	r := store5k(t)
	start, end := DefaultEnd.AddDate(-2, 0, 0), DefaultEnd
	ids := map[string]bool{}
	total := 0
	for ci, ms := range r.byCust {
		var last time.Time
		for _, m := range ms {
			total++
			fail := func(format string, args ...any) {
				t.Helper()
				t.Errorf("customer %d message %s (%s %s): %s", ci+1, m.MessageID, m.Type, m.Event, fmt.Sprintf(format, args...))
			}
			if ids[m.MessageID] {
				fail("duplicate messageId")
			}
			ids[m.MessageID] = true
			ts, err := time.Parse("2006-01-02T15:04:05.000Z", m.Timestamp)
			switch {
			case err != nil:
				fail("timestamp %q: %v", m.Timestamp, err)
			case ts.Before(start) || !ts.Before(end):
				fail("timestamp %s outside [%s, %s)", ts, start, end)
			case !ts.After(last):
				fail("timestamp %s not after the previous %s", ts, last)
			}
			last = ts
			if m.UserID == "" && m.AnonymousID == "" {
				fail("neither userId nor anonymousId")
			}
			if m.UserID != "" && m.UserID != r.customers[ci].UserID {
				fail("userId %q, want %q", m.UserID, r.customers[ci].UserID)
			}
			c := m.Context
			if c.IP == "" || c.Locale == "" || c.Timezone == "" || c.UserAgent == "" || c.Library.Name != "tailor-demo" || c.Library.Version != "1" {
				fail("incomplete context %+v", c)
			}
			p := m.Properties
			switch m.Type {
			case "identify":
				if m.UserID == "" || m.AnonymousID == "" || m.Traits["email"] != r.customers[ci].Email {
					fail("identify needs userId, anonymousId and the email trait: %+v", m)
				}
			case "track":
				if m.Event == "" || !m.hasProps {
					fail("track without event or properties")
				}
			case "page":
				if m.Name == "" || p.Path == "" || p.Title == "" || !strings.HasPrefix(p.URL, "https://example.com/") || c.Page == nil || c.Page.Path != p.Path {
					fail("page needs name, properties and context.page: %+v", p)
				}
			case "screen":
				if m.Name == "" {
					fail("screen without name")
				}
			case "alias":
				if m.UserID == "" || m.PreviousID == "" {
					fail("alias needs userId and previousId")
				}
			case "group":
				if m.GroupID == "" || m.UserID == "" {
					fail("group needs groupId and userId")
				}
			default:
				fail("unknown type")
			}
			if t.Failed() {
				t.FailNow()
			}
		}
	}
	if avg := float64(total) / float64(len(r.byCust)); avg < 15 || avg > 28 {
		t.Errorf("%.1f messages per customer, want about 20", avg)
	}
}

func TestEcommerceEvents(t *testing.T) {
	r := store5k(t)
	carts := map[string]bool{}   // cart_id → ordered
	started := map[string]bool{} // order_id of Checkout Started
	var orders, orderedCarts int
	for _, ms := range r.byCust {
		cartOf := map[string]string{} // order → cart
		lastCart := ""
		for _, m := range ms {
			if m.Type != "track" {
				continue
			}
			p := *m.Properties
			switch m.Event {
			case "Products Searched":
				if p.Query == "" {
					t.Fatalf("%s: no query", m.MessageID)
				}
			case "Product Viewed", "Product Added", "Product Removed":
				prod, ok := r.products[p.ProductID]
				if !ok || p.SKU != p.ProductID || p.Name != prod.Name || p.Category != prod.Category || p.Price != prod.Price {
					t.Fatalf("%s %s: properties %+v do not match catalog product %+v", m.MessageID, m.Event, p, prod)
				}
				if m.Event != "Product Viewed" {
					if p.CartID == "" || p.Quantity < 1 {
						t.Fatalf("%s %s: cart_id %q quantity %d", m.MessageID, m.Event, p.CartID, p.Quantity)
					}
					if _, seen := carts[p.CartID]; !seen {
						carts[p.CartID] = false
					}
					lastCart = p.CartID
				} else if p.URL != prod.URL {
					t.Fatalf("%s: url %q, want %q", m.MessageID, p.URL, prod.URL)
				}
			case "Checkout Started", "Order Completed":
				var sum float64
				for _, it := range p.Products {
					prod, ok := r.products[it.ProductID]
					if !ok || it.Price != prod.Price || it.Quantity < 1 || it.Category != prod.Category {
						t.Fatalf("%s: line %+v does not match catalog %+v", m.MessageID, it, prod)
					}
					sum += it.Price * float64(it.Quantity)
				}
				if len(p.Products) == 0 || p.OrderID == "" || p.Currency != "USD" || p.Revenue == nil || abs(*p.Revenue-sum) > 0.005 {
					t.Fatalf("%s %s: order_id %q, %d products, revenue %v, sum of price*quantity %.2f", m.MessageID, m.Event, p.OrderID, len(p.Products), p.Revenue, sum)
				}
				if m.Event == "Checkout Started" {
					started[p.OrderID] = true
					cartOf[p.OrderID] = lastCart
					continue
				}
				if !started[p.OrderID] {
					t.Fatalf("%s: Order Completed %s without Checkout Started", m.MessageID, p.OrderID)
				}
				if p.Total == nil || abs(*p.Total-(*p.Revenue+*p.Shipping+*p.Tax)) > 0.005 {
					t.Fatalf("%s: total %v != revenue + shipping + tax", m.MessageID, p.Total)
				}
				if m.UserID == "" {
					t.Fatalf("%s: order by an unidentified customer", m.MessageID)
				}
				orders++
				if c := cartOf[p.OrderID]; c != "" {
					carts[c] = true
					orderedCarts++
				}
			}
		}
	}
	abandoned := 0
	for _, ordered := range carts {
		if !ordered {
			abandoned++
		}
	}
	share := float64(abandoned) / float64(len(carts))
	t.Logf("%d orders, %d carts, %.0f%% abandoned, %d checkouts", orders, len(carts), 100*share, len(started))
	if orders < 1000 || share < 0.4 || share > 0.85 {
		t.Errorf("%d orders and %.0f%% of %d carts abandoned; want > 1000 orders and a realistic 40-85%% abandonment", orders, 100*share, len(carts))
	}
	if len(started) <= orders {
		t.Errorf("%d checkouts for %d orders: no abandoned checkout", len(started), orders)
	}
}

func TestDistributions(t *testing.T) {
	r := store5k(t)
	n := float64(len(r.customers))

	tiers, stages := map[string]int{}, map[string]int{}
	for _, c := range r.customers {
		tiers[c.Tier]++
		stages[c.Stage]++
	}
	shares := []struct {
		name     string
		got      int
		min, max float64
	}{
		{"tier low", tiers["low"], 0.45, 0.65},
		{"tier mid", tiers["mid"], 0.25, 0.40},
		{"tier high", tiers["high"], 0.07, 0.18},
		{"stage new", stages["new"], 0.04, 0.15},
		{"stage active", stages["active"], 0.20, 0.45},
		{"stage churning", stages["churning"], 0.12, 0.35},
		{"stage lapsed", stages["lapsed"], 0.20, 0.45},
	}
	for _, s := range shares {
		if f := float64(s.got) / n; f < s.min || f > s.max {
			t.Errorf("%s: share %.3f, want [%.2f, %.2f]", s.name, f, s.min, s.max)
		}
	}

	// Heavy-tailed popularity.
	views := map[string]int{}
	total := 0
	for _, ms := range r.byCust {
		for _, m := range ms {
			if m.Event == "Product Viewed" {
				views[m.Properties.ProductID]++
				total++
			}
		}
	}
	counts := make([]int, 0, len(r.products))
	for id := range r.products {
		counts = append(counts, views[id])
	}
	sortDesc(counts)
	top := 0
	for _, c := range counts[:len(counts)/10] {
		top += c
	}
	if share := float64(top) / float64(total); share < 0.3 {
		t.Errorf("top 10%% of products get %.0f%% of %d views, want a heavy tail (> 30%%)", 100*share, total)
	}

	// Lifecycle stages match the activity, and tiers differ in spend.
	end := DefaultEnd
	spend := map[string]float64{}
	repeat, withTwoOrders := 0, 0
	for ci, ms := range r.byCust {
		c := r.customers[ci]
		if len(ms) == 0 {
			t.Fatalf("customer %d has no messages", ci+1)
		}
		first, _ := time.Parse(time.RFC3339, ms[0].Timestamp)
		last, _ := time.Parse(time.RFC3339, ms[len(ms)-1].Timestamp)
		ok := true
		switch c.Stage {
		case "new":
			ok = first.After(end.AddDate(0, 0, -31))
		case "active":
			ok = last.After(end.AddDate(0, 0, -30)) && first.Before(end.AddDate(0, 0, -30))
		case "churning":
			ok = last.Before(end.AddDate(0, 0, -30)) && last.After(end.AddDate(0, 0, -181))
		case "lapsed":
			ok = last.Before(end.AddDate(0, 0, -180))
		}
		if !ok {
			t.Errorf("customer %d is %s but was active from %s to %s", ci+1, c.Stage, first, last)
		}
		leaves := map[string]int{}
		orders := 0
		for _, m := range ms {
			switch {
			case m.Type == "identify" && m.Traits["first_name"] != nil:
				if m.Traits["created_at"] != c.CreatedAt.Format("2006-01-02T15:04:05.000Z") {
					t.Errorf("customer %d: created_at trait %v, CSV %s", ci+1, m.Traits["created_at"], c.CreatedAt)
				}
				ts, _ := time.Parse(time.RFC3339, m.Timestamp)
				if ts.Before(c.CreatedAt) {
					t.Errorf("customer %d identifies at %s before created_at %s", ci+1, ts, c.CreatedAt)
				}
			case m.Event == "Order Completed":
				p := *m.Properties
				spend[c.Tier] += *p.Revenue
				orders++
				seen := map[string]bool{}
				for _, it := range p.Products {
					if !seen[it.Category] {
						leaves[it.Category]++
						seen[it.Category] = true
					}
				}
			}
		}
		if orders >= 2 {
			withTwoOrders++
			for _, k := range leaves {
				if k >= 2 {
					repeat++
					break
				}
			}
		}
	}
	per := func(tier string) float64 { return spend[tier] / float64(tiers[tier]) }
	t.Logf("spend per customer: low %.0f, mid %.0f, high %.0f; %d of %d repeat buyers re-bought a category", per("low"), per("mid"), per("high"), repeat, withTwoOrders)
	if !(per("low") < per("mid") && per("mid") < per("high")) {
		t.Errorf("spend per customer by tier not increasing")
	}
	if withTwoOrders < 100 || float64(repeat) < 0.3*float64(withTwoOrders) {
		t.Errorf("%d of %d customers with 2+ orders bought a category again; want repeat buying", repeat, withTwoOrders)
	}

	// Identity: most customers identify, some never, some use several devices.
	never, multiDevice := 0, 0
	for _, ms := range r.byCust {
		anons := map[string]bool{}
		identified := false
		for _, m := range ms {
			if m.AnonymousID != "" {
				anons[m.AnonymousID] = true
			}
			identified = identified || m.UserID != ""
		}
		if !identified {
			never++
		}
		if len(anons) > 1 {
			multiDevice++
		}
	}
	if f := float64(never) / n; f < 0.05 || f > 0.25 {
		t.Errorf("%.0f%% never identify, want 5-25%%", 100*f)
	}
	if multiDevice < len(r.byCust)/20 {
		t.Errorf("only %d customers use several anonymousIds", multiDevice)
	}
}

// TestSeasonality compares activity in November with September of the same
// year: the shopping season must stand out.
func TestSeasonality(t *testing.T) {
	r := store5k(t)
	months := map[string]int{}
	weekday := [7]int{}
	for _, ms := range r.byCust {
		for _, m := range ms {
			months[m.Timestamp[:7]]++
			ts, _ := time.Parse(time.RFC3339, m.Timestamp)
			weekday[ts.Weekday()]++
		}
	}
	if nov, sep := months["2025-11"], months["2025-09"]; float64(nov) < 1.2*float64(sep) {
		t.Errorf("November 2025 has %d messages, September %d: want a holiday peak", nov, sep)
	}
	if weekday[time.Sunday] <= weekday[time.Tuesday] {
		t.Errorf("weekday counts %v: want more on Sunday than Tuesday", weekday)
	}
}

func TestCustomers(t *testing.T) {
	r := store5k(t)
	emails := map[string]bool{}
	start := DefaultEnd.AddDate(-2, 0, 0)
	for _, c := range r.customers {
		local, domain, ok := strings.Cut(c.Email, "@")
		switch {
		case !ok || local == "" || strings.ToLower(c.Email) != c.Email:
			t.Errorf("email %q not a lowercase address", c.Email)
		case domain != "example.com" && domain != "example.org" && domain != "example.net":
			t.Errorf("email %q outside the example domains", c.Email)
		case emails[c.Email]:
			t.Errorf("email %q used twice", c.Email)
		}
		for _, ch := range local {
			if !(ch >= 'a' && ch <= 'z' || ch >= '0' && ch <= '9' || ch == '.' || ch == '_') {
				t.Errorf("email %q: unexpected %q", c.Email, ch)
				break
			}
		}
		emails[c.Email] = true
		if c.UserID == "" || c.FirstName == "" || c.LastName == "" || !strings.HasPrefix(c.Phone, "+") || c.Country == "" || c.City == "" || c.Timezone == "" || c.Locale == "" {
			t.Errorf("incomplete customer %+v", c)
		}
		if c.CreatedAt.Before(start) || !c.CreatedAt.Before(DefaultEnd) {
			t.Errorf("customer %s created at %s, outside the history", c.UserID, c.CreatedAt)
		}
	}
}

func TestProducts(t *testing.T) {
	tests := []struct {
		cfg  Config
		want int
	}{
		{Config{Customers: 1000}, 220},
		{Config{Customers: 5000}, 300},
		{Config{Customers: 5_000_000}, 20000},
		{Config{Customers: 1000, Products: 10}, 10},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprint(tt.cfg.Customers, "/", tt.cfg.Products), func(t *testing.T) {
			g := New(tt.cfg)
			leaves := map[string]bool{}
			for _, c := range g.Categories() {
				leaves[c] = true
			}
			if tops := topCategories(g.Categories()); len(tops) < 8 || len(leaves) < 40 {
				t.Fatalf("%d top categories and %d leaves, want ~10 and 40+", len(tops), len(leaves))
			}
			ids := map[string]bool{}
			var outOfStock, untracked, withComplements, n int
			perLeaf := map[string]int{}
			err := g.Products(func(p catalog.Product) error {
				n++
				if ids[p.ID] {
					return fmt.Errorf("duplicate id %s", p.ID)
				}
				ids[p.ID] = true
				if !leaves[p.Category] {
					return fmt.Errorf("%s: unknown category %q", p.ID, p.Category)
				}
				perLeaf[p.Category]++
				if p.Name == "" || p.Price <= 0 || p.Currency != "USD" || !strings.HasPrefix(p.URL, "https://example.com/") || !strings.HasPrefix(p.ImageURL, "https://example.com/") {
					return fmt.Errorf("incomplete product %+v", p)
				}
				if p.Attrs["brand"] == "" || p.Attrs["price_band"] == nil {
					return fmt.Errorf("%s: attributes %v", p.ID, p.Attrs)
				}
				switch {
				case p.Stock == nil:
					untracked++
				case *p.Stock == 0:
					outOfStock++
				}
				if cs, ok := p.Attrs["complements"].([]string); ok && len(cs) > 0 {
					withComplements++
					for _, c := range cs {
						if !leaves[c] || c == p.Category {
							return fmt.Errorf("%s: bad complement %q", p.ID, c)
						}
					}
				}
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			if n != tt.want {
				t.Errorf("%d products, want %d", n, tt.want)
			}
			if n >= 200 && (outOfStock == 0 || untracked == 0 || len(perLeaf) != len(leaves)) {
				t.Errorf("%d out of stock, %d untracked, %d of %d leaves stocked", outOfStock, untracked, len(perLeaf), len(leaves))
			}
			if withComplements != n {
				t.Errorf("%d of %d products have complements", withComplements, n)
			}
		})
	}
	// The examples of the brief: Jackets go with Hats and Gloves, Cameras with Cases and Chargers.
	g := New(Config{})
	want := map[string][]string{
		"Apparel > Outerwear > Jackets": {"Apparel > Accessories > Hats", "Apparel > Accessories > Gloves"},
		"Electronics > Cameras":         {"Electronics > Camera Accessories > Cases", "Electronics > Camera Accessories > Chargers"},
	}
	g.Products(func(p catalog.Product) error {
		for _, c := range want[p.Category] {
			if !strings.Contains(strings.Join(p.Attrs["complements"].([]string), "|"), c) {
				t.Errorf("%s (%s): complements %v lack %s", p.ID, p.Category, p.Attrs["complements"], c)
			}
		}
		return nil
	})
}

// TestLargeIndex generates the last customers of a 5,000,000-customer store
// without the others.
func TestLargeIndex(t *testing.T) {
	g := New(Config{Customers: 5_000_000})
	n := 0
	err := g.MessagesRange(4_999_990, 5_000_000, func(b []byte) error {
		n++
		if !json.Valid(b) {
			return fmt.Errorf("invalid JSON %s", b)
		}
		if n == 1 && !strings.Contains(string(b), `"messageId":"demo-4999991-1"`) {
			return fmt.Errorf("first message %s", b)
		}
		return nil
	})
	if err != nil || n == 0 {
		t.Fatalf("err %v, %d messages", err, n)
	}
	if c := g.Customer(4_999_999); c.UserID != "user-5000000" {
		t.Fatalf("last customer %+v", c)
	}
}

func TestOtherEnd(t *testing.T) {
	end := time.Date(2021, 3, 15, 12, 0, 0, 0, time.FixedZone("X", 3600))
	r, err := load(Config{Customers: 200, End: end, Seed: 3})
	if err != nil {
		t.Fatal(err)
	}
	for _, ms := range r.byCust {
		for _, m := range ms {
			ts, _ := time.Parse(time.RFC3339, m.Timestamp)
			if ts.Before(end.AddDate(-2, 0, 0)) || !ts.Before(end) {
				t.Fatalf("%s at %s outside the two years before %s", m.MessageID, ts, end)
			}
		}
	}
}

func TestOddSizes(t *testing.T) {
	tests := []Config{
		{Customers: 1},
		{Customers: 50, Products: 10}, // fewer products than leaf categories
		{Customers: 50, Products: 1},
		{Customers: 200, Seed: -5},
	}
	for _, cfg := range tests {
		t.Run(fmt.Sprintf("%+v", cfg), func(t *testing.T) {
			r, err := load(cfg)
			if err != nil {
				t.Fatal(err)
			}
			for ci, ms := range r.byCust {
				if len(ms) == 0 {
					t.Fatalf("customer %d has no messages", ci+1)
				}
				for _, m := range ms {
					if p := m.Properties; p.ProductID != "" {
						if _, ok := r.products[p.ProductID]; !ok {
							t.Fatalf("%s: unknown product %s", m.MessageID, p.ProductID)
						}
					}
				}
			}
		})
	}
}

func TestAppendTime(t *testing.T) {
	for _, ms := range []int64{0, 951782400000, 1709208000123, 1798761599999, 1735689599999, 4102444800000, 1761955200001} {
		want := time.UnixMilli(ms).UTC().Format("2006-01-02T15:04:05.000Z")
		if got := string(appendTime(nil, ms)); got != want {
			t.Errorf("appendTime(%d) = %s, want %s", ms, got, want)
		}
	}
	g := New(Config{})
	r := g.planRand
	for i := 0; i < 10000; i++ {
		ms := g.startMs + r.Int64N(g.endMs-g.startMs)
		if got, want := string(appendTime(nil, ms)), time.UnixMilli(ms).UTC().Format("2006-01-02T15:04:05.000Z"); got != want {
			t.Fatalf("appendTime(%d) = %s, want %s", ms, got, want)
		}
	}
}

func TestAppendStr(t *testing.T) {
	for _, s := range []string{"", "plain", `quote " and \ backslash`, "tab\tnew\nline\x01", "Schröder O'Brien", "<&>"} {
		var back string
		if err := json.Unmarshal(appendStr(nil, s), &back); err != nil || back != s {
			t.Errorf("appendStr(%q) = %s (%v)", s, appendStr(nil, s), err)
		}
	}
	for _, c := range []int64{0, 5, 99, 100, 1999, 123456, -250} {
		var f float64
		if err := json.Unmarshal(appendCents(nil, c), &f); err != nil || int64(f*100+copysign(0.5, f)) != c {
			t.Errorf("appendCents(%d) = %s", c, appendCents(nil, c))
		}
	}
}

func TestEmailPart(t *testing.T) {
	for in, want := range map[string]string{"Schröder": "schroder", "O'Brien": "obrien", "de Jong": "dejong", "Wiśniewski": "wisniewski", "Élodie": "elodie", "Zimmermann": "zimmermann"} {
		if got := emailPart(in); got != want {
			t.Errorf("emailPart(%q) = %q, want %q", in, got, want)
		}
	}
	for _, pool := range namePools {
		for _, n := range append(append([]string{}, pool.first...), pool.last...) {
			if emailPart(n) == "" {
				t.Errorf("name %q has no letters for an email", n)
			}
		}
	}
}

func BenchmarkMessages(b *testing.B) {
	g := New(Config{Customers: 5_000_000})
	b.ReportAllocs()
	b.ResetTimer()
	n, bytes := 0, 0
	for i := 0; b.Loop(); i++ {
		g.MessagesRange(i*100, i*100+100, func(m []byte) error { n++; bytes += len(m); return nil })
	}
	b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "msgs/s")
	b.ReportMetric(float64(bytes)/float64(max(n, 1)), "bytes/msg")
}

func BenchmarkCustomers(b *testing.B) {
	g := New(Config{Customers: 5_000_000})
	for i := 0; b.Loop(); i++ {
		g.Customer(i % 5_000_000)
	}
}

func abs(x float64) float64 {
	if x < 0 {
		return -x
	}
	return x
}

func copysign(x, sign float64) float64 {
	if sign < 0 {
		return -x
	}
	return x
}

func sortDesc(a []int) {
	for i := 1; i < len(a); i++ {
		for j := i; j > 0 && a[j] > a[j-1]; j-- {
			a[j], a[j-1] = a[j-1], a[j]
		}
	}
}

func topCategories(leaves []string) map[string]bool {
	tops := map[string]bool{}
	for _, l := range leaves {
		top, _, _ := strings.Cut(l, " > ")
		tops[top] = true
	}
	return tops
}

// TestExample checks Example against a scan of the messages: it names the
// first customer with two or more Order Completed messages, at least
// exampleMessages messages and email_opt_in true in its last traits, else
// the first with two or more orders, else the first with one; every order of
// that customer carries its userId, and the count matches.
func TestExample(t *testing.T) {
	tests := []struct {
		name string
		cfg  Config
	}{
		{"default store", Config{}},
		{"default store, another day", Config{End: time.Date(2026, 12, 2, 0, 0, 0, 0, time.UTC)}},
		{"other seed", Config{Customers: 300, Seed: 7}},
		{"one customer who orders", Config{Customers: 1, Seed: 3}},
		{"one customer who never orders", Config{Customers: 1, Seed: 2}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := New(tt.cfg)
			orders := make([]int, g.Config().Customers) // Order Completed per customer index
			userIDs := make([]string, len(orders))
			msgs := make([]int, len(orders))
			optIn := make([]bool, len(orders))
			err := g.Messages(func(b []byte) error {
				var m msg
				if err := json.Unmarshal(b, &m); err != nil {
					return err
				}
				var c int
				if _, err := fmt.Sscanf(m.MessageID, "demo-%d-", &c); err != nil {
					return fmt.Errorf("messageId %q: %w", m.MessageID, err)
				}
				msgs[c-1]++
				if v, ok := m.Traits["email_opt_in"].(bool); ok {
					optIn[c-1] = v
				}
				if m.Event != "Order Completed" {
					return nil
				}
				if m.UserID == "" || userIDs[c-1] != "" && m.UserID != userIDs[c-1] {
					return fmt.Errorf("order %s has userId %q, want the customer's (%q)", m.MessageID, m.UserID, userIDs[c-1])
				}
				userIDs[c-1] = m.UserID
				orders[c-1]++
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			want, repeat, first := -1, -1, -1
			for i, n := range orders {
				if n >= 2 && msgs[i] >= exampleMessages && optIn[i] {
					want = i
					break
				}
				if n >= 2 && repeat < 0 {
					repeat = i
				}
				if n >= 1 && first < 0 {
					first = i
				}
			}
			if want < 0 {
				want = repeat
			}
			if want < 0 {
				want = first
			}
			c, n, ok := New(tt.cfg).Example()
			if ok != (want >= 0) {
				t.Fatalf("Example() ok = %v, want %v (customer %d)", ok, want >= 0, want)
			}
			if !ok {
				return
			}
			if c.UserID != userIDs[want] || n != orders[want] {
				t.Errorf("Example() = %s with %d orders, want %s with %d", c.UserID, n, userIDs[want], orders[want])
			}
			if row := g.Customer(want); c != row {
				t.Errorf("Example() customer = %+v, want row %+v", c, row)
			}
		})
	}
}

// TestExampleKeepsMessages checks that Example leaves the generator
// producing the same messages as a fresh one.
func TestExampleKeepsMessages(t *testing.T) {
	cfg := Config{Customers: 50}
	g := New(cfg)
	if _, _, ok := g.Example(); !ok {
		t.Fatal("no example customer in a 50-customer store")
	}
	var a, b strings.Builder
	if err := g.Messages(func(m []byte) error { a.Write(m); return nil }); err != nil {
		t.Fatal(err)
	}
	if err := New(cfg).Messages(func(m []byte) error { b.Write(m); return nil }); err != nil {
		t.Fatal(err)
	}
	if a.String() != b.String() {
		t.Error("messages after Example differ from a fresh generator's")
	}
}
