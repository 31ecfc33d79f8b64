package demo

import (
	"errors"
	"math/rand/v2"
	"strconv"
)

// errStop ends a customer whose activity would run past Config.End.
var errStop = errors.New("demo: end of history")

// device is one browser or app install of a customer, with its own
// anonymousId. Identity resolution has to join devices through identify calls.
type device struct {
	anon     []byte
	app      bool
	ctx      []byte // `,"context":{...` without its closing brace
	loggedIn bool   // the device carries the userId
}

type cartItem struct {
	prod, qty int
}

// sim plays one customer's sessions out, writing each message into buf and
// handing it to fn. The first error (from fn, or errStop) sticks: every later
// emit is a no-op, so the session code reads as a story, not as error checks.
type sim struct {
	g   *Generator
	p   *plan
	r   *rand.Rand
	fn  func([]byte) error
	err error

	buf  []byte
	cnum []byte // customer number, 1-based, as text
	t    int64  // time of the last message, unix ms
	n    int    // messages of this customer so far

	devs       [3]device
	ndev       int
	dev        *device
	identified bool

	cart     []cartItem
	cartDev  *device // the device the cart lives on
	cartUser bool    // the cart was filled while signed in: the shop can email about it
	cartSeq  int
	orderSeq int // checkouts started: order ids are order-<customer>-<orderSeq>
	orders   int // Order Completed messages sent
	cartAt   int64
	viewed   []int
	bought   []int // recent purchases, newest last
	emails   int
	optIn    bool // the email_opt_in trait last sent

	// Landing attribution of the next page message.
	referrer string
	campaign []byte // `,"campaign":{...}` or empty
}

// Tier behaviour.
var (
	bandShare   = [3][]int{tierLow: {700, 250, 50}, tierMid: {300, 500, 200}, tierHigh: {100, 350, 550}}
	viewsMean   = [3]int{7, 10, 14}  // extra product views per session, tenths
	addPct      = [3]int{36, 42, 50} // sessions with an add to cart
	basketMax   = [3]int{2, 3, 4}    // distinct items added in one session
	checkoutPct = [3]int{55, 62, 70} // carts that reach checkout (when signed in)
	completePct = [3]int{66, 73, 80} // checkouts that complete
	newDevice   = [2]int{10, 22}     // per-cent chance a later session is on a new device (anonymous, identified)
)

func (s *sim) reset(p *plan) {
	s.p = p
	s.err = nil
	s.t = 0
	s.n = 0
	s.ndev = 0
	s.identified = false
	s.cart = s.cart[:0]
	s.cartSeq = 1
	s.orderSeq = 0
	s.orders = 0
	s.viewed = s.viewed[:0]
	s.bought = s.bought[:0]
	s.emails = 0
	s.optIn = false
	s.cnum = strconv.AppendInt(s.cnum[:0], int64(p.index+1), 10)
}

// run plays every session of the planned customer.
func (s *sim) run() error {
	s.dev = s.newDevice()
	for k := range s.p.sessions {
		s.session(k)
		if s.err != nil {
			break
		}
	}
	if s.err == errStop {
		return nil
	}
	return s.err
}

func (s *sim) step(lo, hi int64) {
	s.t += lo + s.r.Int64N(hi-lo)
}

func (s *sim) newDevice() *device {
	r := s.r
	d := &s.devs[s.ndev]
	s.ndev++
	d.anon = appendUUID(d.anon[:0], r.Uint64(), r.Uint64())
	d.loggedIn = false
	c := s.p.city
	b := append(d.ctx[:0], `,"context":{"ip":"`...)
	if r.IntN(4) == 0 {
		b = append(b, "2001:db8:"...)
		b = strconv.AppendUint(b, uint64(r.IntN(0x10000)), 16)
		b = append(b, ':')
		b = strconv.AppendUint(b, uint64(r.IntN(0x10000)), 16)
		b = append(b, "::"...)
		b = strconv.AppendUint(b, uint64(1+r.IntN(0xfffe)), 16)
	} else {
		b = append(b, [3]string{"192.0.2.", "198.51.100.", "203.0.113."}[r.IntN(3)]...)
		b = strconv.AppendInt(b, int64(1+r.IntN(254)), 10)
	}
	b = append(b, `","locale":"`...)
	b = append(b, c.locale...)
	b = append(b, `","timezone":"`...)
	b = append(b, c.tz...)
	b = append(b, `","userAgent":`...)
	switch x := r.IntN(100); {
	case x < 17:
		a := &appDevices[r.IntN(len(appDevices))]
		d.app = true
		b = appendStr(b, a.ua)
		b = append(b, `,"app":{"name":"Tailor Shop","version":"4.2.0","build":"420"},"device":`...)
		b = append(b, a.device...)
		b = append(b, `,"os":{"name":"`...)
		b = append(b, a.os...)
		b = append(b, `","version":"`...)
		b = append(b, a.osVersion...)
		b = append(b, `"}`...)
	case x < 60:
		d.app = false
		b = appendStr(b, userAgents[r.IntN(desktopAgents)])
	default:
		d.app = false
		b = appendStr(b, userAgents[desktopAgents+r.IntN(len(userAgents)-desktopAgents)])
	}
	b = append(b, `,"library":{"name":"tailor-demo","version":"1"}`...)
	d.ctx = b
	return d
}

// begin starts a message: type, messageId, timestamp and ids.
func (s *sim) begin(typ string, user, anon bool) bool {
	if s.err != nil {
		return false
	}
	if s.t >= s.g.endMs {
		s.err = errStop
		return false
	}
	b := append(s.buf[:0], `{"type":"`...)
	b = append(b, typ...)
	b = append(b, `","messageId":"demo-`...)
	b = append(b, s.cnum...)
	b = append(b, '-')
	s.n++
	b = strconv.AppendInt(b, int64(s.n), 10)
	b = append(b, `","timestamp":"`...)
	b = appendTime(b, s.t)
	b = append(b, '"')
	if user {
		b = append(b, `,"userId":`...)
		b = appendStr(b, s.p.userID)
	}
	if anon {
		b = append(b, `,"anonymousId":"`...)
		b = append(b, s.dev.anon...)
		b = append(b, '"')
	}
	s.buf = b
	return true
}

// send closes the message and hands it to fn.
func (s *sim) send() {
	s.buf = append(s.buf, '}')
	if err := s.fn(s.buf); err != nil {
		s.err = err
	}
}

// track starts a track call from the current device, up to and including
// `"properties":{`. The caller appends the properties, `}`, and calls send.
func (s *sim) track(event string) bool {
	if !s.begin("track", s.dev.loggedIn, true) {
		return false
	}
	b := append(s.buf, `,"event":`...)
	b = appendStr(b, event)
	b = append(b, s.dev.ctx...)
	b = append(b, `},"properties":{`...)
	s.buf = b
	return true
}

// page sends a page call (a screen call on app devices). prod >= 0 names the
// product the page shows.
func (s *sim) page(name, path, title string, prod int) {
	s.step(2*secondMs, 90*secondMs)
	if s.dev.app {
		if !s.begin("screen", s.dev.loggedIn, true) {
			return
		}
		b := append(s.buf, `,"name":`...)
		b = appendStr(b, name)
		b = append(b, s.dev.ctx...)
		b = append(b, s.campaign...)
		b = append(b, `},"properties":{"title":`...)
		b = appendStr(b, title)
		if prod >= 0 {
			b = append(b, `,"product_id":`...)
			b = appendStr(b, s.g.products[prod].id)
		}
		s.buf = append(b, '}')
	} else {
		if !s.begin("page", s.dev.loggedIn, true) {
			return
		}
		b := append(s.buf, `,"name":`...)
		b = appendStr(b, name)
		b = append(b, s.dev.ctx...)
		b = append(b, s.campaign...)
		b = append(b, `,"page":`...)
		mark := len(b)
		b = append(b, `{"path":`...)
		b = appendStr(b, path)
		b = append(b, `,"url":"`+shopURL...)
		b = append(b, path...)
		b = append(b, `","title":`...)
		b = appendStr(b, title)
		if s.referrer != "" {
			b = append(b, `,"referrer":`...)
			b = appendStr(b, s.referrer)
		}
		b = append(b, '}')
		// properties repeat context.page, as analytics.js does.
		b = append(b, `},"properties":`...)
		s.buf = append(b, b[mark:len(b)-len(`},"properties":`)]...)
	}
	s.referrer = ""
	s.campaign = s.campaign[:0]
	s.send()
}

func (s *sim) setCampaign(name []byte, source, medium string) {
	b := append(s.campaign[:0], `,"campaign":{"name":`...)
	b = appendStr(b, string(name))
	b = append(b, `,"source":"`...)
	b = append(b, source...)
	b = append(b, `","medium":"`...)
	b = append(b, medium...)
	s.campaign = append(b, `"}`...)
}

// campaignName names the marketing campaign running at time t: the
// seasonal sale, or channel-month outside the sales (newsletter-2025-08).
func campaignName(b []byte, t int64, channel string) []byte {
	y, m, _ := civil(t / dayMs)
	switch m {
	case 11:
		b = append(b, "black-friday-"...)
	case 12:
		b = append(b, "holiday-"...)
	case 1:
		b = append(b, "new-year-sale-"...)
	case 6, 7:
		b = append(b, "summer-sale-"...)
	default:
		b = append(b, channel...)
		b = append(b, '-')
		b = append4(b, int(y))
		b = append(b, '-')
		return append2(b, m)
	}
	return append4(b, int(y))
}

// emailOpened sends an Email Opened event as the email provider reports it:
// userId only.
func (s *sim) emailOpened(campaign []byte, cart bool) {
	if !s.begin("track", true, false) {
		return
	}
	s.emails++
	b := append(s.buf, `,"event":"Email Opened"`...)
	b = append(b, s.dev.ctx...)
	b = append(b, `},"properties":{"email_id":"em-`...)
	b = append(b, s.cnum...)
	b = append(b, '-')
	b = strconv.AppendInt(b, int64(s.emails), 10)
	b = append(b, `","campaign_id":`...)
	b = appendStr(b, string(campaign))
	b = append(b, `,"campaign_name":`...)
	b = appendStr(b, string(campaign))
	b = append(b, `,"email_subject":`...)
	if cart {
		b = append(b, `"You left something in your cart"`...)
	} else {
		b = append(b, `"New arrivals picked for you"`...)
	}
	s.buf = append(b, '}')
	s.send()
}

// session plays session k of the plan.
func (s *sim) session(k int) {
	g, p, r := s.g, s.p, s.r
	start := p.sessions[k]
	prev := s.t
	if gap := s.t + 20*minuteMs; start < gap {
		start = gap + r.Int64N(40*minuteMs)
	}
	if len(s.cart) > 0 && start-s.cartAt > 30*dayMs {
		s.clearCart() // the cart expired
	}
	// Device.
	if k > 0 {
		id := 0
		if s.identified {
			id = 1
		}
		switch x := r.IntN(100); {
		case s.ndev < len(s.devs) && x < newDevice[id]:
			s.dev = s.newDevice()
		case x < 65:
			s.dev = &s.devs[0]
		default:
			s.dev = &s.devs[r.IntN(s.ndev)]
		}
		if s.dev.loggedIn && r.IntN(100) < 5 {
			s.dev.loggedIn = false // the login cookie expired
		}
	}
	if len(s.cart) > 0 && !s.cartUser && s.dev != s.cartDev {
		s.clearCart() // an anonymous cart stays in its browser
	}
	signup := k == p.signup && !s.identified

	// Where the visit comes from.
	var camp [32]byte
	fromCart := false
	s.t = start
	switch x := r.IntN(100); {
	case s.identified && s.cartUser && len(s.cart) > 0 && x < 45:
		name := append(camp[:0], "abandoned-cart"...)
		s.t = start - 5*minuteMs
		s.emailOpened(name, true)
		s.setCampaign(name, "abandoned-cart", "email")
		fromCart = true
	case s.identified && x < 20:
		name := campaignName(camp[:0], start, "newsletter")
		if r.IntN(3) == 0 {
			// An email that did not bring a visit.
			if t := start - dayMs - r.Int64N(3*dayMs); t > prev+minuteMs {
				s.t = t
				s.emailOpened(name, false)
			}
		}
		s.t = start - 5*minuteMs
		s.emailOpened(name, false)
		s.setCampaign(name, "newsletter", "email")
	case x < 45:
		s.referrer = "https://search.example.net/"
	case x < 60:
		s.referrer = "https://search.example.net/"
		s.setCampaign(campaignName(camp[:0], start, "search"), "search", "cpc")
	case x < 70:
		s.referrer = "https://social.example.org/"
		s.setCampaign(campaignName(camp[:0], start, "social"), "social", "paid_social")
	}
	s.t = max(s.t, start)

	if s.identified && !s.dev.loggedIn && r.IntN(100) < 35 {
		s.login()
	}

	// What the visit is about.
	leafIdx, first := -1, -1
	rebuy := false
	rebuyPct := 12
	if n := len(s.bought); n > 0 && g.leaves[g.products[s.bought[n-1]].leaf].def.consumable {
		rebuyPct = 40
	}
	if p.loyal {
		rebuyPct += 30
	}
	switch x := r.IntN(100); {
	case len(s.bought) > 0 && x < rebuyPct:
		first = s.bought[r.IntN(len(s.bought))]
		if p.loyal {
			// Loyal customers come back for what runs out.
			if c := s.consumableBought(); c >= 0 {
				first = c
			}
		}
		rebuy = true
	case x < 62:
		leafIdx = p.favs[r.IntN(p.nfav)]
	default:
		first = int(g.trending.pick(r))
	}
	if first >= 0 {
		leafIdx = g.products[first].leaf
	}
	l := &g.leaves[leafIdx]
	band := pickIndex(r, bandShare[p.tier])

	s.viewed = s.viewed[:0]
	if fromCart {
		s.page("Cart", "/cart", "Cart | Tailor Demo Shop", -1)
	} else {
		switch x := r.IntN(100); {
		case first >= 0 && x < 45:
			// Lands straight on the product page.
		case x < 70:
			s.page("Home", "/", "Tailor Demo Shop", -1)
			if r.IntN(100) < 35 {
				q := l.def.queries[r.IntN(len(l.def.queries))]
				s.search(q)
			} else if r.IntN(100) < 60 {
				s.page("Category", l.slug, l.title, -1)
			}
		default:
			s.page("Category", l.slug, l.title, -1)
		}
		nv := 1 + geometric(r, viewsMean[p.tier], 11)
		for v := 0; v < nv; v++ {
			pi := first
			// Shoppers do go back to a product, but mostly look at new
			// ones: draw again (twice at most) when this one was seen.
			for try := 0; try < 3 && (v > 0 || first < 0); try++ {
				switch x := r.IntN(100); {
				case x < 78:
					pi = g.pickProduct(r, leafIdx, band)
				case x < 88 && len(l.complements) > 0:
					pi = g.pickProduct(r, l.complements[r.IntN(len(l.complements))], band)
				default:
					pi = int(g.trending.pick(r))
				}
				if !s.viewedNow(pi) {
					break
				}
			}
			s.productViewed(pi)
		}
	}
	if signup && r.IntN(100) < 55 {
		s.signUp()
		signup = false
	}

	// Cart.
	if !fromCart && len(s.viewed) > 0 {
		pct := addPct[p.tier]
		if rebuy {
			pct += 30
			if p.loyal && r.IntN(100) < 75 && g.products[first].stock != 0 && !s.inCart(first) {
				// The same product again, not just the same category.
				s.productAdded(first, s.quantity(first))
			}
		}
		if r.IntN(100) < pct {
			s.addToCart(basketMax[p.tier])
		}
	}
	if len(s.cart) > 0 {
		if len(s.cart) >= 2 && r.IntN(100) < 10 {
			s.productRemoved(r.IntN(len(s.cart)))
		}
		if !fromCart && r.IntN(100) < 65 {
			s.page("Cart", "/cart", "Cart | Tailor Demo Shop", -1)
		}
		if fromCart || r.IntN(100) < 80 {
			s.cartViewed()
		}
		pct := checkoutPct[p.tier]
		if fromCart {
			pct += 20
		}
		if rebuy && p.loyal {
			pct += 15
		}
		if r.IntN(100) < pct {
			switch {
			case s.identified || signup:
				if signup {
					s.signUp()
					signup = false
				} else if !s.dev.loggedIn {
					s.login()
				}
				s.checkout(r.IntN(100) < completePct[p.tier])
			case r.IntN(100) < 25:
				s.checkout(false) // a guest starts checking out, then leaves
			}
		}
	}
	if signup {
		s.signUp()
	}
}

func (s *sim) search(q string) {
	s.step(3*secondMs, 20*secondMs)
	if s.track("Products Searched") {
		b := append(s.buf, `"query":`...)
		b = appendStr(b, q)
		s.buf = append(b, '}')
		s.send()
	}
	path := make([]byte, 0, 48)
	path = append(path, "/search?q="...)
	for i := 0; i < len(q); i++ {
		if q[i] == ' ' {
			path = append(path, '+')
		} else {
			path = append(path, q[i])
		}
	}
	s.page("Search", string(path), "Search: "+q+" | Tailor Demo Shop", -1)
}

func (s *sim) productViewed(pi int) {
	pr := &s.g.products[pi]
	s.step(5*secondMs, 3*minuteMs)
	s.page("Product", pr.path, pr.title, pi)
	s.step(200, 1500)
	if s.track("Product Viewed") {
		b := append(s.buf, pr.frag...)
		b = append(b, `,"currency":"USD","url":`...)
		b = appendStr(b, pr.url)
		s.buf = append(b, '}')
		s.send()
	}
	if len(s.viewed) < 16 {
		s.viewed = append(s.viewed, pi)
	}
}

// addToCart adds up to max in-stock products seen in this session, and
// sometimes a complementary product ("frequently bought together").
func (s *sim) addToCart(max int) {
	g, r := s.g, s.r
	n := 1 + r.IntN(max)
	added := 0
	for tries := 0; tries < 2*n && added < n; tries++ {
		pi := s.viewed[r.IntN(len(s.viewed))]
		if g.products[pi].stock == 0 || s.inCart(pi) {
			continue
		}
		s.productAdded(pi, s.quantity(pi))
		added++
	}
	if added > 0 && r.IntN(100) < 30 {
		l := &g.leaves[g.products[s.cart[0].prod].leaf]
		if len(l.complements) > 0 {
			pi := g.pickProduct(r, l.complements[r.IntN(len(l.complements))], g.products[s.cart[0].prod].band)
			if g.products[pi].stock != 0 && !s.inCart(pi) {
				s.productAdded(pi, 1)
			}
		}
	}
}

func (s *sim) viewedNow(pi int) bool {
	for _, v := range s.viewed {
		if v == pi {
			return true
		}
	}
	return false
}

func (s *sim) clearCart() {
	s.cart = s.cart[:0]
	s.cartSeq++
}

// consumableBought returns a random consumable among the recent purchases,
// -1 when there is none.
func (s *sim) consumableBought() int {
	n := 0
	for _, pi := range s.bought {
		if s.g.leaves[s.g.products[pi].leaf].def.consumable {
			n++
		}
	}
	if n == 0 {
		return -1
	}
	k := s.r.IntN(n)
	for _, pi := range s.bought {
		if s.g.leaves[s.g.products[pi].leaf].def.consumable {
			if k == 0 {
				return pi
			}
			k--
		}
	}
	return -1
}

func (s *sim) quantity(pi int) int {
	x := s.r.IntN(100)
	if s.g.leaves[s.g.products[pi].leaf].def.consumable {
		return 1 + x%3
	}
	switch {
	case x < 85:
		return 1
	case x < 97:
		return 2
	}
	return 3
}

func (s *sim) inCart(pi int) bool {
	for _, it := range s.cart {
		if it.prod == pi {
			return true
		}
	}
	return false
}

func (s *sim) appendCartID(b []byte) []byte {
	b = append(b, `"cart_id":"cart-`...)
	b = append(b, s.cnum...)
	b = append(b, '-')
	b = strconv.AppendInt(b, int64(s.cartSeq), 10)
	return append(b, '"')
}

func (s *sim) productAdded(pi, qty int) {
	s.step(3*secondMs, 40*secondMs)
	if s.track("Product Added") {
		b := s.appendCartID(s.buf)
		b = append(b, ',')
		b = append(b, s.g.products[pi].frag...)
		b = append(b, `,"quantity":`...)
		b = strconv.AppendInt(b, int64(qty), 10)
		s.buf = append(b, `,"currency":"USD"}`...)
		s.send()
	}
	if len(s.cart) == 0 {
		s.cartDev, s.cartUser = s.dev, false
	}
	s.cart = append(s.cart, cartItem{pi, qty})
	s.cartUser = s.cartUser || s.dev.loggedIn
	s.cartAt = s.t
}

func (s *sim) productRemoved(i int) {
	it := s.cart[i]
	s.step(5*secondMs, 60*secondMs)
	if s.track("Product Removed") {
		b := s.appendCartID(s.buf)
		b = append(b, ',')
		b = append(b, s.g.products[it.prod].frag...)
		b = append(b, `,"quantity":`...)
		b = strconv.AppendInt(b, int64(it.qty), 10)
		s.buf = append(b, `,"currency":"USD"}`...)
		s.send()
	}
	s.cart = append(s.cart[:i], s.cart[i+1:]...)
}

// appendProducts appends the cart as a products array and returns the
// subtotal in cents.
func (s *sim) appendProducts(b []byte) ([]byte, int64) {
	var sub int64
	b = append(b, `"products":[`...)
	for i, it := range s.cart {
		if i > 0 {
			b = append(b, ',')
		}
		pr := &s.g.products[it.prod]
		b = append(b, '{')
		b = append(b, pr.frag...)
		b = append(b, `,"quantity":`...)
		b = strconv.AppendInt(b, int64(it.qty), 10)
		b = append(b, `,"position":`...)
		b = strconv.AppendInt(b, int64(i+1), 10)
		b = append(b, '}')
		sub += pr.cents * int64(it.qty)
	}
	return append(b, ']'), sub
}

func (s *sim) cartViewed() {
	s.step(2*secondMs, 20*secondMs)
	if s.track("Cart Viewed") {
		b := s.appendCartID(s.buf)
		b = append(b, ',')
		b, _ = s.appendProducts(b)
		s.buf = append(b, '}')
		s.send()
	}
}

func (s *sim) appendOrderID(b []byte) []byte {
	b = append(b, `"order_id":"order-`...)
	b = append(b, s.cnum...)
	b = append(b, '-')
	b = strconv.AppendInt(b, int64(s.orderSeq), 10)
	return append(b, '"')
}

// checkout starts a checkout of the cart and, if complete, finishes it.
func (s *sim) checkout(complete bool) {
	s.orderSeq++
	s.page("Checkout", "/checkout", "Checkout | Tailor Demo Shop", -1)
	s.step(secondMs, 5*secondMs)
	if s.track("Checkout Started") {
		b := s.appendOrderID(s.buf)
		b = append(b, ',')
		b, sub := s.appendProducts(b)
		b = append(b, `,"value":`...)
		b = appendCents(b, sub)
		b = append(b, `,"revenue":`...)
		b = appendCents(b, sub)
		b = append(b, `,"currency":"USD"`...)
		s.buf = append(b, '}')
		s.send()
	}
	if !complete {
		return
	}
	s.step(45*secondMs, 6*minuteMs)
	if s.track("Order Completed") {
		b := s.appendOrderID(s.buf)
		b = append(b, ',')
		b, sub := s.appendProducts(b)
		shipping := int64(599)
		if sub >= 5000 {
			shipping = 0
		}
		tax := (sub*8 + 50) / 100
		b = append(b, `,"subtotal":`...)
		b = appendCents(b, sub)
		b = append(b, `,"revenue":`...)
		b = appendCents(b, sub)
		b = append(b, `,"shipping":`...)
		b = appendCents(b, shipping)
		b = append(b, `,"tax":`...)
		b = appendCents(b, tax)
		b = append(b, `,"total":`...)
		b = appendCents(b, sub+shipping+tax)
		b = append(b, `,"currency":"USD"`...)
		s.buf = append(b, '}')
		s.send()
	}
	if s.err != nil {
		return
	}
	s.orders++
	s.page("Order Confirmation", "/checkout/confirmation", "Thank you | Tailor Demo Shop", -1)
	for _, it := range s.cart {
		if len(s.bought) == 8 {
			copy(s.bought, s.bought[1:])
			s.bought = s.bought[:7]
		}
		s.bought = append(s.bought, it.prod)
	}
	s.clearCart()
}

// signUp is the customer creating an account on the current device: an
// identify that joins the device's anonymousId to the new userId.
func (s *sim) signUp() {
	p, r := s.p, s.r
	s.step(20*secondMs, 3*minuteMs)
	if r.IntN(100) < 15 && s.begin("alias", true, false) {
		b := append(s.buf, `,"previousId":"`...)
		b = append(b, s.dev.anon...)
		b = append(b, '"')
		b = append(b, s.dev.ctx...)
		s.buf = append(b, '}')
		s.send()
		s.step(50, 500)
	}
	if s.begin("identify", true, true) {
		b := append(s.buf, s.dev.ctx...)
		b = append(b, `},"traits":{"email":`...)
		b = appendStr(b, p.email)
		b = append(b, `,"first_name":`...)
		b = appendStr(b, p.firstName)
		b = append(b, `,"last_name":`...)
		b = appendStr(b, p.lastName)
		b = append(b, `,"name":`...)
		b = appendStr(b, p.firstName+" "+p.lastName)
		b = append(b, `,"phone":`...)
		b = appendStr(b, p.phone)
		b = append(b, `,"city":`...)
		b = appendStr(b, p.city.name)
		b = append(b, `,"country":"`...)
		b = append(b, p.city.country...)
		b = append(b, `","created_at":"`...)
		b = appendTime(b, p.created)
		b = append(b, `","email_opt_in":`...)
		s.optIn = r.IntN(100) < 78
		b = strconv.AppendBool(b, s.optIn)
		s.buf = append(b, '}')
		s.send()
	}
	s.identified = s.err == nil
	s.dev.loggedIn = s.identified
	s.step(100, 800)
	if s.track("Signed Up") {
		s.buf = append(s.buf, `"method":"`...)
		s.buf = append(s.buf, [3]string{"email", "google", "apple"}[pickIndex(r, []int{70, 20, 10})]...)
		s.buf = append(s.buf, `"}`...)
		s.send()
	}
	if r.IntN(100) >= 3 {
		return
	}
	s.step(100, 2*secondMs)
	if s.begin("group", true, true) {
		org := r.IntN(max(s.g.cfg.Customers/25, 10)) + 1
		b := append(s.buf, `,"groupId":"org-`...)
		b = strconv.AppendInt(b, int64(org), 10)
		b = append(b, '"')
		b = append(b, s.dev.ctx...)
		b = append(b, `},"traits":{"name":"Organisation `...)
		b = strconv.AppendInt(b, int64(org), 10)
		b = append(b, `","industry":"`...)
		b = append(b, [4]string{"Retail", "Software", "Education", "Hospitality"}[org%4]...)
		b = append(b, `","employees":`...)
		b = strconv.AppendInt(b, int64(5+org*37%995), 10)
		s.buf = append(b, '}')
		s.send()
	}
}

// login is an identified customer signing in on the current device.
func (s *sim) login() {
	s.step(10*secondMs, 2*minuteMs)
	if s.begin("identify", true, true) {
		b := append(s.buf, s.dev.ctx...)
		b = append(b, `},"traits":{"email":`...)
		b = appendStr(b, s.p.email)
		s.buf = append(b, '}')
		s.send()
	}
	s.dev.loggedIn = s.err == nil
}
