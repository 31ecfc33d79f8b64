package segment

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"math"
	"strconv"
	"strings"
)

// ExportID is the export field of the profile id; every other field is a
// computed field (ComputedFields) or a trait key, in that order of
// precedence, as in the text form of rules.
const ExportID = "id"

// MaxExportFields bounds the fields of one export.
const MaxExportFields = 64

// The traits an audience export reads.
const (
	TraitEmail = "email"
	TraitPhone = "phone"
)

// FieldError is an export field that names nothing exportable.
type FieldError struct {
	Field string
}

func (e *FieldError) Error() string {
	return fmt.Sprintf("unknown field %q: not id, a computed field (%s) or a trait any profile has",
		e.Field, strings.Join(ComputedFields(), ", "))
}

type fieldKind uint8

const (
	fieldID fieldKind = iota
	fieldTrait
	fieldComputed
)

type exportField struct {
	name string
	kind fieldKind
}

// resolveFields sorts names into kinds. With strict, a name that is no
// trait of any profile is a *FieldError; without, it exports as absent.
// Caller holds ix.mu.
func (e *Engine) resolveFields(names []string, strict bool) ([]exportField, error) {
	out := make([]exportField, len(names))
	for i, n := range names {
		_, computed := computedFields[n]
		switch {
		case n == ExportID:
			out[i] = exportField{n, fieldID}
		case computed:
			out[i] = exportField{n, fieldComputed}
		case e.ix.traits[n] != nil || !strict:
			out[i] = exportField{n, fieldTrait}
		default:
			return nil, &FieldError{Field: n}
		}
	}
	return out, nil
}

// ExportPage returns up to limit members of segment id after the cursor
// (empty for the first page), each as the values of fields in their order,
// and the next page's cursor ("" at the end). A value is a string, a
// float64, a bool, a list or an object (a trait's JSON), or nil when the
// profile has none; computed fields are figured at the page's instant, as
// rules see them (times in RFC 3339). The read lock is held for one page
// only.
func (e *Engine) ExportPage(id, cursor string, limit int, fields []string) ([][]any, string, error) {
	return e.exportPage(id, cursor, limit, fields, true)
}

func (e *Engine) exportPage(id, cursor string, limit int, names []string, strict bool) ([][]any, string, error) {
	ix := e.ix
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	s, ok := e.segs[id]
	if !ok {
		return nil, "", ErrNotFound
	}
	fields, err := e.resolveFields(names, strict)
	if err != nil {
		return nil, "", err
	}
	ords, next, err := s.page(cursor, limit)
	if err != nil {
		return nil, "", err
	}
	now := e.opts.Now()
	cols := make([]*traitColumn, len(fields))
	for i, f := range fields {
		if f.kind == fieldTrait {
			cols[i] = ix.traits[f.name]
		}
	}
	rows := make([][]any, len(ords))
	vals := make([]any, len(ords)*len(fields)) // one allocation for the page
	for r, o := range ords {
		row := vals[r*len(fields) : (r+1)*len(fields) : (r+1)*len(fields)]
		var sg *single // built for the row's first computed field
		for i, f := range fields {
			switch f.kind {
			case fieldID:
				row[i] = ix.id(o)
			case fieldTrait:
				if c := cols[i]; c != nil {
					row[i] = c.dict.value(c.vals.get(int(o)))
				}
			case fieldComputed:
				if sg == nil {
					sg = newSingle(ix, o, now, e.resolve, false)
				}
				row[i] = sg.figure(f.name)
			}
		}
		rows[r] = row
	}
	return rows, next, nil
}

// figure is the computed field's value for the profile, as rules compute it
// (computeField), in the form an explanation shows.
func (sg *single) figure(field string) any {
	a := sg.aggregates()
	if field == FieldSpendTier {
		sg.trailingNow(a)
	}
	if field == FieldBestSendHour {
		sg.sendHoursNow(a)
	}
	return computeField(field, a, 0, sg.now, sg.ix.models).figure()
}

// NormalizeEmail returns an email as ad platforms (Google Customer Match,
// Meta custom audiences) hash it: trimmed and lower-cased. It returns ""
// for a value without "@", which no platform would match.
func NormalizeEmail(s string) string {
	s = strings.ToLower(strings.TrimSpace(s))
	if !strings.Contains(s, "@") {
		return ""
	}
	return s
}

// NormalizePhone returns a phone number in E.164 as ad platforms hash it: a
// "+" and 8 to 15 digits, spaces, dashes, parentheses and dots dropped
// ("+33 6 12-34-56.78" → "+33612345678"). An international prefix "00"
// reads as "+", and the trunk "(0)" written after a country code is
// dropped. A number in national form (leading 0) cannot be placed in a
// country, and anything else with other characters or too few digits is no
// phone: those return "".
func NormalizePhone(s string) string {
	s = strings.TrimSpace(s)
	switch {
	case strings.HasPrefix(s, "+"):
		s = strings.Replace(s[1:], "(0)", "", 1)
	case strings.HasPrefix(s, "00"):
		s = strings.Replace(s[2:], "(0)", "", 1)
	}
	digits := make([]byte, 0, 16)
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c >= '0' && c <= '9':
			digits = append(digits, c)
		case c == ' ' || c == '-' || c == '(' || c == ')' || c == '.':
		default:
			return ""
		}
	}
	if len(digits) < 8 || len(digits) > 15 || digits[0] == '0' {
		return ""
	}
	return "+" + string(digits)
}

// hashHex is the lower-case hex SHA-256 of s.
func hashHex(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

// audienceRow returns the hashed email and phone of a profile from its
// email and phone traits (each "" when absent or not usable); ok is false
// when both are.
func audienceRow(email, phone any) (emailHash, phoneHash string, ok bool) {
	if s, isStr := email.(string); isStr {
		if n := NormalizeEmail(s); n != "" {
			emailHash = hashHex(n)
		}
	}
	var p string
	switch v := phone.(type) {
	case string:
		p = NormalizePhone(v)
	case float64: // a number stored without its "+"
		if v > 0 && v == math.Trunc(v) && v < 1e15 {
			p = NormalizePhone(strconv.FormatFloat(v, 'f', -1, 64))
		}
	}
	if p != "" {
		phoneHash = hashHex(p)
	}
	return emailHash, phoneHash, emailHash != "" || phoneHash != ""
}
