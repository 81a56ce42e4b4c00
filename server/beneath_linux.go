//go:build linux

package server

import (
	"errors"
	"fmt"
	"os"
	"strconv"

	"golang.org/x/sys/unix"
)

// beneath opens names beneath the root with openat2(RESOLVE_BENEATH): the kernel walks the
// whole name in one call and refuses any "..", symlink or magic link that leaves the root.
// It does what os.Root does, in one system call where os.Root makes one per path component
// (plus the poller's), and it is only a faster path: where openat2 is missing (before Linux
// 5.6, or filtered by seccomp) every call reports errors.ErrUnsupported and os.Root is used.
type beneath struct {
	fd int // O_PATH descriptor of the root; -1 when openat2 cannot be used
}

func newBeneath(dir string) beneath {
	fd, err := unix.Open(dir, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return beneath{fd: -1}
	}
	probe, err := unix.Openat2(fd, ".", &unix.OpenHow{Flags: unix.O_PATH | unix.O_CLOEXEC, Resolve: unix.RESOLVE_BENEATH})
	if err != nil {
		_ = unix.Close(fd)
		return beneath{fd: -1}
	}
	_ = unix.Close(probe)
	return beneath{fd: fd}
}

func (b beneath) close() {
	if b.fd >= 0 {
		_ = unix.Close(b.fd)
	}
}

func (b beneath) openat2(rel string, flags uint64) (int, error) {
	if b.fd < 0 {
		return -1, errors.ErrUnsupported
	}
	for {
		fd, err := unix.Openat2(b.fd, rel, &unix.OpenHow{
			Flags:   flags | unix.O_CLOEXEC,
			Resolve: unix.RESOLVE_BENEATH | unix.RESOLVE_NO_MAGICLINKS,
		})
		switch {
		case errors.Is(err, unix.EINTR), errors.Is(err, unix.EAGAIN):
			continue // EAGAIN: a rename raced the lookup; the kernel asks for a retry
		case err != nil:
			return -1, &os.PathError{Op: "openat2", Path: rel, Err: err}
		}
		return fd, nil
	}
}

// open opens rel for reading.
func (b beneath) open(rel string, name string) (*os.File, error) {
	fd, err := b.openat2(rel, unix.O_RDONLY)
	if err != nil {
		return nil, err
	}
	return os.NewFile(uintptr(fd), name), nil
}

// locate returns where the directory or file rel really is, without making an *os.File;
// opened is false (and err says why) when rel cannot be opened beneath the root.
func (b beneath) locate(rel string) (loc string, opened bool, err error) {
	fd, err := b.openat2(rel, unix.O_PATH)
	if err != nil {
		return "", false, err
	}
	defer func() { _ = unix.Close(fd) }()
	if loc, err = os.Readlink("/proc/self/fd/" + strconv.Itoa(fd)); err != nil {
		return "", true, fmt.Errorf("locate %s: %w", rel, err)
	}
	return loc, true, nil
}

// noBeneath is a beneath that leaves everything to os.Root.
var noBeneath = beneath{fd: -1}
