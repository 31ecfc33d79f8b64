package event

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"time"
)

// storedVersion prefixes every stored message so the format can evolve.
// Version 2 added the source's trust level after the version byte; version 1
// messages (no trust byte) were all from trusted sources.
const (
	storedVersion   = 2
	storedVersionV1 = 1
)

// ErrCorrupt is returned by DecodeStored for bytes that are not a stored message.
var ErrCorrupt = errors.New("event: corrupt stored message")

// AppendStored appends the log form of a message to dst: the receive metadata
// followed by the message bytes exactly as the client sent them. Keeping the
// client's bytes (instead of re-encoding the decoded Event) is cheaper on the
// hot path and keeps what was received auditable; DecodeStored runs the same
// Decode again, so replay yields the same Event.
func AppendStored(dst, raw []byte, m Meta) []byte {
	dst = append(dst, storedVersion, byte(m.Trust))
	dst = binary.AppendVarint(dst, m.ReceivedAt.UnixNano())
	var sent int64
	if !m.SentAt.IsZero() {
		sent = m.SentAt.UnixNano()
	}
	dst = binary.AppendVarint(dst, sent)
	dst = appendString(dst, m.SourceID)
	dst = appendString(dst, string(m.Type))
	dst = appendString(dst, m.MessageID)
	var ctx []byte
	if m.Context != nil {
		ctx, _ = json.Marshal(m.Context) // decoded JSON always re-encodes
	}
	dst = appendString(dst, string(ctx))
	return append(dst, raw...)
}

// DecodeStored rebuilds the Event from its log form.
func DecodeStored(b []byte) (Event, error) {
	var m Meta
	switch {
	case len(b) >= 2 && b[0] == storedVersion && Trust(b[1]) <= TrustClient:
		m.Trust = Trust(b[1])
		b = b[2:]
	case len(b) >= 1 && b[0] == storedVersionV1:
		b = b[1:]
	default:
		return Event{}, ErrCorrupt
	}
	recv, n := binary.Varint(b)
	if n <= 0 {
		return Event{}, ErrCorrupt
	}
	b = b[n:]
	sent, n := binary.Varint(b)
	if n <= 0 {
		return Event{}, ErrCorrupt
	}
	b = b[n:]
	m.ReceivedAt = time.Unix(0, recv).UTC()
	if sent != 0 {
		m.SentAt = time.Unix(0, sent).UTC()
	}
	var s, typ, ctx string
	var ok bool
	if m.SourceID, b, ok = readString(b); !ok {
		return Event{}, ErrCorrupt
	}
	if typ, b, ok = readString(b); !ok {
		return Event{}, ErrCorrupt
	}
	m.Type = Type(typ)
	if s, b, ok = readString(b); !ok {
		return Event{}, ErrCorrupt
	}
	m.MessageID = s
	if ctx, b, ok = readString(b); !ok {
		return Event{}, ErrCorrupt
	}
	if ctx != "" {
		if err := json.Unmarshal([]byte(ctx), &m.Context); err != nil {
			return Event{}, ErrCorrupt
		}
	}
	e, err := Decode(b, m)
	if err != nil {
		return Event{}, errors.Join(ErrCorrupt, err)
	}
	return e, nil
}

func appendString(dst []byte, s string) []byte {
	dst = binary.AppendUvarint(dst, uint64(len(s)))
	return append(dst, s...)
}

func readString(b []byte) (string, []byte, bool) {
	l, n := binary.Uvarint(b)
	if n <= 0 || uint64(len(b)-n) < l {
		return "", nil, false
	}
	return string(b[n : n+int(l)]), b[n+int(l):], true
}
