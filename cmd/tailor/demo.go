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
	"time"

	"tailor/internal/catalog"
	"tailor/internal/demo"
)

// runDemo writes the deterministic demo store as the import files of
// `tailor import`: products.ndjson, customers.csv and events.ndjson.
func runDemo(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("demo", flag.ContinueOnError)
	customers := fs.Int("customers", 1000, "number of customers (1 to 50,000,000; about 20 events each)")
	seed := fs.Int64("seed", 1, "random seed; the same seed and sizes give byte-identical files")
	out := fs.String("out", "./tailor-demo", "directory to write products.ndjson, customers.csv and events.ndjson into")
	products := fs.Int("products", 0, "number of products (default 200 + customers/50, at most 20,000)")
	end := fs.String("end", demo.DefaultEnd.Format(time.DateOnly), "end of the two years of history (YYYY-MM-DD or RFC 3339)")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "usage: tailor demo [flags]\n\nWrites a synthetic shop (catalog, customers, two years of events) as files.\n\nflags:\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return fmt.Errorf("%w: %v", errUsage, err)
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("%w: unexpected argument %q (all options are flags, e.g. --customers 5000)", errUsage, fs.Arg(0))
	}
	if *customers < 1 || *customers > 50_000_000 {
		return fmt.Errorf("%w: --customers must be between 1 and 50000000, got %d", errUsage, *customers)
	}
	if *products < 0 {
		return fmt.Errorf("%w: --products must not be negative", errUsage)
	}
	endT, err := time.Parse(time.DateOnly, *end)
	if err != nil {
		if endT, err = time.Parse(time.RFC3339, *end); err != nil {
			return fmt.Errorf("%w: --end %q: want YYYY-MM-DD or RFC 3339", errUsage, *end)
		}
	}
	if endT.Year() < 1972 || endT.Year() > 9999 {
		return fmt.Errorf("%w: --end %q: year out of range", errUsage, *end)
	}
	if *out == "" {
		return fmt.Errorf("%w: --out must name a directory", errUsage)
	}

	g := demo.New(demo.Config{Customers: *customers, Seed: *seed, End: endT, Products: *products})
	if err := os.MkdirAll(*out, 0o755); err != nil {
		return fmt.Errorf("demo: create output directory: %w", err)
	}
	p := newDemoProgress(os.Stderr, *customers)
	started := time.Now()

	var nProducts int
	err = writeDemoFile(filepath.Join(*out, "products.ndjson"), func(w io.Writer) error {
		enc := json.NewEncoder(w)
		enc.SetEscapeHTML(false)
		return g.Products(func(pr catalog.Product) error {
			nProducts++
			return enc.Encode(pr)
		})
	})
	if err != nil {
		return err
	}

	err = writeDemoFile(filepath.Join(*out, "customers.csv"), func(w io.Writer) error {
		cw := csv.NewWriter(w)
		if err := cw.Write([]string{"user_id", "email", "first_name", "last_name", "phone", "country", "city", "timezone", "locale", "created_at", "tier", "stage"}); err != nil {
			return err
		}
		row := make([]string, 12)
		n := 0
		err := g.Customers(func(c demo.Customer) error {
			n++
			if n%10_000 == 0 {
				if err := ctx.Err(); err != nil {
					return err
				}
				p.update("customers.csv", n, 0)
			}
			row[0], row[1], row[2], row[3], row[4], row[5] = c.UserID, c.Email, c.FirstName, c.LastName, c.Phone, c.Country
			row[6], row[7], row[8] = c.City, c.Timezone, c.Locale
			row[9] = c.CreatedAt.UTC().Format("2006-01-02T15:04:05.000Z07:00")
			row[10], row[11] = c.Tier, c.Stage
			return cw.Write(row)
		})
		if err != nil {
			return err
		}
		cw.Flush()
		return cw.Error()
	})
	if err != nil {
		return err
	}

	var messages, size int64
	err = writeDemoFile(filepath.Join(*out, "events.ndjson"), func(w io.Writer) error {
		write := func(msg []byte) error {
			messages++
			size += int64(len(msg)) + 1
			if _, err := w.Write(msg); err != nil {
				return err
			}
			_, err := w.Write([]byte{'\n'})
			return err
		}
		// Chunks of customers: cancellation and progress are checked
		// between chunks, not per message.
		const chunk = 500
		for from := 0; from < *customers; from += chunk {
			if err := ctx.Err(); err != nil {
				return err
			}
			to := min(from+chunk, *customers)
			if err := g.MessagesRange(from, to, write); err != nil {
				return err
			}
			p.update("events.ndjson", to, messages)
		}
		return nil
	})
	p.clear()
	if err != nil {
		return err
	}
	elapsed := time.Since(started)
	fmt.Fprintf(os.Stderr, "tailor demo: wrote %s customers, %s products and %s events (%.1f MB) to %s in %s (%s events/s)\n",
		thousands(int64(*customers)), thousands(int64(nProducts)), thousands(messages), float64(size)/1e6,
		*out, elapsed.Round(10*time.Millisecond), thousands(int64(float64(messages)/max(elapsed.Seconds(), 1e-3))))
	return nil
}

// writeDemoFile writes path through a buffered writer into path+".partial",
// syncs it and renames it into place only when fill succeeded, so an
// interrupted run or a crash never leaves a file that looks complete.
func writeDemoFile(path string, fill func(io.Writer) error) error {
	tmp := path + ".partial"
	f, err := os.Create(tmp)
	if err != nil {
		return fmt.Errorf("demo: %w", err)
	}
	bw := bufio.NewWriterSize(f, 1<<20)
	err = fill(bw)
	if err == nil {
		err = bw.Flush()
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		os.Remove(tmp)
		return fmt.Errorf("demo: write %s: %w", path, err)
	}
	return nil
}

// demoProgress rewrites one status line on a terminal about once a second.
type demoProgress struct {
	w       io.Writer
	on      bool
	total   int
	start   time.Time
	last    time.Time
	written bool
}

func newDemoProgress(f *os.File, total int) *demoProgress {
	st, err := f.Stat()
	on := err == nil && st.Mode()&os.ModeCharDevice != 0
	now := time.Now()
	return &demoProgress{w: f, on: on, total: total, start: now, last: now}
}

func (p *demoProgress) update(phase string, done int, messages int64) {
	if !p.on {
		return
	}
	now := time.Now()
	if now.Sub(p.last) < time.Second {
		return
	}
	p.last = now
	line := fmt.Sprintf("tailor demo: %s %s/%s customers", phase, thousands(int64(done)), thousands(int64(p.total)))
	if messages > 0 {
		rate := float64(messages) / max(now.Sub(p.start).Seconds(), 1e-3)
		line += fmt.Sprintf(", %s events, %s events/s", thousands(messages), thousands(int64(rate)))
	}
	fmt.Fprintf(p.w, "\r%-100s", line)
	p.written = true
}

func (p *demoProgress) clear() {
	if p.written {
		fmt.Fprintf(p.w, "\r%-100s\r", "")
	}
}

// thousands formats n with comma separators: 1234567 → "1,234,567".
func thousands(n int64) string {
	s := strconv.FormatInt(n, 10)
	neg := n < 0
	if neg {
		s = s[1:]
	}
	out := make([]byte, 0, len(s)+len(s)/3+1)
	if neg {
		out = append(out, '-')
	}
	for i := range len(s) {
		if i > 0 && (len(s)-i)%3 == 0 {
			out = append(out, ',')
		}
		out = append(out, s[i])
	}
	return string(out)
}
