package executor

import (
	"errors"
	"os"

	"golang.org/x/sys/unix"
)

// awaitExit returns once process pid, our child, has exited, leaving it to proc.Wait to reap.
// It waits through the runtime's poller on a pidfd: os.Process.Wait blocks a thread in waitid
// for the whole run, and with a script started per request the runtime then hands that
// thread's P to another thread on nearly every run (sysmon retakes, futex wakeups), a cost
// that shows with a script per request. Where no pidfd can be had it
// returns at once, and proc.Wait blocks as it always did.
//
// The pidfd is opened here rather than asked of clone: os.StartProcess would duplicate one
// that it was given, and a non-blocking one would need two more system calls. Until it is
// reaped, the child's pid cannot name another process.
func awaitExit(pid int) {
	fd, err := openPidfd(pid)
	if err != nil {
		return
	}
	f := os.NewFile(uintptr(fd), "pidfd")
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

// openPidfd opens a non-blocking pidfd for pid. Before Linux 5.10 pidfd_open takes no
// PIDFD_NONBLOCK, and the descriptor is made non-blocking afterwards.
func openPidfd(pid int) (int, error) {
	fd, err := unix.PidfdOpen(pid, unix.PIDFD_NONBLOCK)
	if !errors.Is(err, unix.EINVAL) {
		return fd, err
	}
	if fd, err = unix.PidfdOpen(pid, 0); err != nil {
		return -1, err
	}
	if err := unix.SetNonblock(fd, true); err != nil {
		_ = unix.Close(fd)
		return -1, err
	}
	return fd, nil
}
