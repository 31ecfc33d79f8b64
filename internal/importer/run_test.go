package importer

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"tailor/internal/catalog"
	"tailor/internal/store/storetest"
)

func TestSenderUnreachable(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	url := srv.URL
	srv.Close() // nothing listens there now
	s := NewEventSender(url, "wk")
	s.Backoff = time.Millisecond
	st, err := Import(context.Background(), records(1, 2), s, 10, func(RowError) {}, nil)
	if !errors.Is(err, ErrUnreachable) || !strings.Contains(err.Error(), "tried 5 times") {
		t.Fatalf("err = %v, want ErrUnreachable after 5 tries", err)
	}
	if st.Imported != 0 || st.Rows != 2 {
		t.Errorf("stats = %+v", st)
	}
}

func TestSenderStopsWithContext(t *testing.T) {
	fake := &fakeTracking{writeKey: "wk", failFirst: 1000, rejectIndex: -1}
	srv := httptest.NewServer(fake)
	defer srv.Close()
	s := NewEventSender(srv.URL, "wk")
	s.Backoff = time.Hour
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	_, err := Import(ctx, records(1), s, 10, func(RowError) {}, nil)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v, want the context's", err)
	}
}

func runOpts(t *testing.T, kind, path, target string) (Options, *bytes.Buffer, *bytes.Buffer) {
	var stdout, stderr bytes.Buffer
	return Options{
		Kind: kind, Path: path, Target: target, WriteKey: "wk", AdminToken: "admin",
		Stdout: &stdout, Stderr: &stderr, Now: fixedNow, BatchSize: 2,
	}, &stdout, &stderr
}

func TestRunCustomers(t *testing.T) {
	fake := &fakeTracking{writeKey: "wk", rejectIndex: 1, failFirst: 1}
	srv := httptest.NewServer(fake)
	defer srv.Close()
	o, stdout, stderr := runOpts(t, KindCustomers, "testdata/customers.csv", srv.URL)
	if err := Run(context.Background(), o); err != nil {
		t.Fatal(err)
	}
	// Good rows are on lines 2, 4, 8, 11; batches of 2: [2 4] [8 11]; index 1
	// of each is rejected by the fake.
	wantOut := "imported 2 of 8 rows from customers.csv in 0s (0 rows/s); 6 rejected\n"
	if stdout.String() != wantOut {
		t.Errorf("stdout = %q, want %q", stdout, wantOut)
	}
	wantErr := []string{
		"line 3: missing user_id",
		"line 4: userId or anonymousId is required",
		"line 6: has 4 fields but the header has 12",
		`line 7: created_at: cannot read "yesterday" as a date; write it like 2024-01-31T09:30:00Z or 2024-01-31`,
		`line 10: not valid CSV: bare " in non-quoted-field`,
		"line 11: userId or anonymousId is required",
	}
	if got := strings.TrimSpace(stderr.String()); got != strings.Join(wantErr, "\n") {
		t.Errorf("stderr =\n%s\nwant\n%s", got, strings.Join(wantErr, "\n"))
	}
	if len(fake.accepted) != 2 {
		t.Errorf("server accepted %q", fake.accepted)
	}
}

func TestRunReportsFirstErrorsOnly(t *testing.T) {
	dir := t.TempDir()
	var b strings.Builder
	b.WriteString("user_id,email\n")
	for i := 0; i < 30; i++ {
		fmt.Fprintf(&b, ",x%d@example.com\n", i)
	}
	b.WriteString("u1,u1@example.com\n")
	path := filepath.Join(dir, "many.csv")
	os.WriteFile(path, []byte(b.String()), 0o644)

	fake := &fakeTracking{writeKey: "wk", rejectIndex: -1}
	srv := httptest.NewServer(fake)
	defer srv.Close()
	o, stdout, stderr := runOpts(t, KindCustomers, path, srv.URL)
	if err := Run(context.Background(), o); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(stderr.String()), "\n")
	var shown []string
	for _, l := range lines {
		if strings.HasPrefix(l, "line ") {
			shown = append(shown, l)
		}
	}
	if len(shown) != 20 || shown[0] != "line 2: missing user_id" || shown[19] != "line 21: missing user_id" {
		t.Errorf("shown errors = %q", shown)
	}
	if last := lines[len(lines)-1]; last != "... and 10 more bad or rejected rows (the first 20 are shown above)" {
		t.Errorf("last stderr line = %q", last)
	}
	if want := "imported 1 of 31 rows from many.csv in 0s (0 rows/s); 30 rejected\n"; stdout.String() != want {
		t.Errorf("stdout = %q, want %q", stdout, want)
	}
}

func TestRunFailsWhenNothingImported(t *testing.T) {
	fake := &fakeTracking{writeKey: "wk", rejectIndex: 0}
	srv := httptest.NewServer(fake)
	defer srv.Close()
	dir := t.TempDir()
	path := filepath.Join(dir, "one.ndjson")
	os.WriteFile(path, []byte(`{"type":"track","event":"E"}`+"\n"), 0o644)
	o, stdout, _ := runOpts(t, KindEvents, path, srv.URL)
	err := Run(context.Background(), o)
	if err == nil || err.Error() != "nothing imported: all 1 rows of one.ndjson were rejected" {
		t.Errorf("err = %v", err)
	}
	if !strings.HasPrefix(stdout.String(), "imported 0 of 1 rows") {
		t.Errorf("stdout = %q", stdout)
	}

	empty := filepath.Join(dir, "empty.ndjson")
	os.WriteFile(empty, []byte("\n\n"), 0o644)
	o, _, _ = runOpts(t, KindEvents, empty, srv.URL)
	if err := Run(context.Background(), o); err == nil || err.Error() != "empty.ndjson has no rows to import" {
		t.Errorf("empty file: err = %v", err)
	}
}

func TestRunUnreachable(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	srv.Close()
	o, _, _ := runOpts(t, KindEvents, "testdata/events.ndjson", srv.URL)
	o.backoff = time.Millisecond
	err := Run(context.Background(), o)
	if !errors.Is(err, ErrUnreachable) {
		t.Errorf("err = %v, want ErrUnreachable", err)
	}
}

func TestRunOptions(t *testing.T) {
	tests := []struct {
		edit func(*Options)
		want string
	}{
		{func(o *Options) { o.Kind = "orders" }, `unknown kind "orders": use customers, events or products`},
		{func(o *Options) { o.Path = "" }, "no file given"},
		{func(o *Options) { o.Path = "x.ndjson" }, "customers are read from CSV, not ndjson"},
		{func(o *Options) { o.Kind, o.Path = KindEvents, "x.csv" }, "events are read from NDJSON, not csv"},
		{func(o *Options) { o.Kind, o.Path = KindProducts, "x.txt" }, "cannot tell the format of x.txt from its extension; pass --format csv or --format ndjson"},
		{func(o *Options) { o.Target = "127.0.0.1:8080" }, `--target must be the server's base URL like http://127.0.0.1:8080, got "127.0.0.1:8080"`},
		{func(o *Options) { o.WriteKey = "" }, "customers need a write key: pass --write-key or set TAILOR_WRITE_KEY"},
		{func(o *Options) { o.Kind, o.Path, o.AdminToken = KindProducts, "p.csv.gz", "" }, "products need the admin token: pass --admin-token or set TAILOR_ADMIN_TOKEN"},
		{func(o *Options) { o.BatchSize = -1 }, "--batch must be positive, got -1"},
		{func(o *Options) { o.Format = "xml" }, `--format must be csv or ndjson, got "xml"`},
		{func(o *Options) { o.Kind, o.Format = KindEvents, "CSV" }, "events are read from NDJSON, not csv"},
	}
	for _, tt := range tests {
		o := Options{Kind: KindCustomers, Path: "c.csv", Target: "http://127.0.0.1:1", WriteKey: "wk", AdminToken: "t"}
		tt.edit(&o)
		err := Run(context.Background(), o)
		var oe *OptionsError
		if !errors.As(err, &oe) || oe.Msg != tt.want {
			t.Errorf("Run(%+v) = %v\nwant OptionsError %q", o, err, tt.want)
		}
	}
}

// TestRunProducts imports both product formats through the real catalog
// handler over a real Pebble store.
func TestRunProducts(t *testing.T) {
	store := catalog.NewStore(storetest.DiskDB(t))
	api := catalog.Handler(store)
	var auth []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		auth = append(auth, r.Header.Get("Authorization")+" "+r.Header.Get("Content-Type"))
		api.ServeHTTP(w, r)
	}))
	defer srv.Close()

	tests := []struct {
		file, out, errs string
	}{
		{"products.csv", "imported 2 of 5 rows from products.csv in 0s (0 rows/s); 3 rejected\n",
			`line 3: price: "free" is not a number (write it like 12.50)` + "\n" +
				`line 4: stock: "-" is not a whole number` + "\n" +
				"line 5: price: empty; write 0 for a free product\n"},
		{"products.ndjson", "imported 2 of 5 rows from products.ndjson in 0s (0 rows/s); 3 rejected\n",
			"line 2: not a JSON object\nline 3: price: must be >= 0, got -1\nline 5: not a JSON object\n"},
	}
	for _, tt := range tests {
		o, stdout, stderr := runOpts(t, KindProducts, "testdata/"+tt.file, srv.URL)
		if err := Run(context.Background(), o); err != nil {
			t.Fatalf("%s: %v", tt.file, err)
		}
		if stdout.String() != tt.out || stderr.String() != tt.errs {
			t.Errorf("%s:\nstdout %q\nwant   %q\nstderr %q\nwant   %q", tt.file, stdout, tt.out, stderr, tt.errs)
		}
	}
	for _, a := range auth {
		if a != "Bearer admin application/x-ndjson" {
			t.Errorf("request had Authorization and Content-Type %q", a)
		}
	}
	p, ok, err := store.Get(context.Background(), "sku-5")
	if err != nil || !ok || p.Currency != "USD" || p.Attrs["color"] != "black, white" {
		t.Errorf("sku-5 = %+v, %v, %v", p, ok, err)
	}
	if n, _ := store.Count(context.Background()); n != 3 { // sku-1, sku-5, sku-4
		t.Errorf("catalog has %d products, want 3", n)
	}
}

// TestRunGzipAndProgressLines imports a gzipped file with a clock that
// moves, so that progress lines are printed where there is no terminal.
func TestRunGzipAndProgressLines(t *testing.T) {
	fake := &fakeTracking{writeKey: "wk", rejectIndex: -1}
	srv := httptest.NewServer(fake)
	defer srv.Close()
	src, err := os.ReadFile("testdata/events.ndjson")
	if err != nil {
		t.Fatal(err)
	}
	var zb bytes.Buffer
	zw := gzip.NewWriter(&zb)
	zw.Write(src)
	zw.Close()
	path := filepath.Join(t.TempDir(), "events.ndjson.gz")
	if err := os.WriteFile(path, zb.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	o, stdout, stderr := runOpts(t, KindEvents, path, srv.URL)
	clock := fixedNow()
	o.Now = func() time.Time { clock = clock.Add(time.Second); return clock }
	o.ProgressEvery = 3 * time.Second
	if err := Run(context.Background(), o); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(stdout.String(), "imported 7 of 10 rows from events.ndjson.gz in ") {
		t.Errorf("stdout = %q", stdout)
	}
	if !strings.Contains(stderr.String(), fmt.Sprintf("import events.ndjson.gz: 100%% (%d B of %d B), ", zb.Len(), zb.Len())) {
		t.Errorf("no progress line in stderr:\n%s", stderr)
	}
	// The messageIds of a gzipped file are those of the plain file.
	plain := map[string]bool{}
	r := NewEvents(bytes.NewReader(src), "events.ndjson")
	for {
		_, p, err := r.Next()
		if err == io.EOF {
			break
		}
		var m struct{ MessageID string }
		if json.Unmarshal(p, &m) == nil {
			plain[m.MessageID] = true
		}
	}
	for _, id := range fake.accepted {
		if !plain[id] {
			t.Errorf("messageId %q differs from the plain file's", id)
		}
	}
}

func TestSummary(t *testing.T) {
	tests := []struct {
		st   Stats
		d    time.Duration
		want string
	}{
		{Stats{Rows: 10000, Imported: 9812, Rejected: 188}, 3200 * time.Millisecond,
			"imported 9,812 of 10,000 rows from customers.csv in 3.2s (3,066 rows/s); 188 rejected"},
		{Stats{Rows: 2, Imported: 1, Rejected: 1}, 3 * time.Millisecond,
			"imported 1 of 2 rows from customers.csv in 3ms (333 rows/s); 1 rejected"},
		{Stats{Rows: 1500, Imported: 1000}, 0,
			"imported 1,000 of 1,500 rows from customers.csv in 0s (0 rows/s); 0 rejected; 500 not sent"},
		{Stats{Rows: 1234567, Imported: 1234567}, 72 * time.Second,
			"imported 1,234,567 of 1,234,567 rows from customers.csv in 1m12s (17,147 rows/s); 0 rejected"},
	}
	for _, tt := range tests {
		if got := summary(tt.st, "customers.csv", tt.d); got != tt.want {
			t.Errorf("summary = %q\nwant      %q", got, tt.want)
		}
	}
}
