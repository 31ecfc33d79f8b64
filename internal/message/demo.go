package message

// Demo templates: the ones the demo store's journeys send (their ids are
// what package journey's demo journeys refer to). They show what templates
// can do: product blocks from the catalog, a locale variant, defaults,
// coupons from a pool, and the preference and unsubscribe links.

const demoFooter = `<p style="color:#666;font-size:12px">You get this email because you shop with Tailor Shop.
<a href="{{ preferences_url }}">Your preferences</a> · <a href="{{ unsubscribe_url }}">Unsubscribe</a></p>`

// productBlock lists up to 3 products of a computed list (recently_carted …).
func productBlock(list string) string {
	return `{% for item in profile.computed.` + list + ` limit:3 %}{% assign p = catalog[item.product_id] %}{% if p %}
<p><a href="{{ p.url | default: "https://shop.example/" }}">{{ p.name }}</a> — {{ p.price | round: 2 }} {{ p.currency | default: "USD" }}</p>{% endif %}{% endfor %}`
}

// DemoCouponPools are the demo store's coupon pools and how many codes each
// gets.
var DemoCouponPools = map[string]int{"cart10": 5000, "winback15": 5000}

// DemoTemplates returns the demo store's templates.
func DemoTemplates() []Template {
	def := map[string]any{"first_name": "there"}
	email := func(id, name, subject, body, text string) Template {
		return Template{ID: id, Name: name, Channel: "email", Defaults: def,
			Parts: Parts{Subject: subject, HTML: "<html><body>" + body + demoFooter + "</body></html>", Text: text + "\n\nPreferences: {{ preferences_url }}\nUnsubscribe: {{ unsubscribe_url }}"}}
	}
	cart := email("cart-reminder", "Cart reminder", "{{ profile.traits.first_name }}, your cart is waiting",
		"<p>Hi {{ profile.traits.first_name }},</p><p>You left these in your cart:</p>"+productBlock("recently_carted")+`<p><a href="https://shop.example/cart">Back to your cart</a></p>`,
		"Hi {{ profile.traits.first_name }}, your cart is waiting: https://shop.example/cart")
	cart.Locales = map[string]Parts{"fr": {Subject: "{{ profile.traits.first_name }}, votre panier vous attend",
		Text: "Bonjour {{ profile.traits.first_name }}, votre panier vous attend : https://shop.example/cart"}}
	welcome1 := email("welcome-1", "Welcome 1: hello", "Welcome to Tailor Shop, {{ profile.traits.first_name }}",
		"<p>Hi {{ profile.traits.first_name }}, welcome!</p><p>Tell us what you like and we will send only that: <a href=\"{{ preferences_url }}\">choose your topics</a>.</p>",
		"Hi {{ profile.traits.first_name }}, welcome to Tailor Shop!")
	welcome1.Locales = map[string]Parts{"fr": {Subject: "Bienvenue chez Tailor Shop, {{ profile.traits.first_name }}",
		Text: "Bonjour {{ profile.traits.first_name }}, bienvenue chez Tailor Shop !"}}
	return []Template{
		cart,
		email("cart-reminder-coupon", "Cart reminder with coupon", "10% off what is in your cart, {{ profile.traits.first_name }}",
			"<p>Hi {{ profile.traits.first_name }},</p><p>Still thinking? Here is 10% off with the code <strong>{% coupon cart10 %}</strong>.</p>"+productBlock("recently_carted"),
			"Hi {{ profile.traits.first_name }}, 10% off your cart: https://shop.example/cart"),
		email("thank-you", "Thank you for your order", "Thank you for your order, {{ profile.traits.first_name }}",
			"<p>Thank you, {{ profile.traits.first_name }}! Your order {{ event.order_id }} of {{ event.total | default: event.revenue }} {{ event.currency | default: 'USD' }} is on its way.</p>",
			"Thank you for your order {{ event.order_id }}."),
		email("cross-sell", "Cross-sell after a purchase", "{{ profile.traits.first_name }}, these go well with your order",
			"<p>Picked for you, based on what you bought:</p>"+productBlock("recently_purchased"),
			"Picked for you: https://shop.example/"),
		email("browse-reminder", "Browse abandonment", "Still looking, {{ profile.traits.first_name }}?",
			"<p>You looked at these recently:</p>"+productBlock("recently_viewed"),
			"You looked at a few things recently: https://shop.example/"),
		email("win-back", "Win-back", "We miss you, {{ profile.traits.first_name }}",
			"<p>It has been a while. Here is what is new{% if profile.computed.favourite_category %} in {{ profile.computed.favourite_category }}{% endif %}.</p><p><a href=\"https://shop.example/new\">See what is new</a></p>",
			"It has been a while: https://shop.example/new"),
		email("win-back-coupon", "Win-back with coupon", "15% off to welcome you back, {{ profile.traits.first_name }}",
			"<p>Come back for 15% off with the code <strong>{% coupon winback15 %}</strong>.</p>",
			"15% off with the code {% coupon winback15 %}"),
		welcome1,
		email("welcome-2", "Welcome 2: bestsellers", "Our bestsellers, {{ profile.traits.first_name }}",
			"<p>What other customers love: <a href=\"https://shop.example/bestsellers\">bestsellers</a>.</p>",
			"Bestsellers: https://shop.example/bestsellers"),
		email("welcome-3", "Welcome 3: your first order", "Ready for your first order?",
			"<p>Free shipping on your first order this week.</p>",
			"Free shipping on your first order this week."),
		{ID: "come-back-push", Name: "App gone quiet", Channel: "push", Defaults: def,
			Parts: Parts{Title: "New in for you, {{ profile.traits.first_name }}", Body: "Open the app to see what is new{% if profile.computed.favourite_category %} in {{ profile.computed.favourite_category }}{% endif %}.", URL: "https://shop.example/app/new"}},
	}
}
