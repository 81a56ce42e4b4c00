package testutil

import (
	"os"
	"os/exec"
	"runtime"
	"slices"
	"testing"
	"time"
)

const sleepVar = "CGIHTTPD_TESTUTIL_SLEEP"

func TestMain(m *testing.M) {
	if os.Getenv(sleepVar) != "" {
		time.Sleep(time.Minute)
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// TestChildProcessesAndAlive: the leak checks see a live child, and see it go.
func TestChildProcessesAndAlive(t *testing.T) {
	if runtime.GOOS != "linux" && runtime.GOOS != "windows" {
		t.Skip("processes are listed from /proc on Linux and from a snapshot on Windows only")
	}
	c := exec.Command(os.Args[0])
	c.Env = append(os.Environ(), sleepVar+"=1")
	if err := c.Start(); err != nil {
		t.Fatal(err)
	}
	pid := c.Process.Pid
	if !Alive(pid) {
		t.Errorf("Alive(%d) = false for a running child", pid)
	}
	if kids := ChildProcesses(); !slices.Contains(kids, pid) {
		t.Errorf("ChildProcesses() = %v, lacks the running child %d", kids, pid)
	}
	if err := c.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	_ = c.Wait()
	if !WaitDead(pid) {
		t.Errorf("Alive(%d) still true after it was killed and waited for", pid)
	}
	if kids := ChildProcesses(); slices.Contains(kids, pid) {
		t.Errorf("ChildProcesses() = %v, still lists the dead child %d", kids, pid)
	}
}
