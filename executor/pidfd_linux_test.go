package executor

import (
	"os/exec"
	"testing"

	"golang.org/x/sys/unix"
)

// TestOpenPidfdIsNonBlocking: the pidfd that awaitExit polls is non-blocking, so the wait
// goes through the runtime's poller, and it reports the child's exit.
func TestOpenPidfdIsNonBlocking(t *testing.T) {
	cmd := exec.Command("/bin/sh", "-c", "exit 0")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	fd, err := openPidfd(cmd.Process.Pid)
	if err != nil {
		_ = cmd.Wait()
		t.Fatalf("openPidfd: %v", err)
	}
	defer func() { _ = unix.Close(fd) }()
	flags, err := unix.FcntlInt(uintptr(fd), unix.F_GETFL, 0)
	if err != nil {
		t.Fatal(err)
	}
	if flags&unix.O_NONBLOCK == 0 {
		t.Errorf("pidfd flags %#x: not O_NONBLOCK", flags)
	}
	awaitExit(cmd.Process.Pid)
	var info unix.Siginfo
	if err := unix.Waitid(unix.P_PIDFD, fd, &info, unix.WEXITED|unix.WNOHANG|unix.WNOWAIT, nil); err != nil || info.Signo == 0 {
		t.Errorf("after awaitExit the child has not exited: signo %d, %v", info.Signo, err)
	}
	if err := cmd.Wait(); err != nil {
		t.Fatal(err)
	}
}
