package importer

import (
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"
)

// customersReader turns a customers CSV file into identify messages, one per
// row: the user id column becomes userId, every other column a trait.
type customersReader struct {
	t         *csvTable
	source    string
	now       func() time.Time
	userCol   int
	createdAt int // column of created_at, or -1
}

// NewCustomers reads a customers CSV file. Its header must have a user_id
// column (or userId, or id); every other named column becomes a trait of the
// same name, with its text value (numbers stay strings). A created_at column
// must hold dates; they are sent in RFC 3339 and used as the message
// timestamp, otherwise the timestamp is now(). Empty cells set no trait.
// source names the file in messageIds (use its base name).
func NewCustomers(r io.Reader, source string, now func() time.Time) (Reader, error) {
	t, err := newCSVTable(r)
	if err != nil {
		return nil, err
	}
	c := &customersReader{t: t, source: source, now: now}
	c.userCol = t.column("user_id", "userId", "id")
	if c.userCol < 0 {
		return nil, fmt.Errorf("header row: a user_id column is required (userId or id also work); the columns are %s", strings.Join(t.header, ","))
	}
	c.createdAt = t.column("created_at")
	return c, nil
}

type identify struct {
	Type      string            `json:"type"`
	UserID    string            `json:"userId"`
	Traits    map[string]string `json:"traits"`
	MessageID string            `json:"messageId"`
	Timestamp string            `json:"timestamp"`
}

func (c *customersReader) Next() (int, []byte, error) {
	line, row, err := c.t.next()
	if err != nil {
		return line, nil, err
	}
	userID := row[c.userCol]
	if userID == "" {
		return line, nil, rowErr(line, "missing %s", c.t.header[c.userCol])
	}
	m := identify{Type: "identify", UserID: userID, Traits: make(map[string]string, len(row))}
	for i, v := range row {
		name := c.t.header[i]
		if i == c.userCol || name == "" || v == "" {
			continue
		}
		if i == c.createdAt {
			ts, err := parseTime(v)
			if err != nil {
				return line, nil, rowErr(line, "%s: %v", name, err)
			}
			v = ts.Format(time.RFC3339Nano)
			m.Timestamp = v
		}
		m.Traits[name] = v
	}
	if m.Timestamp == "" {
		m.Timestamp = c.now().UTC().Format(time.RFC3339)
	}
	m.MessageID = messageID("customers", c.source, line, []byte(strings.Join(row, "\x1f")))
	b, err := json.Marshal(m)
	if err != nil {
		return line, nil, rowErr(line, "%v", err)
	}
	if len(b) > MaxMessageBytes {
		return line, nil, rowErr(line, "row makes a message of %d bytes; the limit is %d", len(b), MaxMessageBytes)
	}
	return line, b, nil
}

// timeLayouts are the date formats accepted in CSV files, most specific
// first. Those without a zone are taken as UTC.
var timeLayouts = []string{
	time.RFC3339Nano,
	"2006-01-02T15:04:05",
	"2006-01-02 15:04:05Z07:00",
	"2006-01-02 15:04:05",
	"2006-01-02 15:04",
	"2006-01-02",
}

// parseTime reads a date in one of timeLayouts, or Unix seconds or
// milliseconds.
func parseTime(s string) (time.Time, error) {
	for _, l := range timeLayouts {
		if t, err := time.Parse(l, s); err == nil {
			return t, nil
		}
	}
	if n, err := strconv.ParseInt(s, 10, 64); err == nil && n > 0 {
		if len(s) >= 13 {
			return time.UnixMilli(n).UTC(), nil
		}
		return time.Unix(n, 0).UTC(), nil
	}
	return time.Time{}, fmt.Errorf("cannot read %q as a date; write it like 2024-01-31T09:30:00Z or 2024-01-31", s)
}
