package server

import (
	"context"
	"errors"
	"sync/atomic"
	"time"
)

var (
	errHeaderTimeout = errors.New("script sent no complete header block in time")
	errIdleTimeout   = errors.New("script output stalled")
)

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
