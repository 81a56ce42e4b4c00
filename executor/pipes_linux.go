package executor

import "syscall"

// cloexecPipe makes a pipe whose ends close on exec, atomically.
func cloexecPipe() ([2]int, error) {
	var fds [2]int
	err := syscall.Pipe2(fds[:], syscall.O_CLOEXEC)
	return fds, err
}
