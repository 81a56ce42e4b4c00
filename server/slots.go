package server

import (
	"context"
	"net/http"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/cgihttpd/cgihttpd/executor"
)

// Stats are the server's counters since it started.
type Stats struct {
	Requests       int64 `json:"requests"`
	ScriptsRunning int64 `json:"scripts_running"`
	Queued         int64 `json:"queued"`
	Timeouts       int64 `json:"timeouts"`
	Overloaded     int64 `json:"overloaded_503"`
	SpooledBytes   int64 `json:"spooled_bytes"` // request bodies held in memory and temp files now
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
		SpooledBytes:   s.spool.used.Load(),
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
