package cli

import (
	"errors"
	"fmt"
	"math"
	"net/netip"
	"strconv"
	"strings"

	"github.com/dustin/go-humanize"

	"github.com/cgihttpd/cgihttpd/executor"
)

// sizeValue is a byte count that accepts units: 65536, 64KiB, 64MiB, 1.5GB (humanize's SI
// and IEC suffixes). It prints exact multiples of a KiB, MiB or GiB in those units.
type sizeValue[T int | int64 | uint64] struct{ p *T }

func (v sizeValue[T]) String() string {
	if v.p == nil {
		return "0"
	}
	n := uint64(*v.p)
	for _, u := range []struct {
		name  string
		bytes uint64
	}{{"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10}} {
		if n >= u.bytes && n%u.bytes == 0 {
			return strconv.FormatUint(n/u.bytes, 10) + u.name
		}
	}
	return strconv.FormatUint(n, 10)
}

func (v sizeValue[T]) Set(s string) error {
	n, err := humanize.ParseBytes(s)
	if err != nil {
		return fmt.Errorf("want a size such as 65536, 64KiB or 64MiB: %w", err)
	}
	var limit uint64 = math.MaxInt64
	var t T
	switch any(t).(type) {
	case int:
		limit = math.MaxInt
	case uint64:
		limit = math.MaxUint64
	}
	if n > limit {
		return errors.New("too large")
	}
	*v.p = T(n)
	return nil
}

func (sizeValue[T]) Type() string { return "size" }

// minRateValue is --body-min-rate: on the command line 0 means no minimum, which the
// server's Config writes as a negative rate (its zero means the default).
type minRateValue struct{ p *int64 }

func (v minRateValue) String() string {
	if v.p == nil || *v.p < 0 {
		return "0"
	}
	return sizeValue[int64](v).String()
}

func (v minRateValue) Set(s string) error {
	if err := sizeValue[int64](v).Set(s); err != nil {
		return err
	}
	if *v.p == 0 {
		*v.p = -1
	}
	return nil
}

func (minRateValue) Type() string { return "size" }

// prefixListValue is a repeatable address or CIDR (--trusted-proxy).
type prefixListValue struct{ p *[]netip.Prefix }

func (v prefixListValue) String() string {
	if v.p == nil || len(*v.p) == 0 {
		return ""
	}
	s := make([]string, len(*v.p))
	for i, p := range *v.p {
		s[i] = p.String()
	}
	return "[" + strings.Join(s, ",") + "]"
}

func (v prefixListValue) Set(s string) error {
	if p, err := netip.ParsePrefix(s); err == nil {
		*v.p = append(*v.p, p.Masked())
		return nil
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return errors.New("want an address or CIDR")
	}
	*v.p = append(*v.p, netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen()))
	return nil
}

func (prefixListValue) Type() string { return "cidr" }

// interpreterValue is a repeatable .EXT=COMMAND (--interpreter).
type interpreterValue struct{ p *map[string]string }

func (v interpreterValue) String() string {
	if v.p == nil || len(*v.p) == 0 {
		return ""
	}
	var s []string
	for ext, command := range *v.p {
		s = append(s, ext+"="+command)
	}
	return "[" + strings.Join(s, ",") + "]"
}

func (v interpreterValue) Set(s string) error {
	ext, command, ok := strings.Cut(s, "=")
	if !ok || len(ext) < 2 || ext[0] != '.' || strings.TrimSpace(command) == "" {
		return errors.New("want .EXT=COMMAND")
	}
	if *v.p == nil {
		*v.p = make(map[string]string)
	}
	(*v.p)[ext] = command
	return nil
}

func (interpreterValue) Type() string { return "ext=command" }

// uidRangeValue is FIRST-LAST (--uid-range).
type uidRangeValue struct{ p *executor.UIDRange }

func (v uidRangeValue) String() string {
	if v.p == nil || !v.p.IsSet() {
		return ""
	}
	return fmt.Sprintf("%d-%d", v.p.First, v.p.Last)
}

func (v uidRangeValue) Set(s string) error {
	first, last, ok := strings.Cut(s, "-")
	f, err1 := strconv.ParseUint(first, 10, 32)
	l, err2 := strconv.ParseUint(last, 10, 32)
	if !ok || err1 != nil || err2 != nil || f == 0 || l < f {
		return errors.New("want FIRST-LAST, two user ids with 0 < FIRST <= LAST")
	}
	*v.p = executor.UIDRange{First: uint32(f), Last: uint32(l)}
	return nil
}

func (uidRangeValue) Type() string { return "first-last" }
