package main

import (
	"fmt"
	"strconv"
	"strings"
)

// byteSize is a flag value of a number of bytes written with a binary unit
// (512MiB, 2GiB), a decimal one (500MB) or none (bytes).
type byteSize int64

type sizeUnit struct {
	suffix string
	mult   int64
}

// sizeUnits are the units Set reads, longest suffix first so that "MiB" is
// not read as "B"; String writes the binary ones (the first four).
var sizeUnits = []sizeUnit{
	{"TiB", 1 << 40}, {"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10},
	{"KB", 1e3}, {"MB", 1e6}, {"GB", 1e9}, {"TB", 1e12},
	{"B", 1},
}

func (b *byteSize) String() string {
	v := int64(*b)
	for _, u := range sizeUnits[:4] {
		if v != 0 && v%u.mult == 0 {
			return strconv.FormatInt(v/u.mult, 10) + u.suffix
		}
	}
	return strconv.FormatInt(v, 10) + "B"
}

func (b *byteSize) Set(s string) error {
	t := strings.TrimSpace(s)
	mult := int64(1)
	for _, u := range sizeUnits {
		if len(t) > len(u.suffix) && strings.EqualFold(t[len(t)-len(u.suffix):], u.suffix) {
			t, mult = strings.TrimSpace(t[:len(t)-len(u.suffix)]), u.mult
			break
		}
	}
	n, err := strconv.ParseFloat(t, 64)
	if err != nil || n < 0 || n*float64(mult) > 1<<50 {
		return fmt.Errorf("%q is not a size: want a number with a unit, such as 512MiB or 2GiB", s)
	}
	*b = byteSize(n * float64(mult))
	return nil
}
