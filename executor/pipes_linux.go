package executor

import (
	"os"
	"syscall"

	"golang.org/x/sys/unix"
)

// cloexecPipe makes a pipe whose ends close on exec, atomically.
func cloexecPipe() ([2]int, error) {
	var fds [2]int
	err := syscall.Pipe2(fds[:], syscall.O_CLOEXEC)
	return fds, err
}

// growPipe asks for a pipe buffer of size bytes. It is only an optimization: a refusal
// (over /proc/sys/fs/pipe-max-size, or the user's pipe quota) leaves the pipe as it was.
func growPipe(f *os.File, size int) {
	rc, err := f.SyscallConn()
	if err != nil {
		return
	}
	_ = rc.Control(func(fd uintptr) { _, _ = unix.FcntlInt(fd, unix.F_SETPIPE_SZ, size) })
}
