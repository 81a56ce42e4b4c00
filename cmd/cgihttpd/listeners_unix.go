//go:build unix

package main

import (
	"errors"
	"fmt"
	"os"

	"golang.org/x/sys/unix"
)

// errNotListening is a passed descriptor that is no listening socket: a connection (a socket
// unit with Accept=yes), a datagram socket, or not a socket at all.
var errNotListening = errors.New("not a listening socket (cgihttpd needs Accept=no and a stream socket)")

// checkListening returns nil when f is a socket in the listening state (SO_ACCEPTCONN).
func checkListening(f *os.File) error {
	raw, err := f.SyscallConn()
	if err != nil {
		return fmt.Errorf("%w: %w", errNotListening, err)
	}
	var accepting int
	var serr error
	if err := raw.Control(func(fd uintptr) {
		accepting, serr = unix.GetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_ACCEPTCONN)
	}); err != nil {
		return fmt.Errorf("%w: %w", errNotListening, err)
	}
	if serr != nil {
		return fmt.Errorf("%w: SO_ACCEPTCONN: %w", errNotListening, serr)
	}
	if accepting == 0 {
		return errNotListening
	}
	return nil
}
