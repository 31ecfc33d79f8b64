package importer

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"

	"tailor/internal/catalog"
)

// productsCSVReader turns a products CSV file into catalog products.
type productsCSVReader struct {
	t    *csvTable
	cols map[string]int // known column name → index
}

// productColumns are the CSV columns that map to Product fields; any other
// named column becomes an attribute.
var productColumns = []string{"id", "name", "category", "price", "currency", "stock", "url", "image_url"}

// NewProductsCSV reads a products CSV file whose header has the columns id
// and name, optionally category, price, currency, stock, url and image_url;
// every other named column becomes a text attribute. Empty cells set nothing,
// except that an empty price is an error (write 0 for a free product).
func NewProductsCSV(r io.Reader) (Reader, error) {
	t, err := newCSVTable(r)
	if err != nil {
		return nil, err
	}
	p := &productsCSVReader{t: t, cols: make(map[string]int)}
	for _, name := range productColumns {
		if i := t.column(name); i >= 0 {
			p.cols[name] = i
		}
	}
	for _, req := range []string{"id", "name"} {
		if _, ok := p.cols[req]; !ok {
			return nil, fmt.Errorf("header row: a %s column is required; the columns are %s", req, strings.Join(t.header, ","))
		}
	}
	return p, nil
}

func (p *productsCSVReader) Next() (int, []byte, error) {
	line, row, err := p.t.next()
	if err != nil {
		return line, nil, err
	}
	cell := func(name string) string {
		if i, ok := p.cols[name]; ok {
			return row[i]
		}
		return ""
	}
	prod := catalog.Product{
		ID:       cell("id"),
		Name:     cell("name"),
		Category: cell("category"),
		Currency: cell("currency"),
		URL:      cell("url"),
		ImageURL: cell("image_url"),
	}
	if i, ok := p.cols["price"]; ok {
		v := row[i]
		if v == "" {
			return line, nil, rowErr(line, "price: empty; write 0 for a free product")
		}
		if prod.Price, err = strconv.ParseFloat(v, 64); err != nil {
			return line, nil, rowErr(line, "price: %q is not a number (write it like 12.50)", v)
		}
	}
	if v := cell("stock"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return line, nil, rowErr(line, "stock: %q is not a whole number", v)
		}
		prod.Stock = &n
	}
	known := make(map[int]bool, len(p.cols))
	for _, i := range p.cols {
		known[i] = true
	}
	for i, v := range row {
		if known[i] || v == "" || p.t.header[i] == "" {
			continue
		}
		if prod.Attrs == nil {
			prod.Attrs = make(map[string]any)
		}
		prod.Attrs[p.t.header[i]] = v
	}
	b, err := json.Marshal(prod)
	if err != nil {
		return line, nil, rowErr(line, "%v", err)
	}
	if len(b) > MaxProductBytes {
		return line, nil, rowErr(line, "row makes a product of %d bytes; the limit is %d", len(b), MaxProductBytes)
	}
	return line, b, nil
}

// productsNDJSONReader passes through NDJSON lines of catalog products.
type productsNDJSONReader struct {
	lr *lineReader
}

// NewProductsNDJSON reads NDJSON with one catalog product object per line.
// Lines are checked to be JSON objects and sent as they are; the server
// validates the products.
func NewProductsNDJSON(r io.Reader) Reader {
	return &productsNDJSONReader{lr: newLineReader(r, MaxProductBytes)}
}

func (p *productsNDJSONReader) Next() (int, []byte, error) {
	for {
		b, tooLong, err := p.lr.next()
		line := p.lr.line
		if err != nil {
			return line, nil, err
		}
		if tooLong {
			return line, nil, rowErr(line, "line is longer than the limit of %d bytes", MaxProductBytes)
		}
		b = bytes.TrimSpace(b)
		if len(b) == 0 {
			continue
		}
		if b[0] != '{' {
			return line, nil, rowErr(line, "not a JSON object")
		}
		if !json.Valid(b) {
			var v any
			err := json.Unmarshal(b, &v)
			return line, nil, rowErr(line, "invalid JSON: %v", err)
		}
		return line, bytes.Clone(b), nil
	}
}
