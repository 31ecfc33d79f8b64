package message

import (
	"context"
	"fmt"
	"testing"
)

// fakeRecommender answers every strategy with limit products named after
// the request, so a test sees what the block asked for.
type fakeRecommender struct{ got []RecommendRequest }

func (f *fakeRecommender) Recommend(_ context.Context, req RecommendRequest) ([]RecommendedItem, error) {
	f.got = append(f.got, req)
	if req.Strategy == "broken" {
		return nil, fmt.Errorf("unknown strategy %q", req.Strategy)
	}
	out := make([]RecommendedItem, req.Limit)
	for i := range out {
		out[i] = RecommendedItem{ID: fmt.Sprintf("sku-%d", i+1), Name: fmt.Sprintf("%s-%s-%d", req.Strategy, req.Item, i+1), Price: float64(10 * (i + 1))}
	}
	return out, nil
}

func TestRecommendBlock(t *testing.T) {
	cases := []struct {
		name, src, want string
		wantErr         bool
	}{
		{"for_you by default, limit 4", `{% recommend %}{{ item.name }};{% endrecommend %}`, "for_you--1;for_you--2;for_you--3;for_you--4;", false},
		{"strategy, limit and position", `{% recommend strategy: "trending", limit: 2 %}{{ forloop_index }}:{{ item.name }}={{ item.price }} {% endrecommend %}`, "1:trending--1=10 2:trending--2=20 ", false},
		{"item from the event", `{% recommend strategy: 'also_bought', item: event.sku, limit: 1 %}{{ item.name }}{% endrecommend %}`, "also_bought-sku-9-1", false},
		{"item is restored after the block", `{% assign item = "x" %}{% recommend limit: 1 %}{% endrecommend %}{{ item }}`, "x", false},
		{"limit out of range", `{% recommend limit: 500 %}{% endrecommend %}`, "", true},
		{"unknown argument", `{% recommend colour: "red" %}{% endrecommend %}`, "", true},
		{"the recommender's error fails the render", `{% recommend strategy: "broken" %}{% endrecommend %}`, "", true},
	}
	e := newTestEngine(t)
	rec := &fakeRecommender{}
	e.Recommender = rec
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			tpl := Template{ID: "r", Channel: "sms", Parts: Parts{Body: c.src}}
			if err := tpl.Validate(e.liq); err != nil {
				t.Fatal(err)
			}
			out, err := e.render(context.Background(), &tpl, RenderRequest{Profile: "p_ann", Data: map[string]any{"sku": "sku-9"}, SendKey: "k"}, false)
			if c.wantErr {
				if err == nil {
					t.Fatalf("want an error, got %q", out.Body)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if out.Body != c.want {
				t.Errorf("got %q, want %q", out.Body, c.want)
			}
			if last := rec.got[len(rec.got)-1]; last.Profile != "p_ann" {
				t.Errorf("asked for profile %q, want p_ann", last.Profile)
			}
		})
	}
	t.Run("without a recommender the render fails", func(t *testing.T) {
		e := newTestEngine(t)
		tpl := Template{ID: "r", Channel: "sms", Parts: Parts{Body: `{% recommend %}x{% endrecommend %}`}}
		if _, err := e.render(context.Background(), &tpl, RenderRequest{Profile: "p_ann"}, false); err == nil {
			t.Error("rendered without a recommender")
		}
	})
}
