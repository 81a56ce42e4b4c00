package main

import "runtime/debug"

// serverGCPercent is the garbage collector's target unless GOGC says otherwise. At Go's 100
// a busy cgihttpd collected about every 850 requests of a 4 KiB static file (its live heap
// is a few MiB, so the heap goal stays near Go's 4 MiB floor), and collection was the main
// cost between it and a bare net/http handler. 200 made that workload about 10% faster
// (wrk, 64 connections), for about 3 MiB more RSS under that load and 13 MiB more under the
// script load of bench/compare's workload (1); idle and 1,000 idle connections did not move.
const serverGCPercent = 200

// tuneGC sets serverGCPercent when the operator left GOGC unset, and reports what it did.
func tuneGC(getenv func(string) string) bool {
	if getenv("GOGC") != "" {
		return false
	}
	debug.SetGCPercent(serverGCPercent)
	return true
}
