//go:build darwin

package server

import (
	"bytes"
	"fmt"
	"os"
	"runtime"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// caseInsensitiveNames: APFS and HFS+ ignore case by default.
const caseInsensitiveNames = true

// fileLocation returns the path that f really has now, from fcntl(F_GETPATH).
func fileLocation(f *os.File) (string, error) {
	buf := make([]byte, unix.PathMax)
	rc, err := f.SyscallConn()
	if err != nil {
		return "", fmt.Errorf("locate descriptor: %w", err)
	}
	var ferr error
	if err := rc.Control(func(fd uintptr) {
		_, ferr = unix.FcntlInt(fd, unix.F_GETPATH, int(uintptr(unsafe.Pointer(&buf[0]))))
	}); err != nil {
		return "", fmt.Errorf("locate descriptor: %w", err)
	}
	runtime.KeepAlive(buf)
	if ferr != nil {
		return "", fmt.Errorf("locate descriptor: %w", ferr)
	}
	if i := bytes.IndexByte(buf, 0); i >= 0 {
		buf = buf[:i]
	}
	return string(buf), nil
}

func linkCount(info os.FileInfo) uint64 {
	if st, ok := info.Sys().(*syscall.Stat_t); ok {
		return uint64(st.Nlink)
	}
	return 1
}

func changeTime(info os.FileInfo) int64 {
	if st, ok := info.Sys().(*syscall.Stat_t); ok {
		return st.Ctimespec.Nano()
	}
	return 0
}
