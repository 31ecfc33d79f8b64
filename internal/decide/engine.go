package decide

import (
	"bytes"
	"context"
	"strconv"
	"sync"
	"time"

	"tailor/internal/apierr"
)

// Recommender returns products for a slot (package recommend's engine,
// through an adapter the server wires).
type Recommender interface {
	Recommend(ctx context.Context, req RecRequest) ([]RecItem, error)
}

// RecRequest is package recommend's Request, field for field.
type RecRequest struct {
	Strategy  string
	ProfileID string // "" for a visitor without a profile
	ItemID    string // the product the visitor is looking at, for item strategies
	Segment   string
	Limit     int
	Filter    RecRequestFilter
}

// RecRequestFilter is package recommend's Filter, field for field.
type RecRequestFilter struct {
	ExcludePurchased              bool
	ExcludeCategoryFor            time.Duration
	InStockOnly                   bool
	MinPrice, MaxPrice            float64
	Categories, ExcludeCategories []string
	MaxPerCategory                int
}

// RecItem is package recommend's Item, field for field.
type RecItem struct {
	ID, Name, Category, URL, Image string
	Price                          float64
	Score                          float64
	Reason                         string
	Strategy                       string
}

// Assigner assigns a unit (a profile) to a variant of an experiment; ok is
// false when the experiment is not running or the unit is held out.
type Assigner interface {
	Assign(experimentID, unit string) (variant string, ok bool)
}

// Membership says whether a profile is in a segment ((*segment.Engine).Contains).
type Membership interface {
	Contains(segmentID, profileID string) (bool, error)
}

// Predictions reads one model output of a profile
// ((*segment.Engine).Prediction, which reads cached values: no
// evaluation); ok is false when the profile has none.
type Predictions interface {
	Prediction(field, profileID string) (v float64, ok bool)
}

// Profiles reads a profile for rules, read-only. Read resolves key (an
// identifier key such as "user_id:42", or a profile id) to the current
// profile and calls fn with its id and facts, which are valid only during
// fn; it reports whether the profile exists.
type Profiles interface {
	Read(key string, fn func(id string, f Facts)) bool
}

// Engine decides what each placement shows a visitor. Every dependency
// but Placements may be nil: no profiles (every visitor is new), no
// segments (segment rules never hold), no experiments, no products.
type Engine struct {
	Placements  *Placements
	Profiles    Profiles
	Membership  Membership
	Predictions Predictions
	Assigner    Assigner
	Recommender Recommender
	Signer      *Signer
	// Now is the clock, for tests; nil means time.Now.
	Now func() time.Time
}

// MaxPlacements bounds the placements of one request.
const MaxPlacements = 10

// Request is one decision: who, which placements, and where.
type Request struct {
	UserID      string
	AnonymousID string
	// ProfileKey, when set, names the profile directly (a profile id or
	// identifier key): the dashboard's preview. Its answer has no tokens.
	ProfileKey string
	Placements []string
	// Context.
	URL     string
	ItemID  string // the product on the page, for item strategies
	Country string // ISO 3166 alpha-2 from the request or a header
	HasLoc  bool   // Lat/Lon are set
	Lat     float64
	Lon     float64
}

// decision is the scratch of one request, pooled: the hot path's slices
// live here between requests.
type decision struct {
	places  [MaxPlacements]*compiled
	n       int
	holds   []bool // trait and computed rule results, placement after placement
	profile string
	known   bool
	// From the profile's traits, used when the request carries none.
	country  string
	lat, lon float64
	hasLoc   bool
	wantGeo  bool
	scratch  []byte
}

var decisionPool = sync.Pool{New: func() any { return &decision{holds: make([]bool, 0, 32)} }}

// Decide writes the answer of req as JSON to out. Errors are
// *apierr.Errors (an unknown placement) or the recommender's.
func (e *Engine) Decide(ctx context.Context, req *Request, out *bytes.Buffer) error {
	if len(req.Placements) == 0 {
		return apierr.New(apierr.BadRequest, `placements: name at least one placement id, e.g. "placements":["home_hero"]`)
	}
	if len(req.Placements) > MaxPlacements {
		return apierr.Errorf(apierr.BadRequest, "placements: at most %d per request, got %d", MaxPlacements, len(req.Placements))
	}
	key := req.ProfileKey
	switch {
	case key != "":
	case req.UserID != "":
		key = "user_id:" + req.UserID
	case req.AnonymousID != "":
		key = "anonymous_id:" + req.AnonymousID
	default:
		return apierr.New(apierr.BadRequest, "userId or anonymousId: send at least one, so that the decision is about someone")
	}
	snap := e.Placements.load()
	d := decisionPool.Get().(*decision)
	defer func() {
		*d = decision{holds: d.holds[:0], scratch: d.scratch[:0]}
		decisionPool.Put(d)
	}()
	for i, id := range req.Placements {
		c, ok := snap.byID[id]
		if !ok {
			return apierr.Errorf(apierr.PlacementNotFound, "placements[%d]: no placement %q; create it under /api/placements", i, id)
		}
		d.places[i] = c
		d.wantGeo = d.wantGeo || c.p.Geo
	}
	d.n = len(req.Placements)

	// Phase 1, under the profile's read lock: evaluate every trait and
	// computed rule and copy the location traits. Segment and prediction
	// rules wait for phase 2 so that no lock of the segment engine is
	// taken while the profile store's is held.
	read := func(id string, f Facts) {
		d.profile, d.known = id, f != nil
		for _, c := range d.places[:d.n] {
			for i := range c.p.Rules {
				if c.p.Rules[i].Segment == "" && !c.conds[i].pred {
					d.holds = append(d.holds, c.conds[i].holds(f))
				}
			}
		}
		if f != nil && d.wantGeo {
			d.country, _ = f.TraitString("country")
			lat, ok1 := f.TraitNumber("latitude")
			lon, ok2 := f.TraitNumber("longitude")
			if ok1 && ok2 {
				d.lat, d.lon, d.hasLoc = lat, lon, true
			}
		}
	}
	found := e.Profiles != nil && e.Profiles.Read(key, read)
	// A visitor who just logged in sends a userId the log may not have
	// linked yet: the anonymousId still names their profile.
	if !found && e.Profiles != nil && req.ProfileKey == "" && req.UserID != "" && req.AnonymousID != "" {
		found = e.Profiles.Read("anonymous_id:"+req.AnonymousID, read)
	}
	if !found {
		d.holds = d.holds[:0]
		read("", nil)
		d.known = false
	}

	// Phase 2: choose, then write.
	geo := snap.geo
	country := req.Country
	if country == "" {
		country = d.country
	}
	lat, lon, hasLoc := req.Lat, req.Lon, req.HasLoc
	if !hasLoc && d.hasLoc {
		lat, lon, hasLoc = d.lat, d.lon, true
	}
	currency, rate := geo.currency(country)
	now := e.now()

	out.WriteString(`{"profile":`)
	if d.known {
		appendStr(out, d.profile)
	} else {
		out.WriteString(`null`)
	}
	if d.wantGeo {
		out.WriteString(`,"geo":{"country":`)
		appendStr(out, upper2(country))
		out.WriteString(`,"currency":`)
		appendStr(out, currency)
		out.WriteString(`,"rate":`)
		appendFloat(out, rate)
		if s, km, ok := nearestFor(geo, hasLoc, lat, lon, country); ok {
			out.WriteString(`,"store":{"id":`)
			appendStr(out, s.ID)
			out.WriteString(`,"name":`)
			appendStr(out, s.Name)
			if s.Address != "" {
				out.WriteString(`,"address":`)
				appendStr(out, s.Address)
			}
			out.WriteString(`,"lat":`)
			appendFloat(out, s.Lat)
			out.WriteString(`,"lon":`)
			appendFloat(out, s.Lon)
			if km >= 0 {
				out.WriteString(`,"distance_km":`)
				appendFloat(out, float64(int(km*10+0.5))/10)
			}
			out.WriteByte('}')
		}
		out.WriteByte('}')
	}
	out.WriteString(`,"placements":[`)
	unit := d.profile
	if unit == "" {
		unit = req.AnonymousID
		if unit == "" {
			unit = req.UserID
		}
	}
	tok := Token{Issued: now, UserID: req.UserID, AnonymousID: req.AnonymousID}
	signing := e.Signer != nil && req.ProfileKey == ""
	h := 0
	for pi, c := range d.places[:d.n] {
		if pi > 0 {
			out.WriteByte(',')
		}
		chosen, rule, by := c.def, -1, "default"
		for i := range c.p.Rules {
			r := &c.p.Rules[i]
			var ok bool
			switch {
			case r.Segment == "" && !c.conds[i].pred:
				ok = d.holds[h]
				h++
			case rule >= 0:
			case r.Segment != "":
				if d.known && e.Membership != nil {
					ok, _ = e.Membership.Contains(r.Segment, d.profile)
				}
			default:
				var v float64
				var has bool
				if d.known && e.Predictions != nil {
					v, has = e.Predictions.Prediction(r.Computed, d.profile)
				}
				ok = c.conds[i].holdsPrediction(v, has)
			}
			if ok && rule < 0 {
				chosen, rule, by = c.variant[r.Variant], i, "rule"
			}
		}
		var expVariant string
		if c.p.Experiment != "" && e.Assigner != nil {
			if v, ok := e.Assigner.Assign(c.p.Experiment, unit); ok {
				expVariant = v
				if vi, known := c.variant[v]; known {
					chosen, by = vi, "experiment"
				}
			}
		}
		out.WriteString(`{"id":`)
		appendStr(out, c.p.ID)
		out.WriteByte(',')
		out.Write(c.variantJSON[chosen])
		out.WriteString(`,"chosen_by":"`)
		out.WriteString(by)
		out.WriteByte('"')
		if rule >= 0 {
			out.WriteString(`,"rule":`)
			out.Write(strconv.AppendInt(d.scratch[:0], int64(rule), 10))
		}
		if c.p.Experiment != "" {
			out.WriteString(`,"experiment":{"id":`)
			appendStr(out, c.p.Experiment)
			out.WriteString(`,"variant":`)
			if expVariant == "" {
				out.WriteString(`null`)
			} else {
				appendStr(out, expVariant)
			}
			out.WriteByte('}')
		}
		tok.Placement, tok.Variant, tok.Item, tok.Position = c.p.ID, c.p.Variants[chosen].ID, "", 0
		tok.Experiment, tok.Arm = "", expVariant
		if expVariant != "" {
			tok.Experiment = c.p.Experiment
		}
		if signing {
			out.WriteString(`,"token":"`)
			b, scratch := e.Signer.appendToken(out.AvailableBuffer(), d.scratch, &tok)
			out.Write(b)
			d.scratch = scratch
			out.WriteByte('"')
		}
		if s := c.p.Recommendations; s != nil && e.Recommender != nil {
			items, err := e.Recommender.Recommend(ctx, RecRequest{
				Strategy: s.Strategy, ProfileID: d.profile, ItemID: req.ItemID, Segment: s.Segment, Limit: s.Limit,
				Filter: RecRequestFilter{ExcludePurchased: s.Filter.ExcludePurchased,
					ExcludeCategoryFor: time.Duration(s.Filter.ExcludeCategoryDays) * 24 * time.Hour,
					InStockOnly:        s.Filter.InStockOnly, MinPrice: s.Filter.MinPrice, MaxPrice: s.Filter.MaxPrice,
					Categories: s.Filter.Categories, ExcludeCategories: s.Filter.ExcludeCategories, MaxPerCategory: s.Filter.MaxPerCategory},
			})
			if err != nil {
				return err
			}
			out.WriteString(`,"items":[`)
			for i := range items[:min(len(items), s.Limit)] {
				it := &items[i]
				if i > 0 {
					out.WriteByte(',')
				}
				out.WriteString(`{"id":`)
				appendStr(out, it.ID)
				out.WriteString(`,"name":`)
				appendStr(out, it.Name)
				if it.Category != "" {
					out.WriteString(`,"category":`)
					appendStr(out, it.Category)
				}
				if it.URL != "" {
					out.WriteString(`,"url":`)
					appendStr(out, it.URL)
				}
				if it.Image != "" {
					out.WriteString(`,"image":`)
					appendStr(out, it.Image)
				}
				out.WriteString(`,"price":`)
				if c.p.Geo {
					appendFloat(out, convert(it.Price, rate))
					out.WriteString(`,"currency":`)
					appendStr(out, currency)
				} else {
					appendFloat(out, it.Price)
				}
				out.WriteString(`,"score":`)
				appendFloat(out, it.Score)
				if it.Reason != "" {
					out.WriteString(`,"reason":`)
					appendStr(out, it.Reason)
				}
				out.WriteString(`,"strategy":`)
				appendStr(out, it.Strategy)
				if signing {
					tok.Item, tok.Position = it.ID, i+1
					out.WriteString(`,"token":"`)
					b, scratch := e.Signer.appendToken(out.AvailableBuffer(), d.scratch, &tok)
					out.Write(b)
					d.scratch = scratch
					out.WriteByte('"')
				}
				out.WriteByte('}')
			}
			out.WriteByte(']')
		}
		out.WriteByte('}')
	}
	out.WriteString("]}\n")
	return nil
}

func (e *Engine) now() time.Time {
	if e.Now != nil {
		return e.Now()
	}
	return time.Now()
}

// nearestFor is the store nearest to the visitor: by distance from a known
// location, else the first store in the visitor's country (km is -1:
// unknown).
func nearestFor(g *geoIndex, hasLoc bool, lat, lon float64, country string) (*Store, float64, bool) {
	if hasLoc {
		return g.nearest(lat, lon)
	}
	if country != "" {
		s, ok := g.nearestInCountry(country)
		return s, -1, ok
	}
	return nil, 0, false
}

func upper2(c string) string {
	if len(c) == 2 && (c[0] >= 'a' || c[1] >= 'a') {
		return string([]byte{c[0] &^ 0x20, c[1] &^ 0x20})
	}
	return c
}

func appendFloat(b *bytes.Buffer, f float64) {
	b.Write(strconv.AppendFloat(b.AvailableBuffer(), f, 'f', -1, 64))
}

const hexDigits = "0123456789abcdef"

// appendStr writes s as a JSON string. It escapes what JSON requires and
// <, >, & (answers may be pasted into pages), without allocating.
func appendStr(b *bytes.Buffer, s string) {
	b.WriteByte('"')
	start := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 0x20 && c != '"' && c != '\\' && c != '<' && c != '>' && c != '&' {
			continue
		}
		b.WriteString(s[start:i])
		switch c {
		case '"', '\\':
			b.WriteByte('\\')
			b.WriteByte(c)
		case '\n':
			b.WriteString(`\n`)
		case '\r':
			b.WriteString(`\r`)
		case '\t':
			b.WriteString(`\t`)
		default:
			b.WriteString(`\u00`)
			b.WriteByte(hexDigits[c>>4])
			b.WriteByte(hexDigits[c&0xf])
		}
		start = i + 1
	}
	b.WriteString(s[start:])
	b.WriteByte('"')
}
