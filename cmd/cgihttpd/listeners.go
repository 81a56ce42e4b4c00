package main

import (
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"

	"github.com/coreos/go-systemd/v22/activation"
	"github.com/hashicorp/go-hclog"
)

// passedSockets returns the descriptors a service manager passed by the sd_listen_fds(3)
// protocol (LISTEN_PID is this process, LISTEN_FDS counts descriptors from 3 up), or none.
// Either way it removes LISTEN_PID, LISTEN_FDS and LISTEN_FDNAMES from the environment, and
// the passed descriptors are close-on-exec, so neither reaches a script. It must run before
// server.New, which reads --pass-env's variables, and before anything starts a process.
func passedSockets() []*os.File { return activation.Files(true) }

// listeners returns the sockets cgihttpd serves on: every passed socket (from passedSockets),
// and then bind and port are not used; with none passed, a TCP listener on bind:port. A
// passed descriptor that is not a listening stream socket (a socket unit with Accept=yes, or
// a datagram socket) is an error: cgihttpd accepts its own connections. The passed files
// stay the caller's to close; the listeners use duplicates.
func listeners(files []*os.File, bind string, port int, logger hclog.Logger) ([]net.Listener, error) {
	if logger == nil {
		logger = hclog.NewNullLogger()
	}
	if len(files) == 0 {
		ln, err := net.Listen("tcp", net.JoinHostPort(bind, strconv.Itoa(port)))
		if err != nil {
			return nil, fmt.Errorf("listen: %w", err)
		}
		return []net.Listener{ln}, nil
	}
	lns := make([]net.Listener, 0, len(files))
	var errs []error
	for i, f := range files {
		ln, err := fileListener(f)
		if err != nil {
			errs = append(errs, fmt.Errorf("passed descriptor %d (%s): %w", 3+i, f.Name(), err))
		} else {
			lns = append(lns, ln)
			logger.Debug("socket activation", "fd", 3+i, "name", f.Name(), "addr", ln.Addr().String())
		}
	}
	if len(errs) > 0 {
		closeListeners(lns)
		return nil, errors.Join(errs...)
	}
	logger.Info("using the sockets the service manager passed; -b and the port are not used", "sockets", len(lns))
	return lns, nil
}

// httpsPort is the port HTTPS is served on, for the certificate source (ACME's redirects): the
// first TCP listener's, else the port given.
func httpsPort(lns []net.Listener, port int) int {
	for _, ln := range lns {
		if a, ok := ln.Addr().(*net.TCPAddr); ok {
			return a.Port
		}
	}
	return port
}

// fileListener returns a listener on a duplicate of f (f itself stays the caller's) after
// checking that f is a listening socket: net.FileListener alone would take a connected one
// and fail only at the first Accept.
func fileListener(f *os.File) (net.Listener, error) {
	if err := checkListening(f); err != nil {
		return nil, err
	}
	ln, err := net.FileListener(f)
	if err != nil {
		return nil, fmt.Errorf("not a stream socket cgihttpd can serve on: %w", err)
	}
	return ln, nil
}

// closeFiles closes every file in files.
func closeFiles(files []*os.File) {
	for _, f := range files {
		_ = f.Close()
	}
}

// closeListeners closes every listener in lns; closing one twice is harmless.
func closeListeners(lns []net.Listener) {
	for _, ln := range lns {
		_ = ln.Close()
	}
}
