package executor

import (
	"testing"

	"github.com/traefik/yaegi/stdlib"
)

// TestFilteredSymbolsLeaveYaegiTableAlone: the filtered table lacks what scripts must not
// reach, shares the packages it does not change, and never edits yaegi's own table.
func TestFilteredSymbolsLeaveYaegiTableAlone(t *testing.T) {
	for _, allow := range []bool{false, true} {
		out := filteredSymbols(allow)
		if _, ok := out["os/os"]["StartProcess"]; ok {
			t.Error("os.StartProcess is reachable")
		}
		if _, ok := out["os/exec/exec"]; ok {
			t.Error("os/exec is reachable")
		}
		_, afterFunc := out["time/time"]["AfterFunc"]
		if afterFunc != allow {
			t.Errorf("allowGoroutines=%v: time.AfterFunc reachable = %v", allow, afterFunc)
		}
		if _, ok := out["strings/strings"]["Builder"]; !ok {
			t.Error("strings.Builder missing")
		}
	}
	if _, ok := stdlib.Symbols["os/os"]["StartProcess"]; !ok {
		t.Error("filtering removed os.StartProcess from yaegi's own table")
	}
	if _, ok := stdlib.Symbols["time/time"]["AfterFunc"]; !ok {
		t.Error("filtering removed time.AfterFunc from yaegi's own table")
	}
}
