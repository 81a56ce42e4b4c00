package main

import (
	"os"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
)

// heapFloor is the least heap goal the collector is given. Go's own floor is 4 MiB, and
// the tables that any cgihttpd holds (the in-process interpreter's symbols, MIME types)
// keep about 2 MiB live, so at GOGC=100 a busy server collected after every 2 MiB
// allocated: about once per thousand static requests, at some 2 ms of CPU each. With the
// floor, collections come about three times less often while the heap is small; once the
// live heap passes half the floor, the collector runs as at GOGC=100. (A 16 MiB floor was
// no faster in interleaved runs, and held 8 MiB more under load.)
const heapFloor = 8 << 20

// keepHeapFloor sets, after each collection, the GC percentage that puts the next goal at
// heapFloor or twice the live heap, whichever is more. A GOGC in the environment is the
// operator's choice and is left alone.
func keepHeapFloor() {
	if _, set := os.LookupEnv("GOGC"); set {
		return
	}
	runtime.SetFinalizer(&gcCycle{}, (*gcCycle).ended)
}

// gcCycle is an object that nothing references: its finalizer runs after every collection,
// and sets itself again.
type gcCycle struct{ _ *int } // a pointer, so that it is not batched by the tiny allocator

func (c *gcCycle) ended() {
	sample := []metrics.Sample{
		{Name: "/gc/heap/live:bytes"},
		{Name: "/gc/heap/goal:bytes"},
		{Name: "/gc/gogc:percent"},
	}
	metrics.Read(sample)
	debug.SetGCPercent(gcPercentFor(sample[0].Value.Uint64(), sample[1].Value.Uint64(), sample[2].Value.Uint64()))
	runtime.SetFinalizer(c, (*gcCycle).ended)
}

// gcPercentFor returns the GC percentage whose goal is max(heapFloor, the goal at 100),
// given the live heap and the goal that percent gives it now. The growth above the live
// heap is proportional to the percentage; it is not a fraction of the live heap alone, as
// goroutine stacks and globals count too.
func gcPercentFor(live, goal, percent uint64) int {
	if goal <= live || percent == 0 {
		return 100
	}
	growth := goal - live // at percent
	if live+growth*100/percent >= heapFloor {
		return 100
	}
	return int(percent * (heapFloor - live) / growth)
}
