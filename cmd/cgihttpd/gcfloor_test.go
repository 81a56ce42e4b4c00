package main

import (
	"os"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"testing"
	"time"
)

func TestGCPercentFor(t *testing.T) {
	const mib = 1 << 20
	for _, c := range []struct {
		live, goal, percent uint64
		want                int
	}{
		{2 * mib, 4 * mib, 100, 300},         // the goal goes from 4 MiB to 8
		{2 * mib, 8 * mib, 300, 300},         // already there
		{1 * mib, 4 * mib, 100, 233},         // stacks and globals count: growth 3 MiB at 100
		{10 * mib, 20 * mib, 100, 100},       // 20 MiB at 100 is above the floor
		{10 * mib, 60 * mib, 500, 100},       // back to 100 once the heap has grown
		{0, 4 * mib, 100, 200},               // nothing live: the growth alone is scaled to the floor
		{4 * mib, 4 * mib, 100, 100},         // no growth to scale
		{3 * mib, 6 * mib, 0, 100},           // GC was off
		{3 * mib, 7 * mib, 100, 125},         // just under the floor
		{4 * mib, 8 * mib, 100, 100},         // at it
		{100 * mib, 200 * mib, 100, 100},     // large heaps as at GOGC=100
		{1 * mib, 2*mib + 512<<10, 100, 466}, // rounding down
	} {
		if got := gcPercentFor(c.live, c.goal, c.percent); got != c.want {
			t.Errorf("gcPercentFor(%d, %d, %d) = %d, want %d", c.live, c.goal, c.percent, got, c.want)
		}
	}
}

// TestKeepHeapFloor: after a collection, a small heap's goal is the floor.
func TestKeepHeapFloor(t *testing.T) {
	if _, set := os.LookupEnv("GOGC"); set {
		t.Skip("GOGC is set: the floor leaves it alone")
	}
	defer debug.SetGCPercent(debug.SetGCPercent(100))
	keepHeapFloor()
	sample := []metrics.Sample{{Name: "/gc/heap/goal:bytes"}, {Name: "/gc/heap/live:bytes"}}
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); {
		runtime.GC()
		time.Sleep(10 * time.Millisecond) // the finalizer runs after the collection
		metrics.Read(sample)
		goal, live := sample[0].Value.Uint64(), sample[1].Value.Uint64()
		if 2*live >= heapFloor {
			t.Skipf("the test's live heap (%d bytes) is above half the floor", live)
		}
		if goal >= heapFloor*9/10 {
			return
		}
	}
	metrics.Read(sample)
	t.Errorf("heap goal %d bytes with %d live, want about %d", sample[0].Value.Uint64(), sample[1].Value.Uint64(), heapFloor)
}
