//go:build unix

package main

import (
	"errors"
	"fmt"

	"golang.org/x/sys/unix"
)

// maxScannedFD bounds the scan when the descriptor limit is unlimited or huge.
const maxScannedFD = 1 << 20

// markUpToLimit marks close-on-exec every open descriptor from 3 to the soft RLIMIT_NOFILE.
func markUpToLimit() error {
	var rl unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_NOFILE, &rl); err != nil {
		return fmt.Errorf("getrlimit nofile: %w", err)
	}
	limit := uint64(maxScannedFD)
	if rl.Cur < limit {
		limit = rl.Cur
	}
	for fd := 3; uint64(fd) < limit; fd++ {
		if err := setCloexec(fd); err != nil {
			return fmt.Errorf("descriptor %d: %w", fd, err)
		}
	}
	return nil
}

// setCloexec sets FD_CLOEXEC on fd; a descriptor that is not open is no error.
func setCloexec(fd int) error {
	flags, err := unix.FcntlInt(uintptr(fd), unix.F_GETFD, 0)
	if errors.Is(err, unix.EBADF) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("get flags: %w", err)
	}
	if flags&unix.FD_CLOEXEC != 0 {
		return nil
	}
	if _, err := unix.FcntlInt(uintptr(fd), unix.F_SETFD, flags|unix.FD_CLOEXEC); err != nil {
		return fmt.Errorf("set close-on-exec: %w", err)
	}
	return nil
}
