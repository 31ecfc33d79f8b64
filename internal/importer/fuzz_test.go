package importer

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"os"
	"testing"
)

// FuzzReaders runs every reader over the same input and checks that they
// never panic, always end, number lines in order, skip only bad rows, and
// yield only JSON objects within the size limits (events with a messageId).
func FuzzReaders(f *testing.F) {
	for _, name := range []string{"customers.csv", "events.ndjson", "products.csv", "products.ndjson"} {
		b, err := os.ReadFile("testdata/" + name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte("user_id,id,created_at\n\"u\n1\",x,2024-01-01\n,,\n\"unterminated"))
	f.Add([]byte("id,name,price,stock\na,b,1e400,9999999999999999999\n"))
	f.Add([]byte(`{"messageId":null,"type":"track"}` + "\n" + `{ }` + "\r\n" + `{"a":1}{"b":2}`))

	f.Fuzz(func(t *testing.T, data []byte) {
		readers := map[string]func() (Reader, error){
			"customers": func() (Reader, error) { return NewCustomers(bytes.NewReader(data), "f.csv", fixedNow) },
			"events":    func() (Reader, error) { return NewEvents(bytes.NewReader(data), "f.ndjson"), nil },
			"productsCSV": func() (Reader, error) {
				return NewProductsCSV(bytes.NewReader(data))
			},
			"productsNDJSON": func() (Reader, error) { return NewProductsNDJSON(bytes.NewReader(data)), nil },
		}
		limit := map[string]int{"customers": MaxMessageBytes, "events": MaxMessageBytes,
			"productsCSV": MaxProductBytes, "productsNDJSON": MaxProductBytes}
		maxLine := bytes.Count(data, []byte{'\n'}) + 1
		for name, open := range readers {
			r, err := open()
			if err != nil {
				continue // a bad header is reported before any row
			}
			last := 0
			for i := 0; ; i++ {
				if i > len(data)+1 {
					t.Fatalf("%s: more records than input bytes", name)
				}
				line, p, err := r.Next()
				if errors.Is(err, io.EOF) {
					break
				}
				var re *RowError
				if err != nil && !errors.As(err, &re) {
					t.Fatalf("%s: fatal error on an in-memory input: %v", name, err)
				}
				if line < 1 || line > maxLine || line < last {
					t.Fatalf("%s: line %d after line %d (input has %d lines)", name, line, last, maxLine)
				}
				last = line
				if err != nil {
					continue
				}
				var obj map[string]any
				if len(p) > limit[name] || json.Unmarshal(p, &obj) != nil {
					t.Fatalf("%s: line %d: payload is not a JSON object within the limit: %.200q", name, line, p)
				}
				if name == "events" || name == "customers" {
					// Matched as the server matches it: encoding/json, so
					// without case.
					var probe struct {
						MessageID json.RawMessage `json:"messageId"`
					}
					json.Unmarshal(p, &probe)
					if id := string(probe.MessageID); id == "" || id == "null" || id == `""` {
						t.Fatalf("%s: line %d: payload without messageId: %.200q", name, line, p)
					}
				}
			}
		}
	})
}
