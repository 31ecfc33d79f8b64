package recommend

import (
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"

	"tailor/internal/apierr"
)

// HTTP serves the admin API of recommendations:
//
//	GET /api/recommendations?strategy=&profile=&item=&limit=&segment=&trait=
//	    &exclude_purchased=&exclude_category_days=&in_stock=&min_price=&max_price=
//	    &category=&exclude_category=&max_per_category=
//	GET /api/recommendations/bundle?item=
//	GET /api/recommendations/strategies
//	GET /api/recommendations/evaluation   the published evaluation tables
//
// profile is any identifier the profile store resolves (userId, anonymousId,
// email, profile id); an unknown profile is a new visitor, not an error.
type HTTP struct {
	Engine *Engine
	// Lookup resolves an identifier to a profile id; false when unknown.
	Lookup func(identifier string) (string, bool)
}

// Handler returns the routes above.
func (h *HTTP) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /api/recommendations", h.recommend)
	mux.HandleFunc("GET /api/recommendations/bundle", h.bundle)
	mux.HandleFunc("GET /api/recommendations/strategies", func(w http.ResponseWriter, r *http.Request) {
		apierr.WriteJSON(w, http.StatusOK, map[string]any{"strategies": Strategies, "item_strategies": itemStrategies})
	})
	mux.HandleFunc("GET /api/recommendations/evaluation", func(w http.ResponseWriter, r *http.Request) {
		apierr.WriteJSON(w, http.StatusOK, map[string]any{"runs": Published})
	})
	return mux
}

// Answer is the body of GET /api/recommendations.
type Answer struct {
	Strategy string `json:"strategy"`
	Profile  string `json:"profile,omitempty"` // the resolved profile id; "" for a new visitor
	Item     string `json:"item,omitempty"`
	Items    []Item `json:"items"`
}

func (h *HTTP) recommend(w http.ResponseWriter, r *http.Request) {
	req, err := ParseQuery(r.URL.Query())
	if err != nil {
		apierr.WriteError(w, r, apierr.Plain, apierr.New(apierr.BadRequest, err.Error()))
		return
	}
	if who := r.URL.Query().Get("profile"); who != "" && h.Lookup != nil {
		if id, ok := h.Lookup(who); ok {
			req.ProfileID = id
		} else {
			req.ProfileID = ""
		}
	}
	items, err := h.Engine.Recommend(r.Context(), req)
	if err != nil {
		writeErr(w, r, err)
		return
	}
	if items == nil {
		items = []Item{}
	}
	apierr.WriteJSON(w, http.StatusOK, Answer{Strategy: req.Strategy, Profile: req.ProfileID, Item: req.ItemID, Items: items})
}

func (h *HTTP) bundle(w http.ResponseWriter, r *http.Request) {
	b, err := h.Engine.Bundle(r.Context(), r.URL.Query().Get("item"))
	if err != nil {
		writeErr(w, r, err)
		return
	}
	if b.Items == nil {
		b.Items = []Item{}
	}
	apierr.WriteJSON(w, http.StatusOK, b)
}

func writeErr(w http.ResponseWriter, r *http.Request, err error) {
	switch {
	case errors.Is(err, ErrUnknownItem):
		apierr.WriteError(w, r, apierr.Plain, apierr.New(apierr.NotFound, err.Error()))
	case errors.Is(err, ErrUnknownStrategy), errors.Is(err, ErrNeedItem), errors.Is(err, ErrBadRequest):
		apierr.WriteError(w, r, apierr.Plain, apierr.New(apierr.BadRequest, err.Error()))
	default:
		apierr.WriteError(w, r, apierr.Plain, err)
	}
}

// ParseQuery reads a Request from URL parameters (the admin API's, also the
// decision API's and templates' vocabulary). The profile parameter is left
// as given in ProfileID: resolve it before asking the engine.
func ParseQuery(q map[string][]string) (Request, error) {
	get := func(k string) string {
		if v := q[k]; len(v) > 0 {
			return strings.TrimSpace(v[0])
		}
		return ""
	}
	req := Request{Strategy: get("strategy"), ProfileID: get("profile"), ItemID: get("item"), Segment: get("segment"), Trait: get("trait")}
	if req.Strategy == "" {
		req.Strategy = ForYou
	}
	var err error
	num := func(k string, dst *float64) {
		if s := get(k); s != "" && err == nil {
			f, e := strconv.ParseFloat(s, 64)
			if e != nil || f < 0 {
				err = errors.New(k + " must be a number at least 0, got " + strconv.Quote(s))
			}
			*dst = f
		}
	}
	integer := func(k string, dst *int) {
		if s := get(k); s != "" && err == nil {
			n, e := strconv.Atoi(s)
			if e != nil || n < 0 {
				err = errors.New(k + " must be a whole number at least 0, got " + strconv.Quote(s))
			}
			*dst = n
		}
	}
	flag := func(k string, dst *bool) {
		if s := get(k); s != "" && err == nil {
			b, e := strconv.ParseBool(s)
			if e != nil {
				err = errors.New(k + " must be true or false, got " + strconv.Quote(s))
			}
			*dst = b
		}
	}
	var days float64
	integer("limit", &req.Limit)
	num("min_price", &req.Filter.MinPrice)
	num("max_price", &req.Filter.MaxPrice)
	num("exclude_category_days", &days)
	integer("max_per_category", &req.Filter.MaxPerCategory)
	flag("exclude_purchased", &req.Filter.ExcludePurchased)
	flag("in_stock", &req.Filter.InStockOnly)
	if err != nil {
		return req, err
	}
	req.Filter.ExcludeCategoryFor = time.Duration(days * 24 * float64(time.Hour))
	req.Filter.Categories = list(q["category"])
	req.Filter.ExcludeCategories = list(q["exclude_category"])
	if err := req.Validate(); err != nil {
		return req, err
	}
	return req, nil
}

// list splits repeated or comma-separated values.
func list(vs []string) []string {
	var out []string
	for _, v := range vs {
		for _, s := range strings.Split(v, ",") {
			if s = strings.TrimSpace(s); s != "" {
				out = append(out, s)
			}
		}
	}
	return out
}
