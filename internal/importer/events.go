package importer

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
)

// eventsReader passes the lines of an NDJSON file of Segment messages through
// as they are, after checking each is one JSON object within the size limit
// and giving it a messageId when it has none.
type eventsReader struct {
	lr     *lineReader
	source string
}

// NewEvents reads NDJSON with one Segment message object per line (type,
// userId/anonymousId, event, properties, traits, context, timestamp,
// messageId). Blank lines are skipped. The fields are left for the server to
// check. source names the file in generated messageIds (use its base name).
func NewEvents(r io.Reader, source string) Reader {
	return &eventsReader{lr: newLineReader(r, MaxMessageBytes), source: source}
}

func (e *eventsReader) Next() (int, []byte, error) {
	for {
		b, tooLong, err := e.lr.next()
		line := e.lr.line
		if err != nil {
			return line, nil, err
		}
		if tooLong {
			return line, nil, rowErr(line, "line is longer than the limit of %d bytes", MaxMessageBytes)
		}
		b = bytes.TrimSpace(b)
		if len(b) == 0 {
			continue
		}
		p, err := withMessageID(b, "events", e.source, line)
		if err != nil {
			return line, nil, rowErr(line, "%v", err)
		}
		if len(p) > MaxMessageBytes {
			return line, nil, rowErr(line, "message is %d bytes with its messageId; the limit is %d", len(p), MaxMessageBytes)
		}
		return line, p, nil
	}
}

// withMessageID checks that b is one JSON object and returns a copy of it
// that has a messageId: b itself when it has a non-empty one, else b with a
// deterministic one added.
func withMessageID(b []byte, kind, source string, line int) ([]byte, error) {
	if b[0] != '{' {
		return nil, fmt.Errorf("not a JSON object")
	}
	var probe struct {
		MessageID json.RawMessage `json:"messageId"`
	}
	if err := json.Unmarshal(b, &probe); err != nil {
		return nil, fmt.Errorf("invalid JSON: %v", err)
	}
	switch string(probe.MessageID) {
	default:
		return bytes.Clone(b), nil
	case "":
		// Absent: splice it in after the '{' rather than re-encode the
		// message, which would reorder its keys and reformat its numbers.
		id, _ := json.Marshal(messageID(kind, source, line, b))
		rest := bytes.TrimLeft(b[1:], " \t\r\n")
		out := make([]byte, 0, len(b)+len(id)+16)
		out = append(out, `{"messageId":`...)
		out = append(out, id...)
		if rest[0] != '}' {
			out = append(out, ',')
		}
		return append(out, rest...), nil
	case "null", `""`:
		// Present but empty: a spliced duplicate key would be ambiguous, so
		// re-encode with the id replaced.
		var m map[string]json.RawMessage
		if err := json.Unmarshal(b, &m); err != nil {
			return nil, fmt.Errorf("invalid JSON: %v", err)
		}
		m["messageId"], _ = json.Marshal(messageID(kind, source, line, b))
		return json.Marshal(m)
	}
}
