//go:build unix

package executor

import (
	"fmt"
	"os"
	"sync"
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

// devNull is one handle on the null device for every script run without a body or whose
// stderr is discarded: it is only ever duplicated into children, so one open for the
// process's life does.
var devNull = sync.OnceValues(func() (*os.File, error) {
	f, err := os.OpenFile(os.DevNull, os.O_RDWR, 0)
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", os.DevNull, err)
	}
	return f, nil
})
