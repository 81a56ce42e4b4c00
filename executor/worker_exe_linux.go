//go:build linux

package executor

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"sync"

	"golang.org/x/sys/unix"
)

// execThroughDescriptor is how a root server whose binary lies where the script user cannot
// reach it (under /root, or a test's private build directory) still starts its workers:
// the binary is opened once, and the worker executes /proc/self/fd/N, which a process may
// always follow for itself. Executing still needs the file's execute bit for others. The
// descriptor is close-on-exec, so the worker does not keep it.
var execThroughDescriptor = sync.OnceValues(func() (string, error) {
	self, err := os.Executable()
	if err != nil {
		return "", fmt.Errorf("find own binary: %w", err)
	}
	info, err := os.Stat(self)
	if err != nil {
		return "", err
	}
	if info.Mode().Perm()&0o001 == 0 {
		return "", errors.New(self + " is not executable by others")
	}
	fd, err := unix.Open(self, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return "", fmt.Errorf("open own binary: %w", err)
	}
	// Far above the descriptors that StartProcess rearranges in the child before exec.
	high, err := unix.FcntlInt(uintptr(fd), unix.F_DUPFD_CLOEXEC, 100)
	_ = unix.Close(fd)
	if err != nil {
		return "", fmt.Errorf("open own binary: %w", err)
	}
	return "/proc/self/fd/" + strconv.Itoa(high), nil
})
