package event

import (
	"hash/maphash"
	"sync/atomic"
	"unicode/utf8"

	"github.com/valyala/fastjson"
)

// Interning: most of the cost of decoding a message is allocating the
// strings of its properties, traits and context, and a string value in a
// map[string]any costs two allocations (its bytes and its box). Yet most
// keys, and the values of some keys, are the same from one message to the
// next: every context has "locale" and "timezone", and their values are a
// few dozen strings. Sharing those strings is safe because decoded values
// are read-only, and invisible: a shared string equals the one it saves.

// commonKey is an entry of commonKeys.
type commonKey struct {
	name string
	// repeats marks a key whose values are few across all messages (a
	// locale, a library version, a currency): its string values go through
	// the value cache. Keys with many values (ids, urls, addresses, person
	// names) are not marked: they would only evict the useful entries.
	repeats bool
}

// commonKeys are object keys frequent in Segment messages: the spec's
// e-commerce, page, traits and context fields. The table is fixed, so it
// cannot grow with what clients send; a lookup with string(k) does not
// allocate.
var commonKeys = func() map[string]commonKey {
	keys := []string{
		// properties: e-commerce and page specs
		"product_id", "sku", "name", "price", "quantity", "url", "image_url",
		"position", "coupon", "discount", "order_id", "checkout_id", "cart_id",
		"products", "revenue", "value", "total", "subtotal", "tax", "shipping",
		"affiliation", "list_id", "query", "step", "path", "title", "referrer",
		"search", "keywords",
		// traits
		"email", "phone", "firstName", "lastName", "first_name", "last_name",
		"username", "address", "city", "postalCode", "street", "birthday",
		"createdAt", "company", "id", "age", "avatar", "description",
		"website", "employees",
		// context
		"ip", "library", "page", "campaign", "content", "term", "app",
		"device", "advertisingId", "adTrackingEnabled", "token", "os",
		"screen", "width", "height", "density", "network", "bluetooth",
		"cellular", "wifi", "location", "latitude", "longitude", "speed",
		"traits", "active", "groupId", "userAgentData", "brands", "mobile",
	}
	repeating := []string{
		"category", "brand", "variant", "currency", "payment_method",
		"shipping_method", "country", "state", "gender", "plan", "industry",
		"locale", "timezone", "userAgent", "version", "build", "namespace",
		"type", "manufacturer", "model", "carrier", "platform", "source",
		"medium", "channel",
	}
	m := make(map[string]commonKey, len(keys)+len(repeating))
	for _, k := range keys {
		m[k] = commonKey{name: k}
	}
	for _, k := range repeating {
		m[k] = commonKey{name: k, repeats: true}
	}
	return m
}()

// internKey returns k as a string, from commonKeys when it is there, and
// whether the key's values repeat.
func internKey(k []byte) (string, bool) {
	if c, ok := commonKeys[string(k)]; ok {
		return c.name, c.repeats
	}
	return validKey(k), false
}

// The value cache is a fixed, direct-mapped table of boxed strings: a hit
// costs a hash and a comparison, a miss replaces the slot. It is shared by
// every decoding goroutine without a lock: each slot is an atomic.Value
// that only ever holds a string, and a reader uses whatever string it
// loads only after comparing it with the bytes it has. Its memory is
// bounded by internSlots strings of at most maxInternLen bytes.
const (
	internSlots  = 4096 // a power of two
	maxInternLen = 256  // a user agent fits
)

var (
	internSeed = maphash.MakeSeed()
	internSlot [internSlots]atomic.Value
)

// internString returns the string value v (TypeString) boxed, the same
// string as validString(v), shared with earlier messages when it is in the
// cache.
func internString(v *fastjson.Value) any {
	b, _ := v.StringBytes()
	if len(b) > maxInternLen || !utf8.Valid(b) {
		return validString(v)
	}
	slot := &internSlot[maphash.Bytes(internSeed, b)&(internSlots-1)]
	x := slot.Load()
	if s, ok := x.(string); ok && s == string(b) {
		return x
	}
	x = string(b)
	slot.Store(x)
	return x
}
