package main

import (
	"os"
	"runtime"
)

// procsPerCPU is how many Ps (GOMAXPROCS) the server runs with for each one the runtime
// would give it. Starting a script holds the starting goroutine's P from the clone until the
// child has exec'd: the runtime clones with a raw system call, as the child runs on the
// parent's memory until then, so the P is not handed to another thread meanwhile
// (golang/go#11155). With one P per CPU, a few scripts starting at once stall every other
// request and the reading of every script's output. Twice as many Ps, in 12 interleaved
// rounds of a #!/bin/sh hello at 16 connections on 2 CPUs: 1137 vs 1036 req/s (4 Ps ahead
// in 10 rounds of 12); static files and in-process scripts did not change beyond the noise.
const procsPerCPU = 2

// defaultProcs is the runtime's own choice, taken before anything changes it, so that
// raiseProcsForSpawns gives the same answer however often it runs.
var defaultProcs = runtime.GOMAXPROCS(0)

// raiseProcsForSpawns gives the runtime procsFor's Ps and returns how many it has. Setting
// GOMAXPROCS stops the runtime from following later changes of the CPU count, affinity or
// cgroup CPU limit (it checks about once a second); the value taken at start stands.
func raiseProcsForSpawns(execMode string) int {
	_, set := os.LookupEnv("GOMAXPROCS")
	n := procsFor(defaultProcs, runtime.GOOS, execMode, set)
	if n != runtime.GOMAXPROCS(0) {
		runtime.GOMAXPROCS(n)
	}
	return n
}

// procsFor returns the Ps for a server that the runtime gives procs: procsPerCPU times as
// many where scripts are forked, unless GOMAXPROCS is the operator's choice. Windows starts
// a process with an ordinary system call, which hands the P off; "inproc" forks nothing.
func procsFor(procs int, goos, execMode string, envSet bool) int {
	if envSet || goos == "windows" || execMode == "inproc" {
		return procs
	}
	return procsPerCPU * procs
}
