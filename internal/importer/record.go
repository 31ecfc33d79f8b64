package importer

import (
	"bufio"
	"bytes"
	"crypto/sha1"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"strconv"
)

// MaxMessageBytes is the largest message the importer sends to /v1/import,
// the per-message limit of the Segment tracking API.
const MaxMessageBytes = 32 << 10

// MaxProductBytes is the largest product line the importer sends to the
// catalog, the catalog's limit for one product.
const MaxProductBytes = 1 << 20

// A Reader yields the records of one input file.
type Reader interface {
	// Next returns the next record: the 1-based line its row starts on and
	// its payload, one JSON object, which the caller may keep. At the end of
	// the input it returns io.EOF. A *RowError reports a bad row, which is
	// skipped: call Next again. Any other error means the input cannot be
	// read further.
	Next() (line int, payload []byte, err error)
}

// RowError is a row of the input that cannot be imported, or a message the
// server rejected, located by the line its row starts on.
type RowError struct {
	Line   int
	Reason string
}

func (e *RowError) Error() string { return fmt.Sprintf("line %d: %s", e.Line, e.Reason) }

func rowErr(line int, format string, args ...any) *RowError {
	return &RowError{Line: line, Reason: fmt.Sprintf(format, args...)}
}

// messageID derives the messageId of a row that has none, from the name of
// its file, its line and its content. The same file imported twice yields the
// same ids, so the server drops the repeats; a row whose content was changed
// since gets a new id and is applied. source should be the file's base name,
// so that the directory the import is run from does not matter.
func messageID(kind, source string, line int, content []byte) string {
	h := sha1.New()
	h.Write([]byte(source))
	h.Write([]byte{0})
	h.Write(strconv.AppendInt(nil, int64(line), 10))
	h.Write([]byte{0})
	h.Write(content)
	return "import-" + kind + "-" + hex.EncodeToString(h.Sum(nil))[:16]
}

var utf8BOM = []byte{0xEF, 0xBB, 0xBF}

// skipBOM drops a UTF-8 byte order mark at the start of r, which spreadsheet
// programs write and which would otherwise become part of the first column
// name or the first JSON line.
func skipBOM(r io.Reader) io.Reader {
	br := bufio.NewReaderSize(r, 64<<10)
	if b, _ := br.Peek(3); bytes.Equal(b, utf8BOM) {
		br.Discard(3)
	}
	return br
}

// lineReader reads lines of at most max bytes without ever holding more:
// the rest of a longer line is read and dropped.
type lineReader struct {
	br   *bufio.Reader
	max  int
	line int    // number of the line last returned
	buf  []byte // the line being assembled across buffer refills
}

func newLineReader(r io.Reader, max int) *lineReader {
	return &lineReader{br: bufio.NewReaderSize(skipBOM(r), 64<<10), max: max}
}

// next returns the next line without its "\n" or "\r\n", valid until the
// next call, or tooLong when it has more than max bytes. At the end of the
// input it returns io.EOF.
func (l *lineReader) next() (b []byte, tooLong bool, err error) {
	l.buf = l.buf[:0]
	for {
		chunk, err := l.br.ReadSlice('\n')
		if !tooLong {
			l.buf = append(l.buf, chunk...)
			if len(l.buf) > l.max+2 { // +2: room for the line end
				tooLong, l.buf = true, l.buf[:0]
			}
		}
		if errors.Is(err, bufio.ErrBufferFull) {
			continue
		}
		if errors.Is(err, io.EOF) {
			if len(l.buf) == 0 && !tooLong {
				return nil, false, io.EOF
			}
		} else if err != nil {
			return nil, false, err
		}
		l.line++
		if tooLong {
			return nil, true, nil
		}
		b = bytes.TrimSuffix(l.buf, []byte{'\n'})
		b = bytes.TrimSuffix(b, []byte{'\r'})
		if len(b) > l.max {
			return nil, true, nil
		}
		return b, false, nil
	}
}
