package demo

import (
	"math/rand/v2"
	"strconv"
	"strings"

	"tailor/internal/catalog"
)

// leafDef describes one leaf category of the demo catalog. Prices are whole
// dollars: band[0..1) is budget, band[1..2) mid, band[2..3) premium.
type leafDef struct {
	path        string
	nouns       []string
	band        [4]int64
	weight      int64 // relative popularity of the category
	color       bool  // products come in colours
	consumable  bool  // bought again and again (coffee, pet food...)
	complements []string
	queries     []string
}

// leafDefs is the category tree. The last segment of every path is unique:
// complements refer to leaves by it.
var leafDefs = []leafDef{
	{"Apparel > Outerwear > Jackets", []string{"Jacket", "Down Jacket", "Rain Jacket", "Softshell Jacket"}, [4]int64{40, 90, 180, 400}, 60, true, false, []string{"Hats", "Gloves", "Scarves"}, []string{"jacket", "down jacket", "rain jacket"}},
	{"Apparel > Outerwear > Coats", []string{"Coat", "Parka", "Trench Coat", "Wool Coat"}, [4]int64{60, 130, 250, 600}, 35, true, false, []string{"Scarves", "Gloves", "Boots"}, []string{"coat", "parka", "wool coat"}},
	{"Apparel > Tops > T-Shirts", []string{"T-Shirt", "Tee", "Polo", "Tank Top"}, [4]int64{8, 20, 40, 90}, 90, true, false, []string{"Jeans", "Sneakers"}, []string{"t-shirt", "white tee", "polo shirt"}},
	{"Apparel > Tops > Sweaters", []string{"Sweater", "Cardigan", "Hoodie", "Fleece"}, [4]int64{25, 60, 120, 300}, 55, true, false, []string{"Jeans", "Scarves"}, []string{"sweater", "hoodie", "cardigan"}},
	{"Apparel > Bottoms > Jeans", []string{"Jeans", "Slim Jeans", "Straight Jeans"}, [4]int64{25, 60, 120, 250}, 65, true, false, []string{"T-Shirts", "Belts", "Sneakers"}, []string{"jeans", "slim jeans", "black jeans"}},
	{"Apparel > Bottoms > Trousers", []string{"Chinos", "Trousers", "Joggers"}, [4]int64{20, 50, 100, 220}, 40, true, false, []string{"Belts", "Sweaters"}, []string{"chinos", "trousers", "joggers"}},
	{"Apparel > Accessories > Hats", []string{"Beanie", "Cap", "Bucket Hat", "Wool Hat"}, [4]int64{8, 20, 40, 90}, 30, true, false, []string{"Jackets", "Gloves", "Scarves"}, []string{"beanie", "cap", "winter hat"}},
	{"Apparel > Accessories > Gloves", []string{"Gloves", "Mittens", "Touchscreen Gloves"}, [4]int64{10, 25, 50, 120}, 25, true, false, []string{"Jackets", "Hats", "Scarves"}, []string{"gloves", "mittens", "leather gloves"}},
	{"Apparel > Accessories > Scarves", []string{"Scarf", "Wool Scarf", "Silk Scarf"}, [4]int64{10, 25, 60, 200}, 20, true, false, []string{"Coats", "Hats", "Gloves"}, []string{"scarf", "wool scarf"}},
	{"Apparel > Accessories > Belts", []string{"Belt", "Leather Belt", "Canvas Belt"}, [4]int64{10, 25, 55, 150}, 15, true, false, []string{"Jeans", "Trousers"}, []string{"belt", "leather belt"}},
	{"Footwear > Sneakers", []string{"Sneakers", "Running Shoes", "Trainers"}, [4]int64{30, 70, 130, 250}, 70, true, false, []string{"Socks", "T-Shirts"}, []string{"sneakers", "running shoes", "white sneakers"}},
	{"Footwear > Boots", []string{"Boots", "Chelsea Boots", "Hiking Boots"}, [4]int64{50, 100, 180, 400}, 40, true, false, []string{"Socks", "Coats"}, []string{"boots", "chelsea boots", "hiking boots"}},
	{"Footwear > Sandals", []string{"Sandals", "Slides", "Flip Flops"}, [4]int64{10, 30, 60, 150}, 25, true, false, []string{"T-Shirts"}, []string{"sandals", "slides"}},
	{"Footwear > Socks", []string{"Socks 3-Pack", "Wool Socks", "Running Socks"}, [4]int64{5, 12, 20, 40}, 35, true, true, []string{"Sneakers", "Boots"}, []string{"socks", "wool socks"}},
	{"Electronics > Cameras", []string{"Mirrorless Camera", "Compact Camera", "Action Camera", "Instant Camera"}, [4]int64{80, 300, 900, 2500}, 20, false, false, []string{"Cases", "Chargers", "Memory Cards", "Tripods"}, []string{"camera", "mirrorless camera", "action camera"}},
	{"Electronics > Camera Accessories > Cases", []string{"Camera Case", "Camera Bag", "Sling Bag"}, [4]int64{10, 30, 70, 180}, 15, true, false, []string{"Cameras", "Tripods"}, []string{"camera bag", "camera case"}},
	{"Electronics > Camera Accessories > Chargers", []string{"Battery Charger", "Spare Battery", "USB-C Charger"}, [4]int64{10, 25, 50, 120}, 20, false, false, []string{"Cameras", "Smartphones"}, []string{"charger", "usb-c charger", "camera battery"}},
	{"Electronics > Camera Accessories > Memory Cards", []string{"SD Card", "microSD Card", "CFexpress Card"}, [4]int64{8, 20, 50, 150}, 25, false, false, []string{"Cameras"}, []string{"sd card", "memory card"}},
	{"Electronics > Camera Accessories > Tripods", []string{"Tripod", "Travel Tripod", "Mini Tripod"}, [4]int64{15, 40, 120, 400}, 10, false, false, []string{"Cameras", "Cases"}, []string{"tripod", "travel tripod"}},
	{"Electronics > Audio > Headphones", []string{"Headphones", "Earbuds", "Noise-Cancelling Headphones"}, [4]int64{15, 60, 180, 450}, 55, true, false, []string{"Chargers", "Speakers"}, []string{"headphones", "earbuds", "noise cancelling"}},
	{"Electronics > Audio > Speakers", []string{"Bluetooth Speaker", "Smart Speaker", "Soundbar"}, [4]int64{20, 70, 200, 800}, 30, true, false, []string{"Headphones"}, []string{"speaker", "bluetooth speaker", "soundbar"}},
	{"Electronics > Phones > Smartphones", []string{"Smartphone", "Smartphone Plus", "Smartphone Mini"}, [4]int64{150, 400, 800, 1500}, 30, true, false, []string{"Phone Cases", "Chargers", "Headphones"}, []string{"smartphone", "phone"}},
	{"Electronics > Phones > Phone Cases", []string{"Phone Case", "Wallet Case", "Screen Protector"}, [4]int64{8, 20, 40, 80}, 40, true, false, []string{"Smartphones", "Chargers"}, []string{"phone case", "screen protector"}},
	{"Home > Kitchen > Cookware", []string{"Frying Pan", "Saucepan", "Dutch Oven", "Wok"}, [4]int64{15, 50, 130, 400}, 35, true, false, []string{"Knives", "Cookbooks"}, []string{"frying pan", "dutch oven", "cookware"}},
	{"Home > Kitchen > Knives", []string{"Chef's Knife", "Knife Set", "Paring Knife", "Bread Knife"}, [4]int64{10, 40, 120, 400}, 20, false, false, []string{"Cookware", "Cookbooks"}, []string{"chef knife", "knife set"}},
	{"Home > Kitchen > Coffee Makers", []string{"Espresso Machine", "Pour-Over Set", "French Press", "Coffee Grinder"}, [4]int64{20, 80, 300, 1200}, 25, true, false, []string{"Coffee Beans", "Mugs"}, []string{"espresso machine", "french press", "coffee grinder"}},
	{"Home > Kitchen > Mugs", []string{"Mug", "Travel Mug", "Espresso Cups"}, [4]int64{5, 12, 25, 60}, 25, true, false, []string{"Coffee Beans", "Tea"}, []string{"mug", "travel mug"}},
	{"Home > Bedding > Sheets", []string{"Sheet Set", "Duvet Cover", "Linen Sheets"}, [4]int64{20, 60, 150, 400}, 25, true, false, []string{"Pillows"}, []string{"bed sheets", "duvet cover"}},
	{"Home > Bedding > Pillows", []string{"Pillow", "Memory Foam Pillow", "Down Pillow"}, [4]int64{10, 30, 70, 180}, 20, false, false, []string{"Sheets"}, []string{"pillow", "memory foam pillow"}},
	{"Home > Decor > Candles", []string{"Scented Candle", "Candle Set", "Pillar Candle"}, [4]int64{6, 15, 35, 90}, 30, false, false, []string{"Lamps", "Fragrance"}, []string{"candle", "scented candle"}},
	{"Home > Decor > Lamps", []string{"Table Lamp", "Floor Lamp", "Desk Lamp"}, [4]int64{20, 60, 150, 500}, 15, true, false, []string{"Candles"}, []string{"lamp", "desk lamp", "floor lamp"}},
	{"Beauty > Skincare > Moisturizers", []string{"Moisturizer", "Day Cream", "Night Cream"}, [4]int64{8, 25, 60, 180}, 40, false, true, []string{"Cleansers"}, []string{"moisturizer", "night cream"}},
	{"Beauty > Skincare > Cleansers", []string{"Cleanser", "Face Wash", "Micellar Water"}, [4]int64{6, 15, 35, 80}, 35, false, true, []string{"Moisturizers"}, []string{"cleanser", "face wash"}},
	{"Beauty > Makeup > Lipstick", []string{"Lipstick", "Lip Gloss", "Lip Balm"}, [4]int64{6, 18, 35, 70}, 30, true, false, []string{"Moisturizers", "Fragrance"}, []string{"lipstick", "lip gloss"}},
	{"Beauty > Fragrance", []string{"Eau de Parfum", "Eau de Toilette", "Body Mist"}, [4]int64{20, 60, 120, 300}, 20, false, false, []string{"Candles", "Lipstick"}, []string{"perfume", "fragrance"}},
	{"Sports > Fitness > Yoga Mats", []string{"Yoga Mat", "Travel Yoga Mat", "Yoga Block"}, [4]int64{12, 30, 70, 150}, 25, true, false, []string{"Dumbbells"}, []string{"yoga mat"}},
	{"Sports > Fitness > Dumbbells", []string{"Dumbbell Set", "Kettlebell", "Resistance Bands"}, [4]int64{10, 40, 120, 400}, 20, false, false, []string{"Yoga Mats"}, []string{"dumbbells", "kettlebell"}},
	{"Sports > Cycling > Bikes", []string{"Road Bike", "Commuter Bike", "E-Bike"}, [4]int64{250, 700, 1800, 5000}, 10, true, false, []string{"Helmets", "Bike Lights"}, []string{"bike", "e-bike", "road bike"}},
	{"Sports > Cycling > Helmets", []string{"Bike Helmet", "Commuter Helmet", "MIPS Helmet"}, [4]int64{25, 60, 130, 300}, 12, true, false, []string{"Bikes", "Bike Lights"}, []string{"bike helmet", "helmet"}},
	{"Sports > Cycling > Bike Lights", []string{"Bike Light Set", "Rear Light", "Front Light"}, [4]int64{10, 25, 60, 150}, 12, false, false, []string{"Helmets", "Bikes"}, []string{"bike light"}},
	{"Sports > Camping > Tents", []string{"Tent", "Backpacking Tent", "Family Tent"}, [4]int64{50, 150, 400, 900}, 12, true, false, []string{"Sleeping Bags", "Travel Guides"}, []string{"tent", "backpacking tent"}},
	{"Sports > Camping > Sleeping Bags", []string{"Sleeping Bag", "Down Sleeping Bag", "Sleeping Pad"}, [4]int64{30, 90, 220, 600}, 10, true, false, []string{"Tents"}, []string{"sleeping bag"}},
	{"Books > Fiction", []string{"Novel", "Thriller", "Short Stories"}, [4]int64{6, 12, 20, 40}, 45, false, false, []string{"Non-Fiction"}, []string{"novel", "thriller", "bestseller"}},
	{"Books > Non-Fiction", []string{"Biography", "History", "Essays"}, [4]int64{8, 15, 25, 50}, 30, false, false, []string{"Fiction"}, []string{"biography", "history book"}},
	{"Books > Cookbooks", []string{"Cookbook", "Baking Book", "Vegetarian Cookbook"}, [4]int64{12, 20, 35, 60}, 15, false, false, []string{"Cookware", "Knives"}, []string{"cookbook", "baking"}},
	{"Books > Travel Guides", []string{"Travel Guide", "City Guide", "Hiking Guide"}, [4]int64{8, 15, 25, 45}, 10, false, false, []string{"Tents", "Cameras"}, []string{"travel guide", "city guide"}},
	{"Toys > Building Sets", []string{"Building Set", "Construction Kit", "Robot Kit"}, [4]int64{10, 40, 120, 400}, 25, false, false, []string{"Board Games"}, []string{"building set", "robot kit"}},
	{"Toys > Board Games", []string{"Board Game", "Card Game", "Strategy Game"}, [4]int64{10, 25, 50, 120}, 25, false, false, []string{"Puzzles"}, []string{"board game", "card game"}},
	{"Toys > Puzzles", []string{"Jigsaw Puzzle", "3D Puzzle", "Puzzle Box"}, [4]int64{8, 18, 35, 80}, 15, false, false, []string{"Board Games"}, []string{"puzzle", "jigsaw"}},
	{"Toys > Plush", []string{"Plush Toy", "Teddy Bear", "Plush Dragon"}, [4]int64{8, 20, 40, 100}, 15, true, false, []string{"Board Games"}, []string{"teddy bear", "plush"}},
	{"Grocery > Coffee Beans", []string{"Espresso Beans", "Single-Origin Coffee", "Decaf Coffee"}, [4]int64{8, 15, 25, 50}, 35, false, true, []string{"Coffee Makers", "Mugs"}, []string{"coffee beans", "espresso beans"}},
	{"Grocery > Tea", []string{"Green Tea", "Black Tea", "Herbal Tea"}, [4]int64{4, 10, 20, 45}, 20, false, true, []string{"Mugs"}, []string{"tea", "green tea"}},
	{"Grocery > Snacks", []string{"Granola", "Dark Chocolate", "Trail Mix"}, [4]int64{3, 7, 15, 30}, 25, false, true, []string{"Coffee Beans", "Tea"}, []string{"granola", "chocolate"}},
	{"Pets > Dogs > Dog Food", []string{"Dry Dog Food", "Wet Dog Food", "Puppy Food"}, [4]int64{10, 30, 60, 120}, 30, false, true, []string{"Dog Toys"}, []string{"dog food", "puppy food"}},
	{"Pets > Dogs > Dog Toys", []string{"Chew Toy", "Rope Toy", "Ball Launcher"}, [4]int64{4, 12, 25, 60}, 20, true, false, []string{"Dog Food"}, []string{"dog toy", "chew toy"}},
	{"Pets > Cats > Cat Food", []string{"Dry Cat Food", "Wet Cat Food", "Kitten Food"}, [4]int64{8, 25, 50, 100}, 25, false, true, []string{"Cat Litter"}, []string{"cat food"}},
	{"Pets > Cats > Cat Litter", []string{"Clumping Litter", "Litter Box", "Litter Mat"}, [4]int64{8, 20, 40, 120}, 15, false, true, []string{"Cat Food"}, []string{"cat litter", "litter box"}},
	{"Garden > Tools", []string{"Pruning Shears", "Garden Trowel", "Garden Hose"}, [4]int64{8, 25, 60, 200}, 15, false, false, []string{"Planters", "Plants"}, []string{"pruning shears", "garden tools"}},
	{"Garden > Plants", []string{"Houseplant", "Herb Kit", "Succulent Set"}, [4]int64{5, 15, 35, 90}, 20, false, false, []string{"Planters"}, []string{"houseplant", "succulent"}},
	{"Garden > Planters", []string{"Planter", "Hanging Planter", "Raised Bed"}, [4]int64{8, 25, 60, 250}, 15, true, false, []string{"Plants", "Tools"}, []string{"planter", "raised bed"}},
}

// topDefs holds, per top category, the brands and adjectives product names use.
var topDefs = []struct {
	name       string
	brands     []string
	adjectives []string
}{
	{"Apparel", []string{"Northwind", "Alder & Co", "Fieldstone", "Harbor Lane", "Kestrel", "Moss Row"}, []string{"Classic", "Essential", "Alpine", "Urban", "Heritage", "Everyday", "Organic Cotton", "Relaxed"}},
	{"Footwear", []string{"Stride", "Trailhead", "Corso", "Pebblewalk"}, []string{"Classic", "Cloud", "Trail", "Urban", "Waterproof", "Lightweight"}},
	{"Electronics", []string{"Lumen", "Voltra", "Aperture Labs", "Sonique", "Brightwave"}, []string{"Pro", "Lite", "Max", "Air", "Studio", "X2"}},
	{"Home", []string{"Hearth & Oak", "Copperleaf", "Linnea", "Casa Nova"}, []string{"Classic", "Nordic", "Artisan", "Ceramic", "Stoneware", "Signature"}},
	{"Beauty", []string{"Glow Theory", "Petal & Co", "Aurelle"}, []string{"Hydrating", "Gentle", "Radiance", "Daily", "Velvet", "Pure"}},
	{"Sports", []string{"Summit Gear", "Peak Form", "Velo"}, []string{"Pro", "Trail", "Ultralight", "Active", "Endurance", "Core"}},
	{"Books", []string{"Inkwell Press", "Lantern Books", "Meridian House"}, []string{"The Quiet", "The Last", "A Year of", "Notes on", "The Hidden", "Modern"}},
	{"Toys", []string{"Brickwell", "Playwise", "Kitebox"}, []string{"Deluxe", "Junior", "Family", "Classic", "Mega", "Mini"}},
	{"Grocery", []string{"Roastery Nine", "Leaf & Kettle", "Crunch Co"}, []string{"Organic", "House", "Dark Roast", "Fair Trade", "Morning", "Small Batch"}},
	{"Pets", []string{"Happy Paws", "Whisker", "Good Boy"}, []string{"Grain-Free", "Natural", "Senior", "Active", "Salmon", "Chicken"}},
	{"Garden", []string{"Greenthumb", "Terra", "Bloomfield"}, []string{"Classic", "Ergonomic", "Terracotta", "Compact", "Heirloom", "Balcony"}},
}

var colors = []string{"Black", "White", "Navy", "Grey", "Olive", "Beige", "Red", "Blue", "Green", "Burgundy", "Brown", "Pink"}

// Price bands.
const (
	bandBudget = iota
	bandMid
	bandPremium
)

var bandNames = [3]string{"budget", "mid", "premium"}

// leaf is a leafDef resolved for sampling.
type leaf struct {
	def         *leafDef
	top         int
	slug        string // URL path of the category page
	title       string
	complements []int
	// groups holds, per price band, the products of the leaf with cumulative
	// popularity weights for sampling.
	groups [3]weighted
}

// weighted samples items (products, leaf categories, cities) with
// probability proportional to their weights.
type weighted struct {
	items []int32
	cum   []uint64
}

func (w *weighted) add(item int32, weight uint64) {
	var last uint64
	if n := len(w.cum); n > 0 {
		last = w.cum[n-1]
	}
	w.items = append(w.items, item)
	w.cum = append(w.cum, last+weight)
}

func (w *weighted) pick(r *rand.Rand) int32 {
	n := len(w.cum)
	x := r.Uint64N(w.cum[n-1])
	lo, hi := 0, n-1
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		if w.cum[m] > x {
			hi = m
		} else {
			lo = m + 1
		}
	}
	return w.items[lo]
}

// product is the generator's compact view of a catalog product.
type product struct {
	id, name, brand, color string
	leaf                   int
	band                   int
	cents                  int64
	stock                  int64 // -1: not tracked
	path, url, title       string
	// frag is the JSON shared by every event that carries the product:
	// "product_id":...,"sku":...,"name":...,"brand":...,"category":...,"price":...
	frag []byte
}

const shopURL = "https://example.com"

// buildCatalog creates the leaves and products. It draws from its own random
// stream so the catalog depends only on Seed and Products.
func (g *Generator) buildCatalog() {
	r := rand.New(rand.NewPCG(mix(uint64(g.cfg.Seed)^0x6361_7461_6c6f_6721), mix(0xC0FFEE)))

	byName := make(map[string]int, len(leafDefs))
	g.leaves = make([]leaf, len(leafDefs))
	for i := range leafDefs {
		d := &leafDefs[i]
		parts := strings.Split(d.path, " > ")
		byName[parts[len(parts)-1]] = i
		top := -1
		for t := range topDefs {
			if topDefs[t].name == parts[0] {
				top = t
			}
		}
		if top < 0 {
			panic("demo: no topDefs entry for " + d.path)
		}
		slug := "/c"
		for _, p := range parts {
			slug += "/" + slugify(p)
		}
		g.leaves[i] = leaf{def: d, top: top, slug: slug, title: parts[len(parts)-1] + " | Tailor Demo Shop"}
	}
	g.leafPick = weighted{}
	for i := range g.leaves {
		l := &g.leaves[i]
		for _, c := range l.def.complements {
			j, ok := byName[c]
			if !ok {
				panic("demo: unknown complement " + c + " of " + l.def.path)
			}
			l.complements = append(l.complements, j)
		}
		g.leafPick.add(int32(i), uint64(l.def.weight))
	}

	n := g.cfg.Products
	g.products = make([]product, n)
	// Popularity is Zipf-like: the product at popularity rank k weighs
	// leafWeight/(k+1). Ranks are a random permutation so that popular
	// products are spread over ids and categories.
	rank := r.Perm(n)
	g.trending = weighted{}
	for i := 0; i < n; i++ {
		var li int
		if n >= len(g.leaves) && i < len(g.leaves) {
			li = i // every leaf gets at least one product
		} else {
			li = int(g.leafPick.pick(r))
		}
		l := &g.leaves[li]
		d := l.def
		band := bandBudget
		switch x := r.IntN(100); {
		case x >= 80:
			band = bandPremium
		case x >= 40:
			band = bandMid
		}
		lo, hi := d.band[band], d.band[band+1]
		cents := (lo + r.Int64N(hi-lo)) * 100
		switch x := r.IntN(10); {
		case x < 7:
			cents += 99
		case x < 9:
			cents += 49
		}
		stock := int64(-1)
		switch x := r.IntN(100); {
		case x < 7:
			stock = 0
		case x < 90:
			stock = 1 + r.Int64N(400)
		}
		top := &topDefs[l.top]
		brand := top.brands[r.IntN(len(top.brands))]
		name := brand + " " + top.adjectives[r.IntN(len(top.adjectives))] + " " + d.nouns[r.IntN(len(d.nouns))]
		color := ""
		if d.color {
			color = colors[r.IntN(len(colors))]
		}
		id := "sku-" + pad5(i+1)
		p := &g.products[i]
		*p = product{
			id: id, name: name, brand: brand, color: color, leaf: li, band: band,
			cents: cents, stock: stock,
			path:  "/products/" + slugify(name) + "-" + id,
			title: name + " | Tailor Demo Shop",
		}
		p.url = shopURL + p.path
		b := make([]byte, 0, 160)
		b = append(b, `"product_id":`...)
		b = appendStr(b, id)
		b = append(b, `,"sku":`...)
		b = appendStr(b, id)
		b = append(b, `,"name":`...)
		b = appendStr(b, name)
		b = append(b, `,"brand":`...)
		b = appendStr(b, brand)
		if color != "" {
			b = append(b, `,"variant":`...)
			b = appendStr(b, color)
		}
		b = append(b, `,"category":`...)
		b = appendStr(b, d.path)
		b = append(b, `,"price":`...)
		b = appendCents(b, cents)
		p.frag = b

		w := uint64(d.weight) * 1_000_000 / uint64(rank[i]+1)
		if w == 0 {
			w = 1
		}
		l.groups[band].add(int32(i), w)
		g.trending.add(int32(i), w)
	}
}

// pickProduct returns a product of leaf li, preferring the price band.
func (g *Generator) pickProduct(r *rand.Rand, li, band int) int {
	l := &g.leaves[li]
	for k := 0; k < 3; k++ {
		if gr := &l.groups[(band+k)%3]; len(gr.items) > 0 {
			return int(gr.pick(r))
		}
	}
	// The leaf has no product (tiny catalogs): fall back to a trending one.
	return int(g.trending.pick(r))
}

// Products calls fn for every catalog product, in a deterministic order.
// Attributes: brand, color (when the category has colours), price_band
// (budget|mid|premium) and complements ([]string of leaf category paths that
// are often bought with the product).
func (g *Generator) Products(fn func(catalog.Product) error) error {
	for i := range g.products {
		if err := fn(g.catalogProduct(i)); err != nil {
			return err
		}
	}
	return nil
}

func (g *Generator) catalogProduct(i int) catalog.Product {
	p := &g.products[i]
	l := &g.leaves[p.leaf]
	attrs := map[string]any{
		"brand":      p.brand,
		"price_band": bandNames[p.band],
	}
	if p.color != "" {
		attrs["color"] = p.color
	}
	if len(l.complements) > 0 {
		c := make([]string, len(l.complements))
		for k, j := range l.complements {
			c[k] = g.leaves[j].def.path
		}
		attrs["complements"] = c
	}
	cp := catalog.Product{
		ID:       p.id,
		Name:     p.name,
		Category: l.def.path,
		Price:    float64(p.cents) / 100,
		Currency: "USD",
		URL:      p.url,
		ImageURL: shopURL + "/images/" + p.id + ".jpg",
		Attrs:    attrs,
	}
	if p.stock >= 0 {
		s := p.stock
		cp.Stock = &s
	}
	return cp
}

// Categories returns the leaf category paths of the catalog, in catalog order.
func (g *Generator) Categories() []string {
	out := make([]string, len(g.leaves))
	for i := range g.leaves {
		out[i] = g.leaves[i].def.path
	}
	return out
}

func pad5(n int) string {
	s := strconv.Itoa(n)
	for len(s) < 5 {
		s = "0" + s
	}
	return s
}

// slugify lowercases s and turns every run of non-alphanumerics into "-".
func slugify(s string) string {
	b := make([]byte, 0, len(s))
	dash := false
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z', c >= '0' && c <= '9':
		case c >= 'A' && c <= 'Z':
			c += 'a' - 'A'
		default:
			dash = len(b) > 0
			continue
		}
		if dash {
			b = append(b, '-')
			dash = false
		}
		b = append(b, c)
	}
	return string(b)
}
