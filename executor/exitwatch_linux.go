package executor

import (
	"os"
	"syscall"

	"golang.org/x/sys/unix"
)

// exitWatch waits for a script's exit through the runtime's poller, on the pidfd the kernel
// gives at clone. os.Process.Wait blocks a thread in waitid for the whole run; with a script
// started per request the runtime then hands that thread's P to another thread on nearly
// every run (sysmon retakes, futex wakeups), measured at several percent of the machine's
// CPU for a #!/bin/sh hello.
type exitWatch struct{ pidfd int }

// newExitWatch asks sys for the child's pidfd.
func newExitWatch(sys *syscall.SysProcAttr) *exitWatch {
	w := &exitWatch{pidfd: -1}
	sys.PidFD = &w.pidfd
	return w
}

// await returns once the process has exited, leaving it to proc.Wait to reap, and closes
// the pidfd. Where the pidfd cannot be polled it returns at once, and proc.Wait blocks as
// it always did.
func (w *exitWatch) await() {
	if w.pidfd < 0 {
		return
	}
	if err := unix.SetNonblock(w.pidfd, true); err != nil {
		_ = unix.Close(w.pidfd)
		return
	}
	f := os.NewFile(uintptr(w.pidfd), "pidfd")
	defer func() { _ = f.Close() }()
	rc, err := f.SyscallConn()
	if err != nil {
		return
	}
	_ = rc.Read(func(fd uintptr) bool {
		var info unix.Siginfo
		err := unix.Waitid(unix.P_PIDFD, int(fd), &info, unix.WEXITED|unix.WNOHANG|unix.WNOWAIT, nil)
		return err != nil || info.Signo != 0 // Signo stays 0 while the process runs
	})
}
