//go:build unix && !linux

package executor

import "syscall"

// cloexecPipe makes a pipe whose ends close on exec. Without pipe2, the fork lock keeps a
// concurrent fork from inheriting the ends before they are marked.
func cloexecPipe() ([2]int, error) {
	var fds [2]int
	syscall.ForkLock.RLock()
	defer syscall.ForkLock.RUnlock()
	if err := syscall.Pipe(fds[:]); err != nil {
		return fds, err
	}
	syscall.CloseOnExec(fds[0])
	syscall.CloseOnExec(fds[1])
	return fds, nil
}
