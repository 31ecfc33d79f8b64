package decide

import (
	"fmt"
	"math"
	"strings"

	"tailor/internal/apierr"
)

// Geo is the geo table: which currency each country pays in, at which rate
// from the catalog's currency, and the shop's stores.
type Geo struct {
	// BaseCurrency is the catalog's currency (ISO 4217); prices convert
	// from it. Default "USD".
	BaseCurrency string `json:"base_currency"`
	// Regions map countries to a currency. A country in no region pays in
	// BaseCurrency at rate 1.
	Regions []Region `json:"regions"`
	Stores  []Store  `json:"stores"`
}

// Region is a set of countries sharing a currency.
type Region struct {
	Name      string   `json:"name"`
	Countries []string `json:"countries"` // ISO 3166-1 alpha-2, e.g. "DE"
	Currency  string   `json:"currency"`  // ISO 4217, e.g. "EUR"
	// Rate converts a base-currency price: local = base × Rate.
	Rate float64 `json:"rate"`
}

// Store is a physical shop; the nearest to the visitor is offered.
type Store struct {
	ID      string  `json:"id"`
	Name    string  `json:"name"`
	Address string  `json:"address,omitempty"`
	Country string  `json:"country,omitempty"`
	Lat     float64 `json:"lat"`
	Lon     float64 `json:"lon"`
}

// Validate reports every mistake of g, naming the field.
func (g *Geo) Validate() error {
	var errs []string
	add := func(format string, args ...any) { errs = append(errs, fmt.Sprintf(format, args...)) }
	if g.BaseCurrency != "" && !isCurrency(g.BaseCurrency) {
		add("base_currency %q: want a 3-letter ISO 4217 code such as USD", g.BaseCurrency)
	}
	countries := map[string]int{}
	for i, r := range g.Regions {
		if !isCurrency(r.Currency) {
			add("regions[%d].currency %q: want a 3-letter ISO 4217 code such as EUR", i, r.Currency)
		}
		if !(r.Rate > 0) || math.IsInf(r.Rate, 0) {
			add("regions[%d].rate %v: must be a positive number (local price = base price × rate)", i, r.Rate)
		}
		if len(r.Countries) == 0 {
			add("regions[%d].countries: list at least one country code", i)
		}
		for j, c := range r.Countries {
			if !isCountry(c) {
				add("regions[%d].countries[%d] %q: want a 2-letter ISO 3166 code such as DE", i, j, c)
				continue
			}
			if k, dup := countries[strings.ToUpper(c)]; dup {
				add("regions[%d].countries[%d] %q: already in regions[%d]", i, j, c, k)
			}
			countries[strings.ToUpper(c)] = i
		}
	}
	ids := map[string]bool{}
	for i, s := range g.Stores {
		if s.ID == "" || ids[s.ID] {
			add("stores[%d].id %q: must be set and unique", i, s.ID)
		}
		ids[s.ID] = true
		if s.Lat < -90 || s.Lat > 90 || s.Lon < -180 || s.Lon > 180 || math.IsNaN(s.Lat) || math.IsNaN(s.Lon) {
			add("stores[%d]: lat must be within ±90 and lon within ±180", i)
		}
		if s.Country != "" && !isCountry(s.Country) {
			add("stores[%d].country %q: want a 2-letter ISO 3166 code", i, s.Country)
		}
	}
	if len(errs) == 0 {
		return nil
	}
	return apierr.New(apierr.InvalidPlacement, "geo: "+strings.Join(errs, "; "))
}

func isCurrency(s string) bool { return len(s) == 3 && isLetters(s) }
func isCountry(s string) bool  { return len(s) == 2 && isLetters(s) }

func isLetters(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i] | 0x20
		if c < 'a' || c > 'z' {
			return false
		}
	}
	return true
}

// geoIndex is Geo prepared for lookups: country → region, upper-cased.
type geoIndex struct {
	Geo
	byCountry map[string]*Region
	base      string
}

func newGeoIndex(g Geo) *geoIndex {
	x := &geoIndex{Geo: g, byCountry: map[string]*Region{}, base: strings.ToUpper(g.BaseCurrency)}
	if x.base == "" {
		x.base = "USD"
	}
	for i := range x.Regions {
		r := &x.Regions[i]
		r.Currency = strings.ToUpper(r.Currency)
		for _, c := range r.Countries {
			x.byCountry[strings.ToUpper(c)] = r
		}
	}
	return x
}

// currency returns the currency and rate of country ("" or unknown: the
// base currency at rate 1).
func (x *geoIndex) currency(country string) (string, float64) {
	if len(country) == 2 {
		// Upper-case without allocating: country codes are two letters.
		var b [2]byte
		b[0], b[1] = country[0]&^0x20, country[1]&^0x20
		if r, ok := x.byCountry[string(b[:])]; ok {
			return r.Currency, r.Rate
		}
	}
	return x.base, 1
}

// nearest returns the store nearest to lat/lon and its distance in km; ok
// is false without stores.
func (x *geoIndex) nearest(lat, lon float64) (s *Store, km float64, ok bool) {
	best := math.Inf(1)
	for i := range x.Stores {
		d := haversineKm(lat, lon, x.Stores[i].Lat, x.Stores[i].Lon)
		if d < best {
			best, s = d, &x.Stores[i]
		}
	}
	return s, best, s != nil
}

// nearestInCountry is nearest for a visitor known only by country: the
// first store in that country (distance unknown).
func (x *geoIndex) nearestInCountry(country string) (*Store, bool) {
	for i := range x.Stores {
		if strings.EqualFold(x.Stores[i].Country, country) {
			return &x.Stores[i], true
		}
	}
	return nil, false
}

const earthRadiusKm = 6371.0088 // mean radius (IUGG)

// haversineKm is the great-circle distance between two points in degrees.
func haversineKm(lat1, lon1, lat2, lon2 float64) float64 {
	const rad = math.Pi / 180
	dLat, dLon := (lat2-lat1)*rad, (lon2-lon1)*rad
	a := math.Sin(dLat/2)*math.Sin(dLat/2) + math.Cos(lat1*rad)*math.Cos(lat2*rad)*math.Sin(dLon/2)*math.Sin(dLon/2)
	return 2 * earthRadiusKm * math.Asin(math.Min(1, math.Sqrt(a)))
}

// convert rounds a base price converted at rate to cents.
func convert(price, rate float64) float64 { return math.Round(price*rate*100) / 100 }
