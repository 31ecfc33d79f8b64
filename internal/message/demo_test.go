package message

import (
	"context"
	"strings"
	"testing"
)

func TestDemoTemplatesValidateAndRender(t *testing.T) {
	e := newTestEngine(t)
	ann := e.Profiles.(fakeProfiles)["p_ann"]
	ann.Computed["recently_carted"] = []any{map[string]any{"product_id": "sku-1"}, map[string]any{"product_id": "gone"}}
	ann.Computed["recently_purchased"] = []any{map[string]any{"product_id": "sku-1"}}
	for _, tpl := range DemoTemplates() {
		if _, err := e.Templates.Save(tpl, true); err != nil {
			t.Fatalf("%s: %v", tpl.ID, err)
		}
		out, err := e.Render(context.Background(), RenderRequest{Template: tpl.ID, Profile: "p_ann", SendKey: "demo:" + tpl.ID, BaseURL: "https://t.example",
			Data: map[string]any{"order_id": "A1", "total": 12.5}})
		if err != nil {
			t.Fatalf("%s: %v", tpl.ID, err)
		}
		if strings.Contains(out.Subject+out.HTML+out.Text+out.Title+out.Body, "{{") {
			t.Errorf("%s: unrendered Liquid in %+v", tpl.ID, out)
		}
		if tpl.ID == "cart-reminder" && (!strings.Contains(out.HTML, "Rain Jacket") || !strings.Contains(out.Subject, "votre panier")) {
			t.Errorf("cart-reminder: products or locale missing: %s / %s", out.Subject, out.HTML)
		}
		if tpl.ID == "cart-reminder-coupon" && !strings.Contains(out.HTML, "cart10-demo:cart-reminder-coupon") {
			t.Errorf("coupon missing: %s", out.HTML)
		}
	}
}
