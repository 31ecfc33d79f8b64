package e2e

import (
	"bufio"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestImportDemo writes the demo store with `tailor demo`, loads it into a
// running server with `tailor import`, and checks random customers: found by
// email, with as many orders as events.ndjson has Order Completed events for
// them.
func TestImportDemo(t *testing.T) {
	demoDir := t.TempDir()
	runTailor(t, 2*time.Minute, "demo", "--customers", "300", "--out", demoDir)
	entries, err := os.ReadDir(demoDir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	productsFile := ""
	for _, e := range entries {
		names = append(names, e.Name())
		if strings.HasPrefix(e.Name(), "products.") {
			productsFile = filepath.Join(demoDir, e.Name())
		}
	}
	customersFile := filepath.Join(demoDir, "customers.csv")
	eventsFile := filepath.Join(demoDir, "events.ndjson")
	for _, f := range []string{productsFile, customersFile, eventsFile} {
		if _, err := os.Stat(f); f == "" || err != nil {
			t.Fatalf("tailor demo wrote %q; want products.*, customers.csv and events.ndjson", names)
		}
	}

	s := startServer(t, t.TempDir())
	for _, kind := range []struct{ what, file string }{
		{"products", productsFile}, {"customers", customersFile}, {"events", eventsFile},
	} {
		out := runTailor(t, 5*time.Minute, "import", "--target", s.URL, "--write-key", s.WriteKey,
			"--admin-token", s.AdminToken, kind.what, kind.file)
		t.Logf("tailor import %s: %s", kind.what, strings.TrimSpace(tail(out, 3)))
	}

	// The catalog holds the demo's products.
	if id := firstProductID(t, productsFile); id != "" {
		code, body := s.adminGet(t, "/api/catalog/products/"+url.PathEscape(id), nil)
		if code != http.StatusOK {
			t.Errorf("GET /api/catalog/products/%s after the import: %d %s", id, code, body)
		}
	}

	customers := readCustomers(t, customersFile)
	if len(customers) != 300 {
		t.Errorf("customers.csv has %d customers, want 300", len(customers))
	}
	orders := countOrders(t, eventsFile)
	var buyers, others []demoCustomer
	for _, c := range customers {
		if orders[c.userID].n > 0 {
			buyers = append(buyers, c)
		} else {
			others = append(others, c)
		}
	}
	total := 0
	for _, o := range orders {
		total += o.n
	}
	t.Logf("%d customers, %d with orders, %d Order Completed events", len(customers), len(buyers), total)
	if len(buyers) == 0 {
		t.Fatalf("events.ndjson has no Order Completed event of any customer")
	}
	seed := uint64(time.Now().UnixNano())
	rng := rand.New(rand.NewPCG(seed, 1))
	picks := []demoCustomer{buyers[rng.IntN(len(buyers))], buyers[rng.IntN(len(buyers))]}
	if len(others) > 0 {
		picks = append(picks, others[rng.IntN(len(others))])
	}
	picks = append(picks, customers[rng.IntN(len(customers))])
	for _, c := range picks {
		want := orders[c.userID]
		t.Logf("checking customer %s <%s>: %d orders, revenue %.2f (seed %d)", c.userID, c.email, want.n, want.revenue, seed)
		// The import is acked, but applying ~10^4 events takes a moment.
		p := s.waitProfile(t, c.email, 60*time.Second, func(p *Profile) error {
			if p.Computed.Orders != want.n {
				return fmt.Errorf("orders = %d, want %d (Order Completed events in events.ndjson)", p.Computed.Orders, want.n)
			}
			if !p.hasIdentity("user_id", c.userID) {
				return fmt.Errorf("identities lack user_id %q", c.userID)
			}
			return nil
		})
		if d := p.Computed.TotalRevenue - want.revenue; d > 0.005 || d < -0.005 {
			t.Errorf("customer %s: total_revenue %.2f, want %.2f (sum of the orders' revenue)", c.userID, p.Computed.TotalRevenue, want.revenue)
		}
		if want.n > 0 && p.Computed.LastOrderAt == "" {
			t.Errorf("customer %s has %d orders but no last_order_at", c.userID, want.n)
		}
		if got, _ := p.Traits["email"].(string); !strings.EqualFold(got, c.email) {
			t.Errorf("customer %s: traits.email %q, want %q", c.userID, got, c.email)
		}
		if q, ok := s.getProfile(t, c.userID); !ok || q.ID != p.ID {
			t.Errorf("customer %s: by user id found=%v %q, by email %q", c.userID, ok, q.ID, p.ID)
		}
	}
}

type demoCustomer struct{ userID, email string }

// readCustomers reads the user id and email columns of customers.csv, found
// by their header names.
func readCustomers(t *testing.T, path string) []demoCustomer {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r := csv.NewReader(f)
	header, err := r.Read()
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	idCol, emailCol := -1, -1
	for i, h := range header {
		switch strings.NewReplacer("_", "", " ", "", "-", "").Replace(strings.ToLower(strings.TrimSpace(h))) {
		case "userid":
			idCol = i
		case "email":
			emailCol = i
		}
	}
	if idCol < 0 || emailCol < 0 {
		t.Fatalf("%s: header %q has no user_id and email columns", path, header)
	}
	var out []demoCustomer
	for {
		rec, err := r.Read()
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		out = append(out, demoCustomer{userID: rec[idCol], email: strings.ToLower(rec[emailCol])})
	}
}

// demoOrders is what events.ndjson says about one user's orders.
type demoOrders struct {
	n       int
	revenue float64 // properties.revenue, else total, else sum of products' price x quantity
}

// countOrders counts the Order Completed events of every user in an NDJSON
// file of Segment messages, each message id once. Anonymous events count for
// the user whose messages (or alias) tie the anonymous id to a user id.
func countOrders(t *testing.T, path string) map[string]demoOrders {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	type msg struct {
		Type        string         `json:"type"`
		Event       string         `json:"event"`
		UserID      string         `json:"userId"`
		AnonymousID string         `json:"anonymousId"`
		PreviousID  string         `json:"previousId"`
		MessageID   string         `json:"messageId"`
		Properties  map[string]any `json:"properties"`
	}
	seen := map[string]bool{} // a message id counts once, as the server dedupes
	anonUser := map[string]string{}
	var orders []msg
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for line := 1; sc.Scan(); line++ {
		b := sc.Bytes()
		if len(strings.TrimSpace(string(b))) == 0 {
			continue
		}
		var m msg
		if err := json.Unmarshal(b, &m); err != nil {
			t.Fatalf("%s line %d: %v", path, line, err)
		}
		if m.MessageID != "" {
			if seen[m.MessageID] {
				continue
			}
			seen[m.MessageID] = true
		}
		if m.UserID != "" && m.AnonymousID != "" {
			anonUser[m.AnonymousID] = m.UserID
		}
		if m.Type == "alias" && m.UserID != "" && m.PreviousID != "" {
			anonUser[m.PreviousID] = m.UserID
		}
		if m.Event == "Order Completed" && (m.Type == "track" || m.Type == "") {
			orders = append(orders, m)
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	out := map[string]demoOrders{}
	for _, m := range orders {
		u := m.UserID
		if u == "" {
			u = anonUser[m.AnonymousID]
		}
		o := out[u]
		o.n++
		o.revenue += orderRevenue(m.Properties)
		out[u] = o
	}
	return out
}

// orderRevenue is the revenue of an Order Completed as the Segment e-commerce
// spec defines it: properties.revenue, else total, else the products' sum.
func orderRevenue(props map[string]any) float64 {
	if v, ok := props["revenue"].(float64); ok {
		return v
	}
	if v, ok := props["total"].(float64); ok {
		return v
	}
	sum := 0.0
	products, _ := props["products"].([]any)
	for _, it := range products {
		p, _ := it.(map[string]any)
		price, _ := p["price"].(float64)
		q, ok := p["quantity"].(float64)
		if !ok {
			q = 1
		}
		sum += price * q
	}
	return sum
}

// firstProductID returns the id of the first product of a products file
// (CSV with an id column, a JSON array or NDJSON).
func firstProductID(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if strings.HasSuffix(path, ".csv") {
		recs, err := csv.NewReader(strings.NewReader(string(b))).ReadAll()
		if err != nil || len(recs) < 2 {
			t.Fatalf("%s: %d records, %v", path, len(recs), err)
		}
		for i, h := range recs[0] {
			if h := strings.ToLower(h); h == "id" || h == "product_id" {
				return recs[1][i]
			}
		}
		t.Fatalf("%s: header %q has no id column", path, recs[0])
	}
	dec := json.NewDecoder(strings.NewReader(string(b)))
	var first map[string]any
	tok, err := dec.Token()
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	if d, ok := tok.(json.Delim); ok && d == '[' {
		err = dec.Decode(&first)
	} else {
		err = json.NewDecoder(strings.NewReader(string(b))).Decode(&first)
	}
	if err != nil {
		t.Fatalf("%s: first product: %v", path, err)
	}
	for _, k := range []string{"id", "product_id"} {
		if id, ok := first[k].(string); ok {
			return id
		}
	}
	t.Fatalf("%s: first product %v has no id", path, first)
	return ""
}
