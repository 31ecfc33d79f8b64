package importer

import (
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"strings"
)

// csvTable reads a CSV file whose first row names the columns. Values are
// trimmed of surrounding spaces; blank lines are skipped.
type csvTable struct {
	r      *csv.Reader
	header []string // trimmed column names; "" for a column without a name
}

func newCSVTable(r io.Reader) (*csvTable, error) {
	cr := csv.NewReader(skipBOM(r))
	cr.ReuseRecord = true
	header, err := cr.Read()
	if errors.Is(err, io.EOF) {
		return nil, errors.New("empty file: a header row naming the columns is required")
	}
	if err != nil {
		return nil, fmt.Errorf("header row: %w", err)
	}
	t := &csvTable{r: cr, header: make([]string, len(header))}
	seen := make(map[string]bool, len(header))
	for i, h := range header {
		h = strings.TrimSpace(h)
		key := strings.ToLower(h)
		if h != "" && seen[key] {
			return nil, fmt.Errorf("header row: column %q appears twice", h)
		}
		seen[key] = true
		t.header[i] = h
	}
	return t, nil
}

// column returns the index of the first of names (compared without case)
// that the header has, or -1.
func (t *csvTable) column(names ...string) int {
	for _, n := range names {
		for i, h := range t.header {
			if strings.EqualFold(h, n) {
				return i
			}
		}
	}
	return -1
}

// next returns the next row, valid until the next call, and the line it
// starts on. A row that is not well-formed CSV, or has not as many fields as
// the header, is a *RowError.
func (t *csvTable) next() (line int, row []string, err error) {
	row, err = t.r.Read()
	var pe *csv.ParseError
	switch {
	case errors.As(err, &pe) && errors.Is(pe.Err, csv.ErrFieldCount):
		return pe.StartLine, nil, rowErr(pe.StartLine, "has %d fields but the header has %d", len(row), len(t.header))
	case errors.As(err, &pe):
		return pe.StartLine, nil, rowErr(pe.StartLine, "not valid CSV: %v", pe.Err)
	case err != nil:
		return 0, nil, err
	}
	line, _ = t.r.FieldPos(0)
	for i := range row {
		row[i] = strings.TrimSpace(row[i])
	}
	return line, row, nil
}
