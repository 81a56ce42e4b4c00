//go:build linux

package main

import (
	"fmt"
	"os"
	"strconv"

	"golang.org/x/sys/unix"
)

// markInheritedCloexec marks every descriptor from 3 up close-on-exec, so that nothing the
// server was started with (a log, a socket, a root-only file) reaches a script. Descriptors
// stay open for the server itself: sockets handed over by a service manager keep working.
// It must run before the server opens anything it means a child to inherit (it opens nothing
// of the kind: children get only stdio).
func markInheritedCloexec() error {
	if err := unix.CloseRange(3, ^uint(0), unix.CLOSE_RANGE_CLOEXEC); err == nil {
		return nil
	}
	// Before Linux 5.11 (or under a seccomp filter that refuses close_range): one by one.
	entries, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		return markUpToLimit()
	}
	for _, e := range entries {
		fd, err := strconv.Atoi(e.Name())
		if err != nil || fd < 3 {
			continue
		}
		// The directory's own descriptor is listed too; it is close-on-exec already and
		// closed by now, which setCloexec reports as EBADF and skips.
		if err := setCloexec(fd); err != nil {
			return fmt.Errorf("descriptor %d: %w", fd, err)
		}
	}
	return nil
}
