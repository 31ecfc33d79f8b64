// Package catalog owns the product catalog: the Product shape, its validation,
// storage in the embedded store and the admin HTTP API over it.
package catalog

// Product is one item a shop sells. IDs are the shop's own (SKU or product id),
// the same ids events carry in properties.product_id / products[].product_id.
type Product struct {
	ID       string  `json:"id"`
	Name     string  `json:"name"`
	Category string  `json:"category,omitempty"` // path, "Apparel > Outerwear > Jackets"
	Price    float64 `json:"price"`
	Currency string  `json:"currency,omitempty"` // ISO 4217, default "USD"
	// Stock is the units available; nil means the shop does not track stock.
	Stock    *int64         `json:"stock,omitempty"`
	URL      string         `json:"url,omitempty"`
	ImageURL string         `json:"image_url,omitempty"`
	Attrs    map[string]any `json:"attributes,omitempty"` // free attributes: brand, color, size, related...
}
