package importer

import (
	"compress/gzip"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// Kinds of import.
const (
	KindCustomers = "customers" // CSV → identify messages
	KindEvents    = "events"    // NDJSON Segment messages
	KindProducts  = "products"  // CSV or NDJSON → catalog products
)

// Formats of input files.
const (
	FormatCSV    = "csv"
	FormatNDJSON = "ndjson"
)

// OptionsError is a mistake in Options: how the import was asked for, not
// what happened during it. Its text says what to change.
type OptionsError struct{ Msg string }

func (e *OptionsError) Error() string { return e.Msg }

// MaxShownErrors is how many bad rows Run prints before only counting them.
const MaxShownErrors = 20

// Options describe one import.
type Options struct {
	Kind   string // KindCustomers, KindEvents or KindProducts
	Path   string // the file; "-" reads stdin; a ".gz" file is gunzipped
	Format string // FormatCSV or FormatNDJSON; "" picks by the file extension

	Target     string // base URL of the server, http://127.0.0.1:8080
	WriteKey   string // for customers and events
	AdminToken string // for products
	BatchSize  int    // records per request; 0 means 500

	Stdout io.Writer // the summary
	Stderr io.Writer // progress and bad rows

	Client        *http.Client     // nil: the Sender's default
	Now           func() time.Time // nil: time.Now
	ProgressEvery time.Duration    // between progress lines when stderr is not a terminal; 0 means 5s

	backoff time.Duration // tests: the Sender's first wait between tries
}

// check validates o and fills its defaults.
func (o *Options) check() error {
	bad := func(format string, args ...any) error {
		return &OptionsError{Msg: fmt.Sprintf(format, args...)}
	}
	if o.Path == "" {
		return bad("no file given")
	}
	o.Format = strings.ToLower(o.Format)
	if o.Format != "" && o.Format != FormatCSV && o.Format != FormatNDJSON {
		return bad("--format must be csv or ndjson, got %q", o.Format)
	}
	if o.Format == "" {
		o.Format = formatOf(o.Path)
	}
	switch o.Kind {
	case KindCustomers:
		if o.Format == "" {
			o.Format = FormatCSV
		}
		if o.Format != FormatCSV {
			return bad("customers are read from CSV, not %s", o.Format)
		}
	case KindEvents:
		if o.Format == "" {
			o.Format = FormatNDJSON
		}
		if o.Format != FormatNDJSON {
			return bad("events are read from NDJSON, not %s", o.Format)
		}
	case KindProducts:
		if o.Format == "" {
			return bad("cannot tell the format of %s from its extension; pass --format csv or --format ndjson", o.Path)
		}
	default:
		return bad("unknown kind %q: use customers, events or products", o.Kind)
	}
	u, err := url.Parse(o.Target)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return bad("--target must be the server's base URL like http://127.0.0.1:8080, got %q", o.Target)
	}
	if o.Kind == KindProducts && o.AdminToken == "" {
		return bad("products need the admin token: pass --admin-token or set TAILOR_ADMIN_TOKEN")
	}
	if o.Kind != KindProducts && o.WriteKey == "" {
		return bad("%s need a write key: pass --write-key or set TAILOR_WRITE_KEY", o.Kind)
	}
	if o.BatchSize < 0 {
		return bad("--batch must be positive, got %d", o.BatchSize)
	}
	if o.BatchSize == 0 {
		o.BatchSize = 500
	}
	if o.Stdout == nil {
		o.Stdout = io.Discard
	}
	if o.Stderr == nil {
		o.Stderr = io.Discard
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.ProgressEvery <= 0 {
		o.ProgressEvery = 5 * time.Second
	}
	return nil
}

// formatOf guesses a file's format from its extension, ignoring ".gz", or
// returns "". Customers and events have one format each, so the guess
// matters only for products.
func formatOf(path string) string {
	ext := strings.ToLower(filepath.Ext(strings.TrimSuffix(strings.ToLower(path), ".gz")))
	switch ext {
	case ".csv":
		return FormatCSV
	case ".ndjson", ".jsonl", ".json":
		return FormatNDJSON
	}
	return ""
}

// Run imports one file into the server, showing progress and bad rows on
// o.Stderr (the first MaxShownErrors, then a count) and a summary on
// o.Stdout. It fails when the options are wrong (*OptionsError), the file cannot
// be read, the server cannot be reached or refuses the credentials, or no
// row at all was imported; rejected rows alone are not a failure.
func Run(ctx context.Context, o Options) error {
	if err := o.check(); err != nil {
		return err
	}
	name := filepath.Base(o.Path)
	var f *os.File
	var size int64
	if o.Path == "-" {
		f, name = os.Stdin, "stdin"
	} else {
		var err error
		if f, err = os.Open(o.Path); err != nil {
			return err
		}
		defer f.Close()
		if fi, err := f.Stat(); err == nil && fi.Mode().IsRegular() {
			size = fi.Size()
		}
	}
	counted := &countingReader{r: f}
	var in io.Reader = counted
	if strings.HasSuffix(strings.ToLower(o.Path), ".gz") {
		zr, err := gzip.NewReader(counted)
		if err != nil {
			return fmt.Errorf("%s: %w", o.Path, err)
		}
		in = zr
	}
	// messageIds use the name without ".gz" so that compressing a file does
	// not make its rows new.
	source := strings.TrimSuffix(name, ".gz")

	var (
		r   Reader
		err error
		s   *Sender
	)
	switch o.Kind {
	case KindCustomers:
		r, err = NewCustomers(in, source, o.Now)
		s = NewEventSender(o.Target, o.WriteKey)
	case KindEvents:
		r = NewEvents(in, source)
		s = NewEventSender(o.Target, o.WriteKey)
	case KindProducts:
		if o.Format == FormatCSV {
			r, err = NewProductsCSV(in)
		} else {
			r = NewProductsNDJSON(in)
		}
		s = NewProductSender(o.Target, o.AdminToken)
	}
	if err != nil {
		return fmt.Errorf("%s: %w", o.Path, err)
	}
	if o.Client != nil {
		s.Client = o.Client
	}
	if o.backoff > 0 {
		s.Backoff = o.backoff
	}

	prog := newProgress(o.Stderr, name, size, counted, o.ProgressEvery, o.Now)
	shown := 0
	report := func(e RowError) {
		if shown < MaxShownErrors {
			prog.println(e.Error())
		}
		shown++
	}
	start := o.Now()
	st, err := Import(ctx, r, s, o.BatchSize, report, prog.update)
	prog.finish()
	if shown > MaxShownErrors {
		fmt.Fprintf(o.Stderr, "... and %s more bad or rejected rows (the first %d are shown above)\n", group(shown-MaxShownErrors), MaxShownErrors)
	}
	fmt.Fprintln(o.Stdout, summary(st, name, o.Now().Sub(start)))
	switch {
	case err != nil:
		return fmt.Errorf("import %s stopped after %s rows: %w", name, group(st.Rows), err)
	case st.Rows == 0:
		return fmt.Errorf("%s has no rows to import", name)
	case st.Imported == 0:
		return fmt.Errorf("nothing imported: all %s rows of %s were rejected", group(st.Rows), name)
	}
	return nil
}

// summary is the one line Run prints when done, e.g.
// "imported 9,812 of 10,000 rows from customers.csv in 3.2s (3,066 rows/s); 188 rejected",
// ending with "; N not sent" when the import stopped early.
func summary(st Stats, name string, d time.Duration) string {
	rate := 0
	if d > 0 {
		rate = int(float64(st.Imported)/d.Seconds() + 0.5)
	}
	shown := d.Round(100 * time.Millisecond)
	if d < time.Second {
		shown = d.Round(time.Millisecond)
	}
	s := fmt.Sprintf("imported %s of %s rows from %s in %s (%s rows/s); %s rejected",
		group(st.Imported), group(st.Rows), name, shown, group(rate), group(st.Rejected))
	if unsent := st.Rows - st.Imported - st.Rejected; unsent > 0 {
		s += fmt.Sprintf("; %s not sent", group(unsent))
	}
	return s
}
