//go:build linux || darwin

package server

import (
	"fmt"
	"net"

	"golang.org/x/sys/unix"
)

func setNotSentLowat(c *net.TCPConn, bytes int) error {
	raw, err := c.SyscallConn()
	if err != nil {
		return fmt.Errorf("TCP_NOTSENT_LOWAT: %w", err)
	}
	var serr error
	if err := raw.Control(func(fd uintptr) {
		serr = unix.SetsockoptInt(int(fd), unix.IPPROTO_TCP, unix.TCP_NOTSENT_LOWAT, bytes)
	}); err != nil {
		return fmt.Errorf("TCP_NOTSENT_LOWAT: %w", err)
	}
	if serr != nil {
		return fmt.Errorf("TCP_NOTSENT_LOWAT: %w", serr)
	}
	return nil
}
