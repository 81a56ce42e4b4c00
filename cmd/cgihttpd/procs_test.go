package main

import (
	"runtime"
	"testing"
)

func TestProcsFor(t *testing.T) {
	for _, tc := range []struct {
		procs  int
		goos   string
		mode   string
		envSet bool
		want   int
	}{
		{2, "linux", "auto", false, 4},
		{2, "linux", "native", false, 4},
		{1, "darwin", "", false, 2},
		{8, "freebsd", "auto", false, 16},
		{2, "linux", "inproc", false, 2},
		{2, "windows", "auto", false, 2},
		{2, "linux", "auto", true, 2},
	} {
		if got := procsFor(tc.procs, tc.goos, tc.mode, tc.envSet); got != tc.want {
			t.Errorf("procsFor(%d, %s, %q, GOMAXPROCS set %v) = %d, want %d", tc.procs, tc.goos, tc.mode, tc.envSet, got, tc.want)
		}
	}
}

// TestRaiseProcsForSpawnsIsIdempotent: run may be called again (as the tests do); the Ps
// are set from the runtime's own choice each time, never multiplied again.
func TestRaiseProcsForSpawnsIsIdempotent(t *testing.T) {
	before := runtime.GOMAXPROCS(0)
	t.Cleanup(func() { runtime.GOMAXPROCS(before) })
	first := raiseProcsForSpawns("auto")
	if again := raiseProcsForSpawns("auto"); again != first || runtime.GOMAXPROCS(0) != first {
		t.Fatalf("GOMAXPROCS %d after a second call, %d after the first", runtime.GOMAXPROCS(0), first)
	}
	if n := raiseProcsForSpawns("inproc"); n != defaultProcs {
		t.Fatalf("inproc: %d Ps, want the runtime's %d", n, defaultProcs)
	}
}
