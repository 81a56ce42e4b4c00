package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/cgihttpd/cgihttpd/internal/cli"
	"github.com/cgihttpd/cgihttpd/server"
)

// statusTimeouts bound what a client of the status listener may hold: the time to send its
// headers, to send the whole request (it has no body), and to keep an idle connection.
type statusTimeouts struct {
	header, read, idle time.Duration
}

// statusTimeoutsOf are the main listener's --read-header-timeout and --keepalive-timeout:
// the status listener answers small GETs, so a request never needs longer than its headers.
func statusTimeoutsOf(o *cli.Options) statusTimeouts {
	return statusTimeouts{header: o.ReadHeaderTimeout, read: o.ReadHeaderTimeout, idle: o.KeepAlive}
}

// serveStatus serves /healthz with the server's counters on its own listener, away from the
// document root's URL space. stop closes it.
func serveStatus(addr string, srv *server.Server, tm statusTimeouts, logger hclog.Logger) (stop func(), err error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("listen %s: %w", addr, err)
	}
	return startStatus(ln, srv, tm, logger), nil
}

// startStatus serves the status listener on ln until stop is called.
func startStatus(ln net.Listener, srv *server.Server, tm statusTimeouts, logger hclog.Logger) (stop func()) {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(struct {
			Status string `json:"status"`
			server.Stats
		}{"ok", srv.Stats()})
	})
	hs := &http.Server{
		Handler:           mux,
		ReadHeaderTimeout: tm.header,
		ReadTimeout:       tm.read,
		WriteTimeout:      tm.read,
		IdleTimeout:       tm.idle,
		MaxHeaderBytes:    8 << 10,
		ErrorLog:          logger.Named("status").StandardLogger(&hclog.StandardLoggerOptions{InferLevels: true}),
	}
	served := make(chan struct{})
	go func() {
		defer close(served)
		if err := hs.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			logger.Error("status listener stopped", "error", err)
		}
	}()
	logger.Info("status listener", "url", "http://"+ln.Addr().String()+"/healthz")
	return func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		if err := hs.Shutdown(ctx); err != nil {
			_ = hs.Close()
		}
		<-served
	}
}
