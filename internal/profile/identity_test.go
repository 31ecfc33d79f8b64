package profile

import (
	"bufio"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"tailor/internal/event"
	"tailor/internal/identity"
)

// TestIdentityCases runs the text cases in testdata/identity. A case file is
// a list of events, one per line, then a line "----" and the profiles that
// must result, one per line: the profile's identifiers in key order, the
// number of events applied to it and its orders, then the non-zero
// identity counters. Event lines are "type key=value ...", with keys user,
// anon, prev, email, phone, event, revenue, at (seconds; default: the line
// number) and trust (client). "rules key=value" lines before the events
// change the rules (max, limits as in identity.Rules.ParseLimits, link).
func TestIdentityCases(t *testing.T) {
	files, err := filepath.Glob("testdata/identity/*.txt")
	if err != nil || len(files) == 0 {
		t.Fatalf("no cases: %v", err)
	}
	for _, f := range files {
		t.Run(strings.TrimSuffix(filepath.Base(f), ".txt"), func(t *testing.T) {
			evs, rules, want := readIdentityCase(t, f)
			s := NewStore()
			s.SetIdentityRules(rules)
			for _, e := range evs {
				s.apply(e)
			}
			got := describeProfiles(s)
			if got != want {
				t.Fatalf("%s:\n--- got\n%s--- want\n%s", f, got, want)
			}
			// A replay of the same log makes the same decisions.
			r := NewStore()
			r.SetIdentityRules(rules)
			for _, e := range evs {
				r.apply(e)
			}
			if again := describeProfiles(r); again != got {
				t.Fatalf("replay differs:\n%s\nvs\n%s", again, got)
			}
		})
	}
}

func readIdentityCase(t *testing.T, path string) ([]*event.Event, identity.Rules, string) {
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rules := identity.Defaults()
	var evs []*event.Event
	var want strings.Builder
	expect := false
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		switch {
		case line == "" || strings.HasPrefix(line, "#"):
			continue
		case line == "----":
			expect = true
			continue
		case expect:
			want.WriteString(line + "\n")
			continue
		}
		fields := strings.Fields(line)
		kv := map[string]string{}
		for _, f := range fields[1:] {
			k, v, ok := strings.Cut(f, "=")
			if !ok {
				t.Fatalf("%s:%d: %q is not key=value", path, n, f)
			}
			kv[k] = v
		}
		if fields[0] == "rules" {
			if v, ok := kv["max"]; ok {
				rules.MaxIdentities, _ = strconv.Atoi(v)
			}
			if v, ok := kv["limits"]; ok {
				if err := rules.ParseLimits(v); err != nil {
					t.Fatal(err)
				}
			}
			if v, ok := kv["link"]; ok {
				if err := rules.ParseLink(v); err != nil {
					t.Fatal(err)
				}
			}
			if err := rules.Validate(); err != nil {
				t.Fatalf("%s:%d: %v", path, n, err)
			}
			continue
		}
		typ, ok := event.ParseType(fields[0])
		if !ok {
			t.Fatalf("%s:%d: unknown type %q", path, n, fields[0])
		}
		at := n
		if v, ok := kv["at"]; ok {
			at, _ = strconv.Atoi(v)
		}
		e := &event.Event{Type: typ, Seq: uint64(len(evs) + 1), MessageID: fmt.Sprintf("m%d", n),
			UserID: kv["user"], AnonymousID: kv["anon"], PreviousID: kv["prev"], Event: kv["event"],
			Timestamp: time.Unix(1700000000+int64(at), 0).UTC()}
		if kv["trust"] == "client" {
			e.Trust = event.TrustClient
		}
		if kv["email"] != "" || kv["phone"] != "" {
			e.Traits = map[string]any{}
			if v := kv["email"]; v != "" {
				e.Traits["email"] = v
			}
			if v := kv["phone"]; v != "" {
				e.Traits["phone"] = v
			}
		}
		if v, ok := kv["revenue"]; ok {
			r, _ := strconv.ParseFloat(v, 64)
			e.Event = "Order Completed"
			e.Properties = map[string]any{"revenue": r}
		}
		if typ == event.Track && e.Event == "" {
			e.Event = "Page Read"
		}
		evs = append(evs, e)
	}
	return evs, rules, want.String()
}

// describeProfiles prints every profile as "ids | events=N orders=N", sorted,
// then the non-zero identity counters.
func describeProfiles(s *Store) string {
	var lines []string
	for _, p := range s.all() {
		ids := s.identities(p)
		keys := make([]string, len(ids))
		for i, id := range ids {
			keys[i] = id.Key()
		}
		slices.Sort(keys)
		v := s.decodedState(p).View()
		lines = append(lines, fmt.Sprintf("%s | events=%d orders=%d revenue=%g", strings.Join(keys, " "),
			v.Computed.EventCount, v.Computed.Orders, v.Computed.TotalRevenue))
	}
	slices.Sort(lines)
	st := s.stats
	var c []string
	for _, x := range []struct {
		name string
		n    uint64
	}{{"conflicts", st.Conflicts}, {"untrusted", st.Untrusted}, {"max_identities", st.MaxIdentities},
		{"alias_merges", st.AliasMerges}, {"alias_refused", st.AliasRefused}} {
		if x.n > 0 {
			c = append(c, fmt.Sprintf("%s=%d", x.name, x.n))
		}
	}
	for _, k := range []event.Kind{event.KindUserID, event.KindAnonymousID, event.KindEmail, event.KindPhone} {
		if n := st.Limited[k]; n > 0 {
			c = append(c, fmt.Sprintf("limited_%s=%d", k, n))
		}
	}
	if len(c) > 0 {
		lines = append(lines, "stats "+strings.Join(c, " "))
	}
	return strings.Join(lines, "\n") + "\n"
}

// TestIdentityInvariants applies random logs of identifies, tracks and
// aliases (from server and client sources, with small identifier pools so
// that links, conflicts and cycles are frequent) and checks what must hold
// whatever the rules decided:
//   - no event is lost or counted twice by merges;
//   - every profile holds exactly the events filed under its identifiers
//     (its timeline is its state);
//   - two userIds share a profile only if a chain of links with an alias in
//     it connects them;
//   - no profile holds more than MaxIdentities identifiers;
//   - a replay makes the same profiles.
func TestIdentityInvariants(t *testing.T) {
	for seed := range uint64(300) {
		rng := rand.New(rand.NewPCG(seed, 7))
		rules := identity.Defaults()
		rules.MaxIdentities = 2 + rng.IntN(12)
		rules.Limits[event.KindAnonymousID] = 1 + rng.IntN(4)
		rules.Limits[event.KindEmail] = 1 + rng.IntN(2)
		pick := func(prefix string, n int) string {
			if rng.IntN(3) == 0 {
				return ""
			}
			return fmt.Sprintf("%s%d", prefix, rng.IntN(n))
		}
		var evs []*event.Event
		for i := range 40 + rng.IntN(40) {
			e := &event.Event{Seq: uint64(i + 1), MessageID: fmt.Sprint("m", i), Timestamp: time.Unix(int64(1700000000+rng.IntN(1000)), 0)}
			if rng.IntN(4) == 0 {
				e.Trust = event.TrustClient
			}
			switch rng.IntN(5) {
			case 0:
				e.Type, e.UserID, e.PreviousID = event.Alias, fmt.Sprint("u", rng.IntN(6)), fmt.Sprint("u", rng.IntN(6))
				if rng.IntN(2) == 0 {
					e.PreviousID = fmt.Sprint("a", rng.IntN(8))
					if s := s8(rng); s != "" {
						e.PreviousID = s
					}
				}
			case 1, 2:
				e.Type, e.UserID, e.AnonymousID = event.Identify, pick("u", 6), pick("a", 8)
				if em := pick("e", 4); em != "" {
					e.Traits = map[string]any{"email": em + "@x.org"}
				}
			default:
				e.Type, e.Event, e.UserID, e.AnonymousID = event.Track, "E", pick("u", 6), pick("a", 8)
			}
			if e.UserID == "" && e.AnonymousID == "" {
				e.AnonymousID = "a0"
			}
			evs = append(evs, e)
		}

		s := NewStore()
		s.SetIdentityRules(rules)
		for _, e := range evs {
			s.apply(e)
		}
		var total int64
		for _, p := range s.all() {
			st := s.decodedState(p).View()
			total += st.Computed.EventCount
			filed := 0
			for _, e := range evs {
				if s.has(p, e.PrimaryID()) {
					filed++
				}
			}
			if int64(filed) != st.Computed.EventCount {
				t.Fatalf("seed %d: profile %s %v has %d events but %d are filed under its identifiers", seed, s.pid(p), s.identities(p), st.Computed.EventCount, filed)
			}
			if len(s.identities(p)) > rules.MaxIdentities {
				t.Fatalf("seed %d: profile %s holds %d identifiers, over %d", seed, s.pid(p), len(s.identities(p)), rules.MaxIdentities)
			}
			var users []string
			for _, id := range s.identities(p) {
				if id.Kind == event.KindUserID {
					users = append(users, id.Value)
				}
			}
			for _, u := range users[min(1, len(users)):] {
				if !aliasConnected(evs, users[0], u) {
					t.Fatalf("seed %d: profile %s holds users %v, not connected by aliases", seed, s.pid(p), users)
				}
			}
		}
		if total != int64(len(evs)) {
			t.Fatalf("seed %d: profiles hold %d events, %d were applied", seed, total, len(evs))
		}
		r := NewStore()
		r.SetIdentityRules(rules)
		for _, e := range evs {
			r.apply(e)
		}
		if a, b := describeProfiles(s), describeProfiles(r); a != b {
			t.Fatalf("seed %d: replay differs:\n%s\nvs\n%s", seed, a, b)
		}
	}
}

// s8 sometimes returns a UUID-shaped anonymous id.
func s8(rng *rand.Rand) string {
	if rng.IntN(4) != 0 {
		return ""
	}
	return fmt.Sprintf("00000000-0000-4000-8000-00000000000%d", rng.IntN(3))
}

// aliasConnected reports whether userIds a and b are connected by a chain of
// links with at least one alias in it: an alias links its userId and
// previousId, any other event links the identifiers it carries. Without an
// alias on the way, two userIds must never share a profile.
func aliasConnected(evs []*event.Event, a, b string) bool {
	type edge struct {
		to    string
		alias bool
	}
	adj := map[string][]edge{}
	link := func(x, y string, alias bool) {
		if x != "" && y != "" && x != y {
			adj[x] = append(adj[x], edge{y, alias})
			adj[y] = append(adj[y], edge{x, alias})
		}
	}
	for _, e := range evs {
		if e.Type == event.Alias {
			link(e.UserID, e.PreviousID, true)
			continue
		}
		link(e.UserID, e.AnonymousID, false)
		if em, _ := e.Traits["email"].(string); em != "" {
			link(e.UserID, em, false)
			link(e.AnonymousID, em, false)
		}
	}
	type node struct {
		id    string
		alias bool
	}
	seen := map[node]bool{{a, false}: true}
	queue := []node{{a, false}}
	for len(queue) > 0 {
		x := queue[0]
		queue = queue[1:]
		if x.id == b && x.alias {
			return true
		}
		for _, y := range adj[x.id] {
			n := node{y.to, x.alias || y.alias}
			if !seen[n] {
				seen[n] = true
				queue = append(queue, n)
			}
		}
	}
	return false
}
