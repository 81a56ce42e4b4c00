// Command cgihttpd serves a directory over HTTP and runs the CGI scripts under its CGI
// directories, with the command line of `python -m http.server --cgi`.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/cgihttpd/cgihttpd/executor"
	"github.com/cgihttpd/cgihttpd/internal/cli"
	"github.com/cgihttpd/cgihttpd/server"
)

// killWait bounds the wait for killed scripts' handlers at shutdown: the executor's SIGTERM
// grace and then some.
const killWait = 5 * time.Second

func main() {
	executor.RunShimIfRequested()   // this binary, re-run to put limits on a script
	executor.RunWorkerIfRequested() // this binary, re-run as an in-process scripts' worker
	// Before anything else opens a descriptor: what we were started with stays ours.
	if err := markInheritedCloexec(); err != nil {
		_, _ = fmt.Fprintf(os.Stderr, "cgihttpd: inherited descriptors: %v\n", err)
		os.Exit(1)
	}
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	// First, so that nothing (not server.New reading --pass-env) sees the LISTEN_* variables.
	passed := passedSockets()
	defer closeFiles(passed)
	if len(args) > 0 && strings.HasPrefix(args[0], "__complete") {
		return cli.Complete(args, stdout, stderr) // the shell completions ask us
	}
	o, err := cli.Parse(args)
	if err != nil {
		_, _ = fmt.Fprintf(stderr, "cgihttpd: %v (see --help)\n", err)
		return 2
	}
	switch {
	case o.Help:
		_, _ = io.WriteString(stdout, cli.Usage())
		return 0
	case o.Version:
		_, _ = fmt.Fprintln(stdout, currentBuild())
		return 0
	}
	logger := hclog.New(&hclog.LoggerOptions{
		Name:       "cgihttpd",
		Level:      hclog.LevelFromString(o.LogLevel),
		Output:     stderr,
		JSONFormat: o.LogJSON,
	})
	// Libraries that use the standard logger (yaegi reports some compile failures that
	// way) write through ours, never bare to stderr.
	log.SetFlags(0)
	log.SetOutput(logger.Named("lib").StandardWriter(&hclog.StandardLoggerOptions{InferLevels: true}))
	o.Server.Version = versionString()
	srv, err := server.New(o.Server, logger)
	if err != nil {
		_, _ = fmt.Fprintf(stderr, "cgihttpd: %v\n", err)
		return 2
	}
	defer func() { _ = srv.Close() }()
	lns, err := listeners(passed, o.Bind, o.Port, logger)
	if err != nil {
		_, _ = fmt.Fprintf(stderr, "cgihttpd: %v\n", err)
		return 1
	}
	defer closeListeners(lns) // on the error paths; serve closes them too
	handler, scheme, served := http.Handler(srv), "http", make([]net.Listener, len(lns))
	for i, ln := range lns {
		served[i] = server.TuneListener(ln)
	}
	if o.TLS.Protocol == "HTTP/1.0" {
		handler = server.HTTP10(srv)
	}
	if o.TLS.Options(o.Bind).Enabled() {
		wrap, stopTLS, err := startTLS(o.TLS, o.Bind, httpsPort(lns, o.Port), logger, stdout)
		if err != nil {
			_, _ = fmt.Fprintf(stderr, "cgihttpd: %v\n", err)
			if errors.As(err, new(tlsConfigError)) {
				return 2
			}
			return 1
		}
		defer stopTLS()
		scheme = "https"
		for i := range served {
			served[i] = wrap(served[i])
		}
	}
	for _, ln := range lns {
		srv.WarnIfCleartextAuth(ln.Addr(), scheme == "https")
	}
	if o.StatusAddr != "" {
		stop, err := serveStatus(o.StatusAddr, srv, statusTimeoutsOf(o), logger)
		if err != nil {
			_, _ = fmt.Fprintf(stderr, "cgihttpd: status listener: %v\n", err)
			return 1
		}
		defer stop()
	}
	return serve(served, scheme, handler, o, logger, stdout)
}

// serve runs one HTTP server on every listener in lns until SIGINT or SIGTERM, then shuts
// down gracefully: running scripts get grace, and then their trees are killed through the
// base context. A listener that fails stops the whole server.
func serve(lns []net.Listener, scheme string, handler http.Handler, o *cli.Options, logger hclog.Logger, stdout io.Writer) int {
	grace := o.ShutdownGrace
	sigCtx, stopSignals := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stopSignals()
	baseCtx, killScripts := context.WithCancel(context.Background())
	defer killScripts()

	var inflight atomic.Int64
	hs := &http.Server{
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			inflight.Add(1)
			defer inflight.Add(-1)
			handler.ServeHTTP(w, r)
		}),
		ReadHeaderTimeout: o.ReadHeaderTimeout,
		IdleTimeout:       o.KeepAlive,
		MaxHeaderBytes:    o.MaxHeaderBytes,
		BaseContext:       func(net.Listener) context.Context { return baseCtx },
		ErrorLog:          logger.Named("http").StandardLogger(&hclog.StandardLoggerOptions{InferLevels: true}),
	}
	served := make(chan error, len(lns))
	for _, ln := range lns {
		if _, ok := ln.Addr().(*net.TCPAddr); ok {
			url := scheme + "://" + displayAddr(ln.Addr()) + "/"
			_, _ = fmt.Fprintf(stdout, "Serving %s on %s (%s) ...\n", strings.ToUpper(scheme), ln.Addr(), url)
			logger.Info("listening", "url", url)
		} else { // a Unix socket a service manager passed
			_, _ = fmt.Fprintf(stdout, "Serving %s on %s socket %s ...\n", strings.ToUpper(scheme), ln.Addr().Network(), ln.Addr())
			logger.Info("listening", "scheme", scheme, "network", ln.Addr().Network(), "addr", ln.Addr().String())
		}
		go func() { served <- hs.Serve(ln) }()
	}
	select {
	case err := <-served:
		logger.Error("server stopped", "error", err)
		_ = hs.Close() // the other listeners, so that no Serve outlives us
		for range len(lns) - 1 {
			if err := <-served; !errors.Is(err, http.ErrServerClosed) {
				logger.Warn("server stopped", "error", err)
			}
		}
		return 1
	case <-sigCtx.Done():
	}
	stopSignals()
	// A second signal skips the rest of the grace: scripts are killed and we exit at once.
	ctx, cancel := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer cancel()
	ctx, cancelGrace := context.WithTimeout(ctx, grace)
	defer cancelGrace()
	logger.Info("shutting down", "grace", grace)
	if err := hs.Shutdown(ctx); err != nil {
		logger.Warn("grace period over or second signal; killing running scripts", "error", err, "running", inflight.Load())
		killScripts()
		// Scripts lead their own process groups and would outlive us: wait for their
		// handlers, which return once the groups are gone (SIGTERM, then SIGKILL).
		deadline := time.Now().Add(killWait)
		for inflight.Load() > 0 && time.Now().Before(deadline) {
			time.Sleep(10 * time.Millisecond)
		}
		_ = hs.Close()
	}
	for range lns {
		if err := <-served; !errors.Is(err, http.ErrServerClosed) {
			logger.Warn("server stopped", "error", err)
		}
	}
	return 0
}

func displayAddr(a net.Addr) string {
	tcp, ok := a.(*net.TCPAddr)
	if !ok {
		return a.String()
	}
	host := tcp.IP.String()
	if tcp.IP.IsUnspecified() {
		host = "127.0.0.1"
		if tcp.IP.To4() == nil {
			host = "::1"
		}
	}
	return net.JoinHostPort(host, strconv.Itoa(tcp.Port))
}
