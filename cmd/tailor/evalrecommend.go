package main

import (
	"bufio"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"tailor/internal/demo"
	"tailor/internal/recommend"
)

func init() {
	evalCommands["recommend"] = subcommand{
		usage: "tailor eval recommend [--demo N | --tafeng DIR | --interactions FILE]  score the recommendation strategies against baselines",
		run:   runEvalRecommend,
	}
}

// runEvalRecommend implements `tailor eval recommend`: a time-split offline
// evaluation of the strategies on the demo store or an interactions file,
// or the next-basket protocol on the Ta-Feng baskets.
func runEvalRecommend(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("eval recommend", flag.ContinueOnError)
	customers := fs.Int("demo", 0, "evaluate on the demo store with this many customers (the default data set: 5000)")
	seed := fs.Int64("seed", 1, "demo store seed")
	tafeng := fs.String("tafeng", "", "directory of the Ta-Feng next-basket data (tafeng_merged.json): run the next-basket protocol")
	file := fs.String("interactions", "", "NDJSON ({user,item,time[,type]} per line) or CSV (header user,item,time[,type]) interactions; time is RFC 3339 or unix seconds")
	ks := fs.String("k", "10,20", "cut-offs K, comma-separated")
	train := fs.Float64("train", 0.8, "share of the interactions, by time, trained on")
	horizon := fs.Duration("horizon", 30*24*time.Hour, "test purchases counted this long after the split")
	blend := fs.String("blend", "", "for_you weights repeat,similar,popular (default: the engine's)")
	distinct := fs.Int("distinct", 0, "distinct purchased items kept per profile (default: the engine's)")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return fmt.Errorf("%w: %v", errUsage, err)
	}
	var cut []int
	for _, s := range strings.Split(*ks, ",") {
		k, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil || k < 1 || k > recommend.MaxLimit {
			return fmt.Errorf("%w: --k %q: want cut-offs between 1 and %d", errUsage, *ks, recommend.MaxLimit)
		}
		cut = append(cut, k)
	}
	opts := recommend.Options{Distinct: *distinct}
	if *blend != "" {
		var b recommend.Blend
		if _, err := fmt.Sscanf(*blend, "%g,%g,%g", &b.Repeat, &b.Similar, &b.Popular); err != nil {
			return fmt.Errorf("%w: --blend %q: want three weights, repeat,similar,popular", errUsage, *blend)
		}
		opts.Blend = b
	}
	sources := 0
	for _, set := range []bool{*customers > 0, *tafeng != "", *file != ""} {
		if set {
			sources++
		}
	}
	if sources > 1 {
		return fmt.Errorf("%w: give one of --demo, --tafeng and --interactions", errUsage)
	}
	start := time.Now()
	if *tafeng != "" {
		users, err := readTaFeng(filepath.Join(*tafeng, "tafeng_merged.json"))
		if err != nil {
			return err
		}
		if opts.Distinct == 0 {
			opts.Distinct = 500 // grocery shoppers buy hundreds of distinct items
		}
		rows, err := recommend.EvaluateBaskets(ctx, users, cut, opts)
		if err != nil {
			return err
		}
		fmt.Printf("Ta-Feng next-basket, %d users (last basket is the target), %s\n\n", len(users), time.Since(start).Round(time.Millisecond))
		printRows(rows, cut, "PHR")
		return nil
	}
	var data []recommend.Interaction
	var what string
	var err error
	if *file != "" {
		data, err = readInteractions(*file)
		what = filepath.Base(*file)
	} else {
		if *customers == 0 {
			*customers = 5000
		}
		data = demoInteractions(demo.Config{Customers: *customers, Seed: *seed})
		what = fmt.Sprintf("demo store, %d customers, seed %d", *customers, *seed)
	}
	if err != nil {
		return err
	}
	rows, err := recommend.Evaluate(ctx, data, recommend.EvalOptions{K: cut, Train: *train, Horizon: *horizon, Engine: opts})
	if err != nil {
		return err
	}
	fmt.Printf("%s: %d interactions, time split at %.0f %%, test purchases within %s, %d test users, %s\n\n",
		what, len(data), *train*100, *horizon, rows[0].Users, time.Since(start).Round(time.Millisecond))
	printRows(rows, cut, "MAP")
	return nil
}

func printRows(rows []recommend.Metrics, ks []int, third string) {
	head := "| strategy |"
	sep := "|---|"
	for _, m := range []string{"Recall", "NDCG", third} {
		for _, k := range ks {
			head += fmt.Sprintf(" %s@%d |", m, k)
			sep += "---:|"
		}
	}
	head += " coverage |"
	sep += "---:|"
	if third == "MAP" {
		head += " pop. bias |"
		sep += "---:|"
	}
	fmt.Println(head)
	fmt.Println(sep)
	for _, r := range rows {
		line := "| " + r.Name + " |"
		for _, v := range [][]float64{r.Recall, r.NDCG, r.MAP} {
			for _, x := range v {
				line += fmt.Sprintf(" %.4f |", x)
			}
		}
		line += fmt.Sprintf(" %.3f |", r.Coverage)
		if third == "MAP" {
			line += fmt.Sprintf(" %.2f |", r.PopBias)
		}
		fmt.Println(line)
	}
}

// readTaFeng reads {"user": [[item, ...], ...]} with the last basket the target.
func readTaFeng(path string) (map[string][][]string, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("ta-feng: %w (give --tafeng the directory holding tafeng_merged.json)", err)
	}
	var in map[string][][]json.Number
	dec := json.NewDecoder(strings.NewReader(string(raw)))
	dec.UseNumber()
	if err := dec.Decode(&in); err != nil {
		return nil, fmt.Errorf("ta-feng %s: %w", path, err)
	}
	out := make(map[string][][]string, len(in))
	for u, bs := range in {
		conv := make([][]string, len(bs))
		for i, b := range bs {
			conv[i] = make([]string, len(b))
			for j, it := range b {
				conv[i][j] = it.String()
			}
		}
		out[u] = conv
	}
	return out, nil
}

// readInteractions reads NDJSON or CSV interactions (by the first byte).
func readInteractions(path string) ([]recommend.Interaction, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	r := bufio.NewReaderSize(f, 1<<20)
	first, err := r.Peek(1)
	if err != nil {
		return nil, fmt.Errorf("%s: empty file", path)
	}
	var out []recommend.Interaction
	add := func(line int, user, item, ts, typ string) error {
		t, err := parseTime(ts)
		switch {
		case user == "" || item == "":
			return fmt.Errorf("%s line %d: user and item are required", path, line)
		case err != nil:
			return fmt.Errorf("%s line %d: time %q: want RFC 3339 or unix seconds", path, line, ts)
		case typ != "" && typ != "view" && typ != "cart" && typ != "buy":
			return fmt.Errorf("%s line %d: type %q: want view, cart or buy", path, line, typ)
		}
		out = append(out, recommend.Interaction{User: user, Item: item, Time: t, Type: typ})
		return nil
	}
	if first[0] == '{' {
		sc := bufio.NewScanner(r)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for n := 1; sc.Scan(); n++ {
			if strings.TrimSpace(sc.Text()) == "" {
				continue
			}
			var row struct {
				User, Item, Type string
				Time             json.RawMessage
			}
			if err := json.Unmarshal(sc.Bytes(), &row); err != nil {
				return nil, fmt.Errorf("%s line %d: %w", path, n, err)
			}
			if err := add(n, row.User, row.Item, strings.Trim(string(row.Time), `"`), row.Type); err != nil {
				return nil, err
			}
		}
		return out, sc.Err()
	}
	cr := csv.NewReader(r)
	cr.FieldsPerRecord = -1
	head, err := cr.Read()
	if err != nil {
		return nil, fmt.Errorf("%s: header: %w", path, err)
	}
	col := map[string]int{}
	for i, h := range head {
		col[strings.ToLower(strings.TrimSpace(h))] = i
	}
	for _, need := range []string{"user", "item", "time"} {
		if _, ok := col[need]; !ok {
			return nil, fmt.Errorf("%s: the header needs the columns user, item, time (and optionally type); it has %v", path, head)
		}
	}
	get := func(rec []string, name string) string {
		if i, ok := col[name]; ok && i < len(rec) {
			return strings.TrimSpace(rec[i])
		}
		return ""
	}
	for n := 2; ; n++ {
		rec, err := cr.Read()
		if err == io.EOF {
			return out, nil
		}
		if err != nil {
			return nil, fmt.Errorf("%s line %d: %w", path, n, err)
		}
		if err := add(n, get(rec, "user"), get(rec, "item"), get(rec, "time"), get(rec, "type")); err != nil {
			return nil, err
		}
	}
}

func parseTime(s string) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t.UTC(), nil
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return time.Time{}, err
	}
	return time.Unix(int64(f), 0).UTC(), nil
}

// demoInteractions plays the demo store and keeps its views, cart additions
// and order lines, each under the customer's userId (anonymous devices are
// stitched to the user they later sign in as, as identity resolution does).
func demoInteractions(cfg demo.Config) []recommend.Interaction {
	type msg struct {
		Type, Event, UserID, AnonymousID string
		Timestamp                        time.Time
		Properties                       struct {
			ProductID string  `json:"product_id"`
			Category  string  `json:"category"`
			Price     float64 `json:"price"`
			Products  []struct {
				ProductID string  `json:"product_id"`
				Category  string  `json:"category"`
				Price     float64 `json:"price"`
			} `json:"products"`
		}
	}
	g := demo.New(cfg)
	var out []recommend.Interaction
	// A customer's messages come together: their devices are stitched
	// within that run.
	var pending []msg
	flush := func() {
		user := map[string]string{}
		for _, m := range pending {
			if m.UserID != "" && m.AnonymousID != "" {
				user[m.AnonymousID] = m.UserID
			}
		}
		for _, m := range pending {
			who := m.UserID
			if who == "" {
				who = user[m.AnonymousID]
			}
			if who == "" {
				who = m.AnonymousID
			}
			p := m.Properties
			switch m.Event {
			case "Product Viewed":
				out = append(out, recommend.Interaction{User: who, Item: p.ProductID, Time: m.Timestamp, Type: "view", Category: p.Category, Price: p.Price})
			case "Product Added":
				out = append(out, recommend.Interaction{User: who, Item: p.ProductID, Time: m.Timestamp, Type: "cart", Category: p.Category, Price: p.Price})
			case "Order Completed":
				for _, l := range p.Products {
					out = append(out, recommend.Interaction{User: who, Item: l.ProductID, Time: m.Timestamp, Type: "buy", Category: l.Category, Price: l.Price})
				}
			}
		}
		pending = pending[:0]
	}
	for i := 0; i < cfg.Customers; i++ {
		g.MessagesRange(i, i+1, func(b []byte) error {
			if !strings.Contains(string(b[:min(len(b), 200)]), `"track"`) {
				return nil
			}
			var m msg
			if json.Unmarshal(b, &m) == nil && (m.Event == "Product Viewed" || m.Event == "Product Added" || m.Event == "Order Completed") {
				pending = append(pending, m)
			}
			return nil
		})
		flush()
	}
	return out
}
