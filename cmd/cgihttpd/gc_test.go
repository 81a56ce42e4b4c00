package main

import (
	"runtime/debug"
	"testing"
)

// TestTuneGC: without GOGC the collector's target becomes serverGCPercent; with GOGC set,
// the operator's value stands.
func TestTuneGC(t *testing.T) {
	before := debug.SetGCPercent(100)
	defer debug.SetGCPercent(before)

	if !tuneGC(func(string) string { return "" }) {
		t.Error("GOGC unset: not tuned")
	}
	if got := debug.SetGCPercent(100); got != serverGCPercent {
		t.Errorf("GC percent %d, want %d", got, serverGCPercent)
	}
	if tuneGC(func(name string) string { return map[string]string{"GOGC": "50"}[name] }) {
		t.Error("GOGC=50: tuned anyway")
	}
	if got := debug.SetGCPercent(100); got != 100 {
		t.Errorf("GC percent %d with GOGC set, want it left alone (100)", got)
	}
}
