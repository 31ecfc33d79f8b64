package message

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/osteele/liquid/render"
)

// Recommender answers the {% recommend %} block of templates: products for
// a profile by strategy. internal/recommend's engine sits behind it.
type Recommender interface {
	Recommend(ctx context.Context, req RecommendRequest) ([]RecommendedItem, error)
}

// RecommendRequest is what a {% recommend %} block asks for.
type RecommendRequest struct {
	Profile  string // the profile the message is rendered for
	Strategy string // for_you when the block names none
	Item     string // seed product of item strategies (also_bought, complements ...)
	Segment  string
	Limit    int
}

// RecommendedItem is one product a block renders, as {{ item.name }} etc.
type RecommendedItem struct {
	ID, Name, Category, URL, Image string
	Price                          float64
	Reason                         string
}

func (it RecommendedItem) value() map[string]any {
	return map[string]any{"id": it.ID, "name": it.Name, "category": it.Category, "url": it.URL,
		"image": it.Image, "image_url": it.Image, "price": it.Price, "reason": it.Reason}
}

// maxBlockItems bounds a block's limit: a message shows a handful.
const maxBlockItems = 20

// recommendBlock renders its body once per recommended product, with the
// product as item and its position as forloop_index (from 1):
//
//	{% recommend strategy: "also_bought", item: event.product_id, limit: 4 %}
//	  <a href="{{ item.url }}">{{ item.name }}</a> {{ item.price }}
//	{% endrecommend %}
//
// Argument values are quoted strings, numbers or variables. With no
// recommendations the block renders nothing.
func recommendBlock(c render.Context) (string, error) {
	args, err := blockArgs(c)
	if err != nil {
		return "", err
	}
	st, _ := c.Get(stateKey).(*renderState)
	if st == nil || st.recommender == nil {
		return "", errors.New("recommend: recommendations are not available here")
	}
	req := RecommendRequest{Strategy: args["strategy"], Item: args["item"], Segment: args["segment"], Limit: 4}
	if p, ok := c.Get("profile").(map[string]any); ok {
		req.Profile, _ = p["id"].(string)
	}
	if s := args["limit"]; s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > maxBlockItems {
			return "", fmt.Errorf("recommend: limit %q must be a whole number from 1 to %d", s, maxBlockItems)
		}
		req.Limit = n
	}
	if req.Strategy == "" {
		req.Strategy = "for_you"
	}
	items, err := st.recommender.Recommend(st.ctx, req)
	if err != nil {
		return "", fmt.Errorf("recommend %s: %w", req.Strategy, err)
	}
	prev := c.Get("item")
	var b strings.Builder
	for i, it := range items {
		c.Set("item", it.value())
		c.Set("forloop_index", i+1)
		s, err := c.InnerString()
		if err != nil {
			return "", err
		}
		b.WriteString(s)
	}
	c.Set("item", prev)
	return b.String(), nil
}

// blockArgs parses `key: value, key: value`; a value is a quoted string, a
// number, or an expression evaluated in the template's bindings.
func blockArgs(c render.Context) (map[string]string, error) {
	out := map[string]string{}
	for _, part := range splitArgs(c.TagArgs()) {
		k, v, ok := strings.Cut(part, ":")
		k, v = strings.TrimSpace(k), strings.TrimSpace(v)
		switch k {
		case "strategy", "item", "segment", "limit":
		default:
			if !ok {
				return nil, fmt.Errorf("recommend: %q is not key: value (keys: strategy, item, segment, limit)", part)
			}
			return nil, fmt.Errorf("recommend: unknown argument %q (keys: strategy, item, segment, limit)", k)
		}
		switch {
		case len(v) >= 2 && (v[0] == '"' || v[0] == '\'') && v[len(v)-1] == v[0]:
			out[k] = v[1 : len(v)-1]
		case v == "":
			return nil, fmt.Errorf("recommend: %s has no value", k)
		default:
			if _, err := strconv.ParseFloat(v, 64); err == nil {
				out[k] = v
				continue
			}
			x, err := c.EvaluateString(v)
			if err != nil {
				return nil, fmt.Errorf("recommend: %s: %w", k, err)
			}
			if x != nil {
				out[k] = fmt.Sprint(x)
			}
		}
	}
	return out, nil
}

// splitArgs splits on commas outside quotes.
func splitArgs(s string) []string {
	var out []string
	var quote byte
	start := 0
	for i := 0; i < len(s); i++ {
		switch ch := s[i]; {
		case quote != 0:
			if ch == quote {
				quote = 0
			}
		case ch == '"' || ch == '\'':
			quote = ch
		case ch == ',':
			out = append(out, s[start:i])
			start = i + 1
		}
	}
	if strings.TrimSpace(s[start:]) != "" {
		out = append(out, s[start:])
	}
	return out
}
