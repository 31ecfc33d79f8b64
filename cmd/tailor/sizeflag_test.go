package main

import "testing"

func TestByteSize(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want int64
		bad  bool
	}{
		{in: "1GiB", want: 1 << 30},
		{in: "512MiB", want: 512 << 20},
		{in: "512 mib", want: 512 << 20},
		{in: "1.5GiB", want: 3 << 29},
		{in: "500MB", want: 500e6},
		{in: "64KiB", want: 64 << 10},
		{in: "4096", want: 4096},
		{in: "10B", want: 10},
		{in: "", bad: true},
		{in: "MiB", bad: true},
		{in: "-1GiB", bad: true},
		{in: "1 GiBs", bad: true},
		{in: "lots", bad: true},
		{in: "9999999TiB", bad: true},
	} {
		var b byteSize
		err := b.Set(tc.in)
		if tc.bad {
			if err == nil {
				t.Errorf("Set(%q) = %d, want an error", tc.in, int64(b))
			}
			continue
		}
		if err != nil || int64(b) != tc.want {
			t.Errorf("Set(%q) = %d, %v; want %d", tc.in, int64(b), err, tc.want)
		}
	}
	for _, tc := range []struct {
		v    int64
		want string
	}{{1 << 30, "1GiB"}, {1536 << 20, "1536MiB"}, {128 << 20, "128MiB"}, {1000, "1000B"}, {0, "0B"}} {
		b := byteSize(tc.v)
		if got := b.String(); got != tc.want {
			t.Errorf("String(%d) = %q, want %q", tc.v, got, tc.want)
		}
	}
}
