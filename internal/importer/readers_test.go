package importer

import (
	"errors"
	"io"
	"os"
	"strings"
	"testing"
	"time"
)

var fixedNow = func() time.Time { return time.Date(2024, 6, 1, 12, 0, 0, 0, time.UTC) }

// drain reads r to the end and describes each record as "LINE payload" and
// each bad row as "LINE! reason".
func drain(t *testing.T, r Reader) []string {
	t.Helper()
	var out []string
	for i := 0; i < 1e6; i++ {
		line, p, err := r.Next()
		var re *RowError
		switch {
		case errors.Is(err, io.EOF):
			return out
		case errors.As(err, &re):
			if re.Line != line {
				t.Errorf("RowError line %d but Next returned line %d", re.Line, line)
			}
			out = append(out, itoa(re.Line)+"! "+re.Reason)
		case err != nil:
			t.Fatalf("fatal error after %d records: %v", len(out), err)
		default:
			out = append(out, itoa(line)+" "+string(p))
		}
	}
	t.Fatal("reader does not end")
	return nil
}

func itoa(n int) string { return group(n) }

func open(t *testing.T, name string) *os.File {
	t.Helper()
	f, err := os.Open("testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return f
}

func TestReadersOnFixtures(t *testing.T) {
	tests := []struct {
		file string
		open func(io.Reader) (Reader, error)
		want []string
	}{
		{"customers.csv", func(r io.Reader) (Reader, error) { return NewCustomers(r, "customers.csv", fixedNow) }, []string{
			`2 {"type":"identify","userId":"u1","traits":{"city":"London","country":"GB","created_at":"2023-04-01T10:00:00Z","email":"ada@example.com","first_name":"Ada","last_name":"Lovelace","locale":"en-GB","phone":"+441234567","stage":"active","tier":"gold","timezone":"Europe/London"},"messageId":"import-customers-XXXX","timestamp":"2023-04-01T10:00:00Z"}`,
			`3! missing user_id`,
			`4 {"type":"identify","userId":"u3","traits":{"city":"Arlington","country":"US","created_at":"2023-04-03T08:30:00Z","email":"grace@example.com","first_name":"Grace","last_name":"Hopper","locale":"en-US","phone":"0042","timezone":"America/New_York"},"messageId":"import-customers-XXXX","timestamp":"2023-04-03T08:30:00Z"}`,
			`6! has 4 fields but the header has 12`,
			`7! created_at: cannot read "yesterday" as a date; write it like 2024-01-31T09:30:00Z or 2024-01-31`,
			`8 {"type":"identify","userId":"u7","traits":{"city":"Berlin","country":"DE","created_at":"2023-05-01T00:00:00Z","email":"quoted, name\" ok@example.com","first_name":"Multi","last_name":"Line\nName","locale":"de-DE","timezone":"Europe/Berlin"},"messageId":"import-customers-XXXX","timestamp":"2023-05-01T00:00:00Z"}`,
			`10! not valid CSV: bare " in non-quoted-field`,
			`11 {"type":"identify","userId":"u9","traits":{"city":"Madrid","country":"ES","created_at":"2023-03-28T10:40:00Z","email":"spaced@example.com","first_name":"Spaced","last_name":"Out","locale":"es-ES","stage":"lapsed","tier":"bronze","timezone":"Europe/Madrid"},"messageId":"import-customers-XXXX","timestamp":"2023-03-28T10:40:00Z"}`,
		}},
		{"events.ndjson", func(r io.Reader) (Reader, error) { return NewEvents(r, "events.ndjson"), nil }, []string{
			`1 {"type":"track","userId":"u1","event":"Order Completed","properties":{"order_id":"o1","revenue":42.5},"timestamp":"2024-01-02T03:04:05Z","messageId":"m1"}`,
			`2 {"messageId":"import-events-XXXX","type":"page","anonymousId":"a1","name":"Home"}`,
			`4! not a JSON object`,
			`5! invalid JSON: unexpected end of JSON input`,
			`6 {"messageId":"import-events-XXXX","type":"identify", "userId":"u2", "traits":{"plan":"pro"} }`,
			`7 {"event":"X","messageId":"import-events-XXXX","type":"track","userId":"u3"}`,
			`8 {"messageId":"import-events-XXXX"}`,
			`9 {"event":"Y","messageId":"import-events-XXXX","type":"track","userId":"u4"}`,
			`10! invalid JSON: invalid character 't' after top-level value`,
			`11 {"type":"track","userId":"u6","event":"CRLF","messageId":"m6"}`,
		}},
		{"products.csv", func(r io.Reader) (Reader, error) { return NewProductsCSV(r) }, []string{
			`2 {"id":"sku-1","name":"Rain jacket","category":"Apparel \u003e Outerwear","price":89.5,"currency":"EUR","stock":12,"url":"https://shop.example/sku-1","image_url":"https://img.example/sku-1.jpg","attributes":{"brand":"Acme","color":"blue"}}`,
			`3! price: "free" is not a number (write it like 12.50)`,
			`4! stock: "-" is not a whole number`,
			`5! price: empty; write 0 for a free product`,
			`6 {"id":"sku-5","name":"Socks","category":"Apparel","price":4.5,"currency":"usd","attributes":{"brand":"Sox","color":"black, white"}}`,
		}},
		{"products.ndjson", func(r io.Reader) (Reader, error) { return NewProductsNDJSON(r), nil }, []string{
			`1 {"id":"sku-1","name":"Rain jacket","price":89.5,"attributes":{"brand":"Acme"}}`,
			`2! not a JSON object`,
			`3 {"id":"sku-2","name":"Hat","price":-1}`,
			`5! not a JSON object`,
			`6 {"id":"sku-4","name":"Boots","price":120,"stock":3}`,
		}},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			r, err := tt.open(open(t, tt.file))
			if err != nil {
				t.Fatal(err)
			}
			got := drain(t, r)
			for i := range got {
				got[i] = maskIDs(got[i])
			}
			if strings.Join(got, "\n") != strings.Join(tt.want, "\n") {
				t.Errorf("records:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tt.want, "\n"))
			}
		})
	}
}

// maskIDs replaces the hash of generated messageIds, which TestMessageIDs
// checks on its own.
func maskIDs(s string) string {
	for _, kind := range []string{"customers", "events"} {
		prefix := "import-" + kind + "-"
		for i := strings.Index(s, prefix); i >= 0 && len(s) >= i+len(prefix)+16; {
			j := i + len(prefix)
			s = s[:j] + "XXXX" + s[j+16:]
			k := strings.Index(s[j:], prefix)
			if k < 0 {
				break
			}
			i = j + k
		}
	}
	return s
}

func TestMessageIDs(t *testing.T) {
	id := messageID("customers", "customers.csv", 17, []byte("u1\x1fa@example.com"))
	if len(id) != len("import-customers-")+16 || !strings.HasPrefix(id, "import-customers-") {
		t.Fatalf("messageID = %q", id)
	}
	for _, other := range []string{
		messageID("customers", "customers.csv", 18, []byte("u1\x1fa@example.com")),
		messageID("customers", "other.csv", 17, []byte("u1\x1fa@example.com")),
		messageID("customers", "customers.csv", 17, []byte("u1\x1fb@example.com")),
		messageID("customers", "customers.csv1", 7, []byte("u1\x1fa@example.com")),
	} {
		if other == id {
			t.Errorf("distinct rows share messageId %q", id)
		}
	}
	// Reading the same file twice gives the same ids: a re-run is idempotent.
	read := func() string {
		r, err := NewCustomers(open(t, "customers.csv"), "customers.csv", time.Now)
		if err != nil {
			t.Fatal(err)
		}
		return strings.Join(drain(t, r), "\n")
	}
	if a, b := read(), read(); a != b {
		t.Errorf("two reads of the same file differ:\n%s\n%s", a, b)
	}
}

func TestCSVHeaders(t *testing.T) {
	tests := []struct {
		name, csv, err string
		want           []string
	}{
		{"userId alias", "userId,plan\nu1,pro\n", "", []string{`2 {"type":"identify","userId":"u1","traits":{"plan":"pro"},"messageId":"M","timestamp":"2024-06-01T12:00:00Z"}`}},
		{"id alias, other columns kept", "Email,ID,score\na@example.com,u1,0042\n", "", []string{`2 {"type":"identify","userId":"u1","traits":{"Email":"a@example.com","score":"0042"},"messageId":"M","timestamp":"2024-06-01T12:00:00Z"}`}},
		{"user_id wins over id", "id,user_id\nx,u1\n", "", []string{`2 {"type":"identify","userId":"u1","traits":{"id":"x"},"messageId":"M","timestamp":"2024-06-01T12:00:00Z"}`}},
		{"unnamed column ignored", "user_id,,plan\nu1,junk,pro\n", "", []string{`2 {"type":"identify","userId":"u1","traits":{"plan":"pro"},"messageId":"M","timestamp":"2024-06-01T12:00:00Z"}`}},
		{"only empty cells", "user_id,plan\nu1,\n", "", []string{`2 {"type":"identify","userId":"u1","traits":{},"messageId":"M","timestamp":"2024-06-01T12:00:00Z"}`}},
		{"no user column", "email,plan\na@example.com,pro\n", "header row: a user_id column is required (userId or id also work); the columns are email,plan", nil},
		{"duplicate column", "user_id,plan,Plan\n", `header row: column "Plan" appears twice`, nil},
		{"empty file", "", "empty file: a header row naming the columns is required", nil},
		{"header only", "user_id,email\n", "", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := NewCustomers(strings.NewReader(tt.csv), "x.csv", fixedNow)
			if tt.err != "" {
				if err == nil || err.Error() != tt.err {
					t.Fatalf("err = %v, want %q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			got := drain(t, r)
			for i := range got {
				if j := strings.Index(got[i], `"messageId":"import-customers-`); j >= 0 {
					got[i] = got[i][:j] + `"messageId":"M"` + got[i][j+len(`"messageId":"import-customers-`)+17:]
				}
			}
			if strings.Join(got, "\n") != strings.Join(tt.want, "\n") {
				t.Errorf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(tt.want, "\n"))
			}
		})
	}
	if _, err := NewProductsCSV(strings.NewReader("id,title\n")); err == nil || err.Error() != "header row: a name column is required; the columns are id,title" {
		t.Errorf("products without a name column: %v", err)
	}
}

func TestOversizedRows(t *testing.T) {
	big := strings.Repeat("x", MaxMessageBytes)
	events := `{"type":"track","userId":"u1","event":"A"}` + "\n" +
		`{"type":"track","userId":"u1","event":"` + big + `"}` + "\n" +
		`{"type":"track","userId":"u1","event":"` + big[:MaxMessageBytes-60] + `"}` + "\n" +
		`{"type":"track","userId":"u1","event":"B","messageId":"m"}`
	got := drain(t, NewEvents(strings.NewReader(events), "e.ndjson"))
	want := []string{"1 ", "2! line is longer than the limit of 32768 bytes", "3! message is 32794 bytes with its messageId; the limit is 32768", "4 "}
	if len(got) != len(want) {
		t.Fatalf("got %d records, want %d", len(got), len(want))
	}
	for i := range want {
		if !strings.HasPrefix(got[i], want[i]) {
			t.Errorf("record %d = %.80q, want prefix %q", i, got[i], want[i])
		}
	}

	customers := "user_id,bio\nu1,short\nu2," + big + "\nu3,short\n"
	r, err := NewCustomers(strings.NewReader(customers), "c.csv", fixedNow)
	if err != nil {
		t.Fatal(err)
	}
	got = drain(t, r)
	if len(got) != 3 || !strings.HasPrefix(got[1], "3! row makes a message of ") || !strings.HasPrefix(got[2], "4 ") {
		t.Errorf("customers = %.100q", got)
	}
}

func TestLineReader(t *testing.T) {
	tests := []struct {
		in   string
		max  int
		want []string // "!" for a line too long
	}{
		{"", 10, nil},
		{"a", 10, []string{"a"}},
		{"a\n", 10, []string{"a"}},
		{"a\r\nb\n\nc", 10, []string{"a", "b", "", "c"}},
		{"\ufeffa\nb", 10, []string{"a", "b"}},
		{"0123456789\n01234567890\nok", 10, []string{"0123456789", "!", "ok"}},
		{"0123456789\r\n", 10, []string{"0123456789"}},
		{"01234567890", 10, []string{"!"}},
		{strings.Repeat("y", 200<<10) + "\nz", 100 << 10, []string{"!", "z"}},
	}
	for _, tt := range tests {
		lr := newLineReader(strings.NewReader(tt.in), tt.max)
		var got []string
		for {
			b, long, err := lr.next()
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
			if long {
				got = append(got, "!")
			} else {
				got = append(got, string(b))
			}
			if lr.line != len(got) {
				t.Errorf("%.20q: line %d after %d lines", tt.in, lr.line, len(got))
			}
		}
		if strings.Join(got, "|") != strings.Join(tt.want, "|") {
			t.Errorf("%.20q: lines %q, want %q", tt.in, got, tt.want)
		}
	}
}
