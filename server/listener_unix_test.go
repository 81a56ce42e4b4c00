//go:build linux || darwin

package server

import (
	"net"
	"testing"

	"golang.org/x/sys/unix"
)

// TestTuneListenerSetsNotSentLowat: every connection the tuned listener accepts carries
// TCP_NOTSENT_LOWAT, and the connection still works.
func TestTuneListenerSetsNotSentLowat(t *testing.T) {
	raw, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ln := TuneListener(raw)
	defer func() { _ = ln.Close() }()
	client, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = client.Close() }()
	conn, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = conn.Close() }()
	sc, err := conn.(*net.TCPConn).SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	var got int
	var gerr error
	if err := sc.Control(func(fd uintptr) {
		got, gerr = unix.GetsockoptInt(int(fd), unix.IPPROTO_TCP, unix.TCP_NOTSENT_LOWAT)
	}); err != nil || gerr != nil {
		t.Fatal(err, gerr)
	}
	if got != notSentLowat {
		t.Errorf("TCP_NOTSENT_LOWAT = %d, want %d", got, notSentLowat)
	}
	if _, err := conn.Write([]byte("ok")); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 2)
	if _, err := client.Read(buf); err != nil || string(buf) != "ok" {
		t.Errorf("read %q, %v", buf, err)
	}
}
