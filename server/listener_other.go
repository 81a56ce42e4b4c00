//go:build !linux && !darwin

package server

import "net"

// setNotSentLowat does nothing where the system has no TCP_NOTSENT_LOWAT.
func setNotSentLowat(*net.TCPConn, int) error { return nil }
