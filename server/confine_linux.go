package server

import (
	"errors"
	"os"

	"golang.org/x/sys/unix"
)

// beneathCheck asks the kernel whether a path stays beneath the root: openat2 with
// RESOLVE_BENEATH refuses any resolution, through ".." or a symlink, that leaves it.
type beneathCheck struct {
	root *os.File // nil: not available, never sure
}

func newBeneathCheck(realRoot string) beneathCheck {
	f, err := os.OpenFile(realRoot, unix.O_PATH|unix.O_DIRECTORY, 0)
	if err != nil {
		return beneathCheck{}
	}
	return beneathCheck{root: f}
}

// check reports whether rel (relative to the root) resolves inside it; sure is false when
// the kernel cannot say (no openat2, an absolute symlink on the way, the check closed).
func (b beneathCheck) check(rel string) (inside, sure bool) {
	if b.root == nil {
		return false, false
	}
	rc, err := b.root.SyscallConn()
	if err != nil {
		return false, false
	}
	// Control keeps the root open while it runs, also against a concurrent close.
	cerr := rc.Control(func(rootFD uintptr) {
		fd, err := unix.Openat2(int(rootFD), rel, &unix.OpenHow{
			Flags:   unix.O_PATH | unix.O_CLOEXEC,
			Resolve: unix.RESOLVE_BENEATH | unix.RESOLVE_NO_MAGICLINKS,
		})
		switch {
		case err == nil:
			_ = unix.Close(fd)
			inside, sure = true, true
		case errors.Is(err, unix.ENOENT), errors.Is(err, unix.ENOTDIR):
			inside, sure = false, true
		}
		// Otherwise EXDEV (an absolute symlink, or a way out), ENOSYS, ...: not sure.
	})
	if cerr != nil {
		return false, false
	}
	return inside, sure
}

func (b beneathCheck) close() {
	if b.root != nil {
		_ = b.root.Close()
	}
}
