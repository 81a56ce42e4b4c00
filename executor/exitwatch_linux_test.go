package executor_test

import (
	"context"
	"io"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cgihttpd/cgihttpd/executor"
	"github.com/cgihttpd/cgihttpd/internal/testutil"
)

// TestWaitingScriptsHoldNoThreads: scripts that are running hold no OS thread of the server
// while they are waited for (the wait goes through the poller on the pidfd), so 32 of them at
// once do not make 32 threads.
func TestWaitingScriptsHoldNoThreads(t *testing.T) {
	testutil.CheckLeaks(t)
	e := newExecutor(t)
	const scripts = 32
	before := threads(t)
	var wg sync.WaitGroup
	errs := make(chan error, scripts)
	for range scripts {
		wg.Add(1)
		go func() {
			defer wg.Done()
			inv := &executor.Invocation{Path: "/bin/sleep", Args: []string{"2"}, Dir: "/", Stdout: io.Discard}
			errs <- e.Run(context.Background(), inv)
		}()
	}
	time.Sleep(time.Second) // all started, none finished
	during := threads(t)
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatalf("sleep: %v", err)
		}
	}
	if during-before >= scripts/2 {
		t.Errorf("threads went from %d to %d with %d scripts running: the waits hold threads", before, during, scripts)
	}
}

func threads(t *testing.T) int {
	t.Helper()
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "Threads:"); ok {
			n, err := strconv.Atoi(strings.TrimSpace(v))
			if err != nil {
				t.Fatal(err)
			}
			return n
		}
	}
	t.Fatal("no Threads line in /proc/self/status")
	return 0
}
