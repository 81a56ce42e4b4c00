//go:build windows

package server

import (
	"fmt"
	"os"

	"golang.org/x/sys/windows"
)

// caseInsensitiveNames: NTFS, as Windows uses it, ignores case.
const caseInsensitiveNames = true

// fileLocation returns the normalized path of f's handle (long names, symlinks and
// junctions resolved), from GetFinalPathNameByHandle.
func fileLocation(f *os.File) (string, error) {
	buf := make([]uint16, windows.MAX_LONG_PATH)
	n, err := windows.GetFinalPathNameByHandle(windows.Handle(f.Fd()), &buf[0], uint32(len(buf)), fileNameNormalizedDOS)
	if err != nil {
		return "", fmt.Errorf("locate handle: %w", err)
	}
	if int(n) > len(buf) {
		return "", fmt.Errorf("locate handle: path of %d characters", n)
	}
	return windows.UTF16ToString(buf[:n]), nil
}

// fileNameNormalizedDOS is FILE_NAME_NORMALIZED|VOLUME_NAME_DOS, both 0: a \\?\C:\ path.
const fileNameNormalizedDOS = 0

// linkCount is 1: os.FileInfo on Windows does not carry the link count, so hard links there
// are not checked (README).
func linkCount(os.FileInfo) uint64 { return 1 }

// changeTime is 0: Windows keeps no inode change time in os.FileInfo.
func changeTime(os.FileInfo) int64 { return 0 }
