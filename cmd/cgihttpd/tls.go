package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"sync"
	"syscall"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/cgihttpd/cgihttpd/internal/cli"
	"github.com/cgihttpd/cgihttpd/internal/tlsconf"
)

// acmeObtainTimeout bounds getting the first ACME certificates at startup.
const acmeObtainTimeout = 5 * time.Minute

// tlsConfigError is a TLS failure that is the command line's fault (exit 2), not the
// network's (exit 1).
type tlsConfigError struct{ err error }

func (e tlsConfigError) Error() string { return e.err.Error() }
func (e tlsConfigError) Unwrap() error { return e.err }

// startTLS makes the certificate source, and under ACME serves the challenge listener and
// obtains the certificates. It returns the function that makes a listener TLS (every listener
// the server serves on goes through it) and stop, which ends the file watcher, the SIGHUP
// handler, the challenge listener and renewals.
func startTLS(t cli.TLS, bind string, httpsPort int, logger hclog.Logger, stdout io.Writer) (wrap func(net.Listener) net.Listener, stop func(), err error) {
	src, err := tlsconf.New(t.Options(bind), httpsPort, logger)
	if err != nil {
		return nil, nil, tlsConfigError{err}
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	var challenge *http.Server
	stop = func() {
		if challenge != nil {
			_ = challenge.Close()
		}
		cancel()
		wg.Wait()
		src.Close()
	}
	if fp := src.Fingerprint; fp != "" {
		_, _ = fmt.Fprintf(stdout, "Self-signed TLS certificate, SHA-256 fingerprint %s\n", fp)
		logger.Info("self-signed TLS certificate", "sha256", fp)
	}
	if h := src.ACMEHandler(); h != nil {
		addr := t.Options(bind).ACME.HTTPAddr
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			stop()
			return nil, nil, fmt.Errorf("ACME HTTP-01 listener: %w", err)
		}
		challenge = &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second, IdleTimeout: time.Minute, MaxHeaderBytes: 8 << 10,
			ErrorLog: logger.Named("acme-http").StandardLogger(&hclog.StandardLoggerOptions{InferLevels: true})}
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := challenge.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
				logger.Error("ACME HTTP-01 listener stopped", "error", err)
			}
		}()
		logger.Info("answering ACME HTTP-01 challenges and redirecting to HTTPS", "addr", ln.Addr().String())
		octx, ocancel := context.WithTimeout(ctx, acmeObtainTimeout)
		err = src.Obtain(octx)
		ocancel()
		if err != nil {
			stop()
			return nil, nil, err
		}
	}
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	wg.Add(2)
	go func() { defer wg.Done(); src.Run(ctx) }()
	go func() {
		defer wg.Done()
		defer signal.Stop(hup)
		for {
			select {
			case <-ctx.Done():
				return
			case <-hup:
				if err := src.Reload(); err != nil {
					logger.Warn("SIGHUP: TLS certificate not reloaded", "error", err)
				}
			}
		}
	}()
	config := src.Config
	return func(ln net.Listener) net.Listener { return tlsconf.Listener(ln, config) }, stop, nil
}
