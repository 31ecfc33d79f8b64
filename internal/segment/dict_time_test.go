package segment

import (
	"testing"
	"time"
)

func TestTimestampValuesAreStoredCompactlyAndReadBackExactly(t *testing.T) {
	for _, tc := range []struct {
		in      string
		compact bool
	}{
		{"2025-03-12T10:00:00Z", true},
		{"2025-03-12T10:00:00.1Z", true},
		{"2025-03-12T10:00:00.12Z", true},
		{"2025-03-12T10:00:00.123Z", true},
		{"2025-03-12T10:00:00.120Z", true}, // JavaScript's toISOString keeps the zero
		{"2024-02-29T23:59:59.999Z", true},
		{"1970-01-01T00:00:00Z", true},
		{"2025-02-30T00:00:00Z", false}, // no such day
		{"2025-03-12T24:00:00Z", false},
		{"2025-03-12T10:00:60Z", false},
		{"2025-03-12T10:00:00.1234Z", false}, // finer than milliseconds
		{"2025-03-12T10:00:00+01:00", false},
		{"2025-03-12 10:00:00Z", false},
		{"1969-12-31T23:59:59Z", false},
		{"2025-03-12T10:00:00.Z", false},
		{"2025-3-12T10:00:00.00Z", false},
		{"abcd-ef-ghTij:kl:mnZ", false},
	} {
		var d dict
		id := d.id(tc.in)
		if got := d.kinds[id-1] == kindTime; got != tc.compact {
			t.Errorf("%q: compact %v, want %v", tc.in, got, tc.compact)
		}
		if v := d.value(id); v != tc.in {
			t.Errorf("%q reads back as %v", tc.in, v)
		}
		if again := d.id(tc.in); again != id {
			t.Errorf("%q: second id %d, first %d", tc.in, again, id)
		}
		if tc.compact {
			want, err := time.Parse(time.RFC3339Nano, tc.in)
			if err != nil {
				t.Fatal(err)
			}
			if secs, ok := d.timeAt(id); !ok || secs != want.Unix() {
				t.Errorf("%q: timeAt %d %v, want %d", tc.in, secs, ok, want.Unix())
			}
		}
	}
}

func TestDigitStringsAreStoredCompactlyAndReadBackExactly(t *testing.T) {
	for _, tc := range []struct {
		in      string
		compact bool
	}{
		{"+14155550123", true},
		{"4155550123", true},
		{"0", true},
		{"+0", true},
		{"999999999999999999", true}, // 18 digits
		{"1000000000000000000", false},
		{"0123", false}, // a leading zero would be lost
		{"+", false},
		{"", false},
		{"12a", false},
		{"-12", false},
		{"++1", false},
	} {
		var d dict
		id := d.id(tc.in)
		if got := d.kinds[id-1] == kindDigits; got != tc.compact {
			t.Errorf("%q: compact %v, want %v", tc.in, got, tc.compact)
		}
		if v := d.value(id); v != tc.in {
			t.Errorf("%q reads back as %v", tc.in, v)
		}
		if again := d.id(tc.in); again != id {
			t.Errorf("%q: second id %d, first %d", tc.in, again, id)
		}
	}
	var d dict
	if d.id("+1234") == d.id("1234") {
		t.Error(`"+1234" and "1234" share an id`)
	}
}

func TestTimestampValuesMatchLikeTheirStrings(t *testing.T) {
	now := time.Date(2025, 3, 20, 12, 0, 0, 0, time.UTC).Unix()
	vals := []string{"2025-03-12T10:00:00.123Z", "2025-03-19T13:00:00Z", "2025-01-01T00:00:00.5Z", "2025-03-20T11:59:59.99Z"}
	var d dict
	for _, v := range vals {
		d.id(v)
	}
	d.id("not a time")
	d.id("+14155550123")
	d.id("2025")
	for _, rule := range []*Rule{
		{Trait: "t", Op: After, Value: "2025-03-12"},
		{Trait: "t", Op: Gt, Value: 5.0},
		{Trait: "t", Op: Eq, Value: "2025-03-12T10:00:00.123Z"},
		{Trait: "t", Op: StartsWith, Value: "2025-03"},
		{Trait: "t", Op: Contains, Value: ".5Z"},
		{Trait: "t", Op: LessThanAgo, Value: "1d"},
		{Trait: "t", Op: MoreThanAgo, Value: "7d"},
		{Trait: "t", Op: Before, Value: "2025-03-19T13:00:00Z"},
		{Trait: "t", Op: AnniversaryWithinNext, Value: "300d"},
		{Trait: "t", Op: Exists},
		{Trait: "t", Op: StartsWith, Value: "+1415"},
		{Trait: "t", Op: Eq, Value: "2025"},
		{Trait: "t", Op: In, Value: []any{"+14155550123", "x"}},
		{Trait: "t", Op: NotExists},
	} {
		c, err := compileComparison(rule.Op, rule.Value, false, 0)
		if err != nil {
			t.Fatalf("%v: %v", rule, err)
		}
		table := d.matchTable(c, now)
		for id := 1; id <= d.len(); id++ {
			s, _ := d.value(uint32(id)).(string)
			if want := c.match(s, now); table[id] != want {
				t.Errorf("%s %v on %q: %v, the string gives %v", rule.Op, rule.Value, s, table[id], want)
			}
		}
	}
}
