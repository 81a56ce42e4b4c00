//go:build linux

package executor_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cgihttpd/cgihttpd/executor"
	"github.com/cgihttpd/cgihttpd/internal/testutil"
)

// TestForkBombStopsAtPidsMax runs a script that forks up to 2000 sleepers under a PIDs limit
// of 40: forking must fail near the limit, long before the deadline, and nothing it started
// may be left once Run returns.
func TestForkBombStopsAtPidsMax(t *testing.T) {
	if !pidsCgroupUsable() {
		t.Skip("needs root and a cgroup pids controller (v2, or v1 on a hybrid host)")
	}
	testutil.CheckLeaks(t)
	const limit = 40
	e, err := executor.NewNative(executor.Config{
		Limits:   executor.Limits{PIDs: limit},
		ShimPath: child, KillGrace: 200 * time.Millisecond, OutputGrace: 200 * time.Millisecond,
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	testutil.CloseAtEnd(t, e)
	dir := testutil.WorldDir(t)
	script := filepath.Join(dir, "bomb.sh")
	// Each forked sleeper prints its number; dash gives up at the first fork that fails.
	bomb := "#!/bin/sh\ni=0\nwhile [ $i -lt 2000 ]; do sleep 60 & i=$((i+1)); echo $i; done\necho all-forked\n"
	if err := os.WriteFile(script, []byte(bomb), 0o755); err != nil {
		t.Fatal(err)
	}
	token := fmt.Sprintf("CGIHTTPD_FORKBOMB=%d-%d", os.Getpid(), time.Now().UnixNano())
	var out, stderr bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	start := time.Now()
	err = e.Run(ctx, &executor.Invocation{
		Path: script, Dir: dir, Stdout: &out, Stderr: &stderr,
		Env: []string{"PATH=/usr/bin:/bin", token},
	})
	took := time.Since(start)
	if strings.Contains(out.String(), "all-forked") {
		t.Fatalf("the fork bomb forked 2000 sleepers under pids.max %d", limit)
	}
	lines := strings.Fields(out.String())
	forked := 0
	if len(lines) > 0 {
		forked, _ = strconv.Atoi(lines[len(lines)-1])
	}
	if forked == 0 || forked >= limit {
		t.Errorf("forked %d sleepers under pids.max %d (err %v, stderr %q)", forked, limit, err, stderr.String())
	}
	if took > 30*time.Second {
		t.Errorf("the fork bomb ran %v: stopped by the deadline, not by pids.max", took)
	}
	if left := processesWith(token); len(left) > 0 {
		t.Errorf("processes of the fork bomb still running after Run: %v", left)
	}
	t.Logf("forked %d of at most %d, run took %v, script said %q", forked, limit, took, strings.TrimSpace(stderr.String()))
}

// pidsCgroupUsable reports whether this machine lets the executor bound a run's processes.
func pidsCgroupUsable() bool {
	if os.Geteuid() != 0 {
		return false
	}
	if b, err := os.ReadFile("/proc/self/cgroup"); err == nil && strings.Contains(string(b), ":pids:") {
		return true // a v1 pids hierarchy
	}
	b, err := os.ReadFile("/sys/fs/cgroup/cgroup.controllers")
	return err == nil && strings.Contains(" "+strings.TrimSpace(string(b))+" ", " pids ")
}

// processesWith lists the live processes whose environment holds kv.
func processesWith(kv string) []int {
	entries, _ := os.ReadDir("/proc")
	var pids []int
	for _, ent := range entries {
		pid, err := strconv.Atoi(ent.Name())
		if err != nil {
			continue
		}
		env, err := os.ReadFile(filepath.Join("/proc", ent.Name(), "environ"))
		if err != nil || !bytes.Contains(append(env, 0), []byte(kv+"\x00")) {
			continue
		}
		if testutil.Alive(pid) {
			pids = append(pids, pid)
		}
	}
	return pids
}
