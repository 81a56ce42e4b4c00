package server

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/cgihttpd/cgihttpd/executor"
)

var (
	errHeaderTimeout = errors.New("script sent no complete header block in time")
	errIdleTimeout   = errors.New("script output stalled")
)

const (
	defaultQueueTimeout  = 5 * time.Second
	defaultHeaderTimeout = 30 * time.Second
	// lingerBytes and lingerTime bound how much of a refused body is read and dropped so
	// that the refusal reaches the client: Go's server resets a connection that still has
	// more than 256 KiB unread, and the client may then never see the response.
	lingerBytes = 8 << 20
	lingerTime  = 5 * time.Second
)

// Stats are the server's counters since it started.
type Stats struct {
	Requests       int64 `json:"requests"`
	ScriptsRunning int64 `json:"scripts_running"`
	Queued         int64 `json:"queued"`
	Timeouts       int64 `json:"timeouts"`
	Overloaded     int64 `json:"overloaded_503"`
	// WorkerRestarts counts the in-process scripts' interpreter workers started to replace
	// one that died (see executor.WorkerCounter).
	WorkerRestarts int64 `json:"worker_restarts"`
}

// counters are the live values behind Stats.
type counters struct {
	requests, running, queued, timeouts, overloaded atomic.Int64
}

// Stats returns the server's counters.
func (s *Server) Stats() Stats {
	return Stats{
		Requests:       s.count.requests.Load(),
		ScriptsRunning: s.count.running.Load(),
		Queued:         s.count.queued.Load(),
		Timeouts:       s.count.timeouts.Load(),
		Overloaded:     s.count.overloaded.Load(),
		WorkerRestarts: workerRestarts(s.inproc),
	}
}

// workerRestarts is e's count of worker restarts, or 0 when it has no workers.
func workerRestarts(e executor.Executor) int64 {
	if wc, ok := e.(executor.WorkerCounter); ok {
		return wc.WorkerRestarts()
	}
	return 0
}

// acquireScriptSlot waits up to QueueTimeout for one of MaxScripts places to run a script.
// It reports false when none came free; release gives the place back.
func (s *Server) acquireScriptSlot(ctx context.Context) (release func(), ok bool) {
	select {
	case s.slots <- struct{}{}:
	default:
		s.count.queued.Add(1)
		timer := time.NewTimer(s.cfg.QueueTimeout)
		select {
		case s.slots <- struct{}{}:
		case <-timer.C:
			s.count.queued.Add(-1)
			return nil, false
		case <-ctx.Done():
			timer.Stop()
			s.count.queued.Add(-1)
			return nil, false
		}
		timer.Stop()
		s.count.queued.Add(-1)
	}
	s.count.running.Add(1)
	return func() {
		s.count.running.Add(-1)
		<-s.slots
	}, true
}

// writeOverloaded answers 503 with a Retry-After of the queue timeout, at least a second.
func (s *Server) writeOverloaded(w http.ResponseWriter) {
	s.count.overloaded.Add(1)
	w.Header().Set("Retry-After", strconv.Itoa(max(1, int(s.cfg.QueueTimeout.Round(time.Second)/time.Second))))
	writeError(w, http.StatusServiceUnavailable, "Too many scripts are running; try again shortly")
}

// refuseBody answers a request whose body will not be read, then reads and drops some of the
// body (bounded in bytes and time) so that the answer reaches the client, and closes.
func refuseBody(w http.ResponseWriter, r *http.Request, code int, msg string) {
	w.Header().Set("Connection", "close")
	writeError(w, code, msg)
	if r.Header.Get("Expect") != "" {
		return // the client waits for 100 Continue, which reading would send: nothing to drain
	}
	rc := http.NewResponseController(w)
	_ = rc.Flush()
	_ = rc.SetReadDeadline(time.Now().Add(lingerTime))
	_, _ = io.CopyN(io.Discard, r.Body, lingerBytes)
}

// functionValue reports a header value that would put a shell function definition into a
// script's environment (Shellshock, CVE-2014-6271).
func functionValue(r *http.Request) (string, bool) {
	for name, values := range r.Header {
		for _, v := range values {
			if strings.HasPrefix(strings.TrimLeft(v, " \t"), "() {") {
				return name, true
			}
		}
	}
	return "", false
}

// clientAddr is the peer's address, or the one a trusted proxy forwarded: the rightmost
// X-Forwarded-For entry that is not itself a trusted proxy. https reports a trusted
// X-Forwarded-Proto of https.
func (s *Server) clientAddr(r *http.Request) (addr string, port string, https bool) {
	addr, port = splitAddr(r.RemoteAddr)
	if len(s.cfg.TrustedProxies) == 0 || !s.trusted(addr) {
		return addr, port, false
	}
	forwarded := strings.Split(strings.Join(r.Header.Values("X-Forwarded-For"), ","), ",")
	for i := len(forwarded) - 1; i >= 0; i-- {
		a, err := netip.ParseAddr(strings.TrimSpace(forwarded[i]))
		if err != nil {
			break // a garbled entry: trust nothing to its left
		}
		addr, port = a.Unmap().String(), ""
		if !s.trusted(addr) {
			break
		}
	}
	return addr, port, strings.EqualFold(r.Header.Get("X-Forwarded-Proto"), "https")
}

func (s *Server) trusted(addr string) bool {
	a, err := netip.ParseAddr(addr)
	if err != nil {
		return false
	}
	a = a.Unmap()
	for _, p := range s.cfg.TrustedProxies {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// watchdog ends a script run whose header block is late or whose output stalls.
type watchdog struct {
	cancel      context.CancelCauseFunc
	header      *time.Timer
	idle        *time.Timer
	idleTimeout time.Duration
	headerDone  atomic.Bool
}

func newWatchdog(cancel context.CancelCauseFunc, headerTimeout, idleTimeout time.Duration) *watchdog {
	wd := &watchdog{cancel: cancel, idleTimeout: idleTimeout}
	wd.header = time.AfterFunc(headerTimeout, func() {
		if !wd.headerDone.Load() {
			cancel(errHeaderTimeout)
		}
	})
	return wd
}

// headerSent stops the header clock and starts the idle one.
func (wd *watchdog) headerSent() {
	wd.headerDone.Store(true)
	wd.header.Stop()
	if wd.idleTimeout > 0 {
		wd.idle = time.AfterFunc(wd.idleTimeout, func() { wd.cancel(errIdleTimeout) })
	}
}

// output notes body output, which restarts the idle clock.
func (wd *watchdog) output() {
	if wd.idle != nil {
		wd.idle.Reset(wd.idleTimeout)
	}
}

func (wd *watchdog) stop() {
	wd.header.Stop()
	if wd.idle != nil {
		wd.idle.Stop()
	}
}
