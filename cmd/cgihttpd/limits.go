package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/cgihttpd/cgihttpd/executor"
	"github.com/cgihttpd/cgihttpd/server"
)

// check rejects limits that make no sense.
func (l *limitOptions) check() error {
	switch {
	case l.maxScripts < 0:
		return fmt.Errorf("invalid --max-scripts %d: must not be negative", l.maxScripts)
	case l.queueTimeout <= 0:
		return fmt.Errorf("invalid --queue-timeout %s: must be positive", l.queueTimeout)
	case l.maxBody <= 0:
		return fmt.Errorf("invalid --max-body %d: must be positive", l.maxBody)
	case l.bodyTimeout <= 0:
		return fmt.Errorf("invalid --body-timeout %s: must be positive", l.bodyTimeout)
	case l.bodyMinRate < 0:
		return fmt.Errorf("invalid --body-min-rate %d: must not be negative", l.bodyMinRate)
	case l.spoolBudget < 0 || l.spoolBudget > 0 && l.spoolBudget < l.maxBody:
		return fmt.Errorf("invalid --spool-budget %d: at least --max-body (%d), or 0 for the default", l.spoolBudget, l.maxBody)
	case l.headerTimeout <= 0:
		return fmt.Errorf("invalid --header-timeout %s: must be positive", l.headerTimeout)
	case l.idleTimeout < 0:
		return fmt.Errorf("invalid --idle-timeout %s: must not be negative", l.idleTimeout)
	case l.killGrace <= 0:
		return fmt.Errorf("invalid --kill-grace %s: must be positive", l.killGrace)
	case l.readHeaderTimeout <= 0 || l.keepAlive <= 0:
		return fmt.Errorf("invalid --read-header-timeout or --keepalive-timeout: must be positive")
	case l.maxHeaderBytes < 1024:
		return fmt.Errorf("invalid --max-header-bytes %d: at least 1024", l.maxHeaderBytes)
	case l.maxStderr <= 0:
		return fmt.Errorf("invalid --max-stderr %d: must be positive", l.maxStderr)
	}
	if _, err := parseUIDRange(l.uidRange); err != nil {
		return fmt.Errorf("invalid --uid-range %q: %w", l.uidRange, err)
	}
	for _, p := range l.trustedProxies {
		if _, err := parsePrefix(p); err != nil {
			return fmt.Errorf("invalid --trusted-proxy %q: want an address or CIDR", p)
		}
	}
	return nil
}

// parseUIDRange reads FIRST-LAST; "" is no range.
func parseUIDRange(s string) (executor.UIDRange, error) {
	if s == "" {
		return executor.UIDRange{}, nil
	}
	first, last, ok := strings.Cut(s, "-")
	f, err1 := strconv.ParseUint(first, 10, 32)
	l, err2 := strconv.ParseUint(last, 10, 32)
	if !ok || err1 != nil || err2 != nil || f == 0 || l < f {
		return executor.UIDRange{}, errors.New("want FIRST-LAST, two user ids with 0 < FIRST <= LAST")
	}
	return executor.UIDRange{First: uint32(f), Last: uint32(l)}, nil
}

// uids is --uid-range, checked by check.
func (l *limitOptions) uids() executor.UIDRange {
	r, _ := parseUIDRange(l.uidRange)
	return r
}

// parsePrefix accepts "10.0.0.0/8" or a single address.
func parsePrefix(s string) (netip.Prefix, error) {
	if p, err := netip.ParsePrefix(s); err == nil {
		return p.Masked(), nil
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Prefix{}, fmt.Errorf("parse %q: %w", s, err)
	}
	return netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen()), nil
}

// bodyMinRateConfig is --body-min-rate as server.Config takes it: there 0 means the default.
func (l *limitOptions) bodyMinRateConfig() int64 {
	if l.bodyMinRate == 0 {
		return -1
	}
	return l.bodyMinRate
}

func (l *limitOptions) prefixes() []netip.Prefix {
	var out []netip.Prefix
	for _, s := range l.trustedProxies {
		if p, err := parsePrefix(s); err == nil {
			out = append(out, p)
		}
	}
	return out
}

// statusTimeouts bound what a client of the status listener may hold: the time to send its
// headers, to send the whole request (it has no body), and to keep an idle connection.
type statusTimeouts struct {
	header, read, idle time.Duration
}

// statusTimeouts are the main listener's --read-header-timeout and --keepalive-timeout: the
// status listener answers small GETs, so a request never needs longer than its headers.
func (l *limitOptions) statusTimeouts() statusTimeouts {
	return statusTimeouts{header: l.readHeaderTimeout, read: l.readHeaderTimeout, idle: l.keepAlive}
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
