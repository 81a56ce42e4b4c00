//go:build unix

package executor

import (
	"fmt"
	"os"
	"syscall"
)

// childPipe makes a pipe whose child end stays blocking and out of the runtime's poller:
// os.Pipe would register both ends, and then unregister the child's when it is handed to
// the child and closed, a few system calls per stream per run for nothing. The parent end
// is non-blocking and polled, as os.Pipe's are. childReads says which end is the child's.
func childPipe(childReads bool) (parent, child *os.File, err error) {
	fds, err := cloexecPipe()
	if err != nil {
		return nil, nil, fmt.Errorf("pipe: %w", err)
	}
	parentFD, childFD := fds[0], fds[1]
	if childReads {
		parentFD, childFD = fds[1], fds[0]
	}
	if err := syscall.SetNonblock(parentFD, true); err != nil {
		_ = syscall.Close(fds[0])
		_ = syscall.Close(fds[1])
		return nil, nil, fmt.Errorf("pipe: %w", err)
	}
	return os.NewFile(uintptr(parentFD), "|0"), os.NewFile(uintptr(childFD), "|1"), nil
}
