package demo

import "strconv"

const hexDigits = "0123456789abcdef"

// appendStr appends s as a JSON string. Demo strings are plain text from the
// tables in this package, so the fast path copies them as they are.
func appendStr(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 0x20 && c != '"' && c != '\\' {
			continue
		}
		b = append(b, s[start:i]...)
		switch c {
		case '"', '\\':
			b = append(b, '\\', c)
		case '\n':
			b = append(b, '\\', 'n')
		case '\t':
			b = append(b, '\\', 't')
		default:
			b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
		}
		start = i + 1
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}

// appendCents appends an amount of cents as a JSON number with two decimals.
func appendCents(b []byte, cents int64) []byte {
	if cents < 0 {
		b = append(b, '-')
		cents = -cents
	}
	b = strconv.AppendInt(b, cents/100, 10)
	c := cents % 100
	return append(b, '.', byte('0'+c/10), byte('0'+c%10))
}

// appendTime appends unix milliseconds (after 1970) as RFC 3339 UTC with
// milliseconds, e.g. 2026-10-31T23:59:59.999Z. It is time.Format without the
// time.Time: the civil date comes from Howard Hinnant's days-to-civil.
func appendTime(b []byte, ms int64) []byte {
	days := ms / 86_400_000
	rem := ms % 86_400_000
	y, m, d := civil(days)
	b = append4(b, int(y))
	b = append(b, '-')
	b = append2(b, m)
	b = append(b, '-')
	b = append2(b, d)
	b = append(b, 'T')
	sec := int(rem / 1000)
	b = append2(b, sec/3600)
	b = append(b, ':')
	b = append2(b, sec/60%60)
	b = append(b, ':')
	b = append2(b, sec%60)
	msec := int(rem % 1000)
	return append(b, '.', byte('0'+msec/100), byte('0'+msec/10%10), byte('0'+msec%10), 'Z')
}

// civil converts days since 1970-01-01 (>= 0) to a year, month and day.
func civil(days int64) (year int64, month, day int) {
	z := days + 719468
	era := z / 146097
	doe := z - era*146097
	yoe := (doe - doe/1460 + doe/36524 - doe/146096) / 365
	year = yoe + era*400
	doy := doe - (365*yoe + yoe/4 - yoe/100)
	mp := (5*doy + 2) / 153
	day = int(doy - (153*mp+2)/5 + 1)
	if mp < 10 {
		month = int(mp + 3)
	} else {
		month = int(mp - 9)
	}
	if month <= 2 {
		year++
	}
	return year, month, day
}

func append2(b []byte, v int) []byte {
	return append(b, byte('0'+v/10), byte('0'+v%10))
}

func append4(b []byte, v int) []byte {
	return append(b, byte('0'+v/1000), byte('0'+v/100%10), byte('0'+v/10%10), byte('0'+v%10))
}

// appendUUID appends a version-4-shaped UUID made of hi and lo.
func appendUUID(b []byte, hi, lo uint64) []byte {
	hi = hi&^0xf000 | 0x4000     // version 4
	lo = lo&^(0xc<<60) | 0x8<<60 // RFC 4122 variant
	for i, shift := 0, 60; i < 16; i, shift = i+1, shift-4 {
		if i == 8 || i == 12 {
			b = append(b, '-')
		}
		b = append(b, hexDigits[hi>>uint(shift)&0xf])
	}
	b = append(b, '-')
	for i, shift := 0, 60; i < 16; i, shift = i+1, shift-4 {
		if i == 4 {
			b = append(b, '-')
		}
		b = append(b, hexDigits[lo>>uint(shift)&0xf])
	}
	return b
}
