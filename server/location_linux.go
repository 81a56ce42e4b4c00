//go:build linux

package server

import (
	"fmt"
	"os"
	"strconv"
	"syscall"
)

// caseInsensitiveNames: Linux file systems tell names apart by their bytes.
const caseInsensitiveNames = false

// fileLocation returns the path that f really has now, as the kernel keeps it for the
// descriptor: every symlink that led to it resolved.
func fileLocation(f *os.File) (string, error) {
	rc, err := f.SyscallConn()
	if err != nil {
		return "", fmt.Errorf("locate descriptor: %w", err)
	}
	var loc string
	var lerr error
	// Control keeps the descriptor open (and its number ours) while it is read.
	if err := rc.Control(func(fd uintptr) {
		loc, lerr = os.Readlink("/proc/self/fd/" + strconv.Itoa(int(fd)))
	}); err != nil {
		return "", fmt.Errorf("locate descriptor: %w", err)
	}
	if lerr != nil {
		return "", fmt.Errorf("locate descriptor: %w", lerr)
	}
	return loc, nil
}

// linkCount returns how many hard links the file of info has.
func linkCount(info os.FileInfo) uint64 {
	if st, ok := info.Sys().(*syscall.Stat_t); ok {
		return uint64(st.Nlink) //nolint:unconvert // uint32 on some architectures
	}
	return 1
}

// changeTime returns the inode change time of info in nanoseconds; 0 where unknown.
func changeTime(info os.FileInfo) int64 {
	if st, ok := info.Sys().(*syscall.Stat_t); ok {
		return st.Ctim.Nano()
	}
	return 0
}
