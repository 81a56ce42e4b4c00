//go:build linux

package executor

import (
	"strings"
	"testing"
)

func TestUIDPoolRefusesOwnedIDs(t *testing.T) {
	passwd := "root:x:0:0::/root:/bin/sh\nweb:x:5005:5005::/:/bin/false\n"
	for _, r := range []UIDRange{{5000, 5010}, {5005, 5005}, {0, 10}, {10, 5}} {
		if _, err := newUIDPool(r, strings.NewReader(passwd), nil); err == nil {
			t.Errorf("range %v accepted", r)
		}
	}
	p, err := newUIDPool(UIDRange{5006, 5007}, strings.NewReader(passwd), nil)
	if err != nil {
		t.Fatal(err)
	}
	a, _ := p.take()
	b, _ := p.take()
	if _, err := p.take(); err == nil || a != 5006 || b != 5007 {
		t.Errorf("took %d, %d, then %v; want 5006, 5007, then none", a, b, err)
	}
}
