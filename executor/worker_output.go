package executor

import (
	"context"
	"io"
	"os"
	"sync"
	"time"
)

// outputDelay is how long a small write of a run's output may wait in the worker for what
// follows, so that they share one write on the channel: a short run's whole output and its
// END_REQUEST usually go together, which saves the server a wakeup. The server's own flush
// delay is longer.
const outputDelay = time.Millisecond

// runOutput is one run's stdout and stderr on their way to the server, within the credit
// the server grants the run. Small writes are framed into a pending buffer that is written
// when it grows large, when outputDelay has passed, or with the END_REQUEST; a large write
// goes at once.
type runOutput struct {
	ch     *recordWriter
	id     uint16
	credit *outputCredit

	mu      sync.Mutex
	pending []byte // framed records not yet written
	timer   *time.Timer
	closed  bool  // the END_REQUEST went: the run is over
	err     error // the channel failed
}

// stream is the writer of one of the run's streams (fcgiStdout or fcgiStderr).
func (o *runOutput) stream(typ uint8) io.Writer { return outputStream{o, typ} }

type outputStream struct {
	o   *runOutput
	typ uint8
}

func (s outputStream) Write(p []byte) (int, error) {
	n := 0
	for len(p) > 0 {
		chunk := p[:min(len(p), outputChunk)]
		if err := s.o.credit.take(len(chunk)); err != nil {
			return n, err
		}
		if err := s.o.send(s.typ, chunk); err != nil {
			return n, err
		}
		n += len(chunk)
		p = p[len(chunk):]
	}
	return n, nil
}

func (o *runOutput) send(typ uint8, chunk []byte) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	switch {
	case o.closed:
		return os.ErrClosed
	case o.err != nil:
		return o.err
	case len(chunk) >= largeContent:
		if err := o.flushLocked(); err != nil {
			return err
		}
		o.err = o.ch.write(typ, o.id, chunk)
		return o.err
	}
	o.pending = appendRecords(o.pending, typ, o.id, chunk)
	if len(o.pending) >= largeContent {
		return o.flushLocked()
	}
	if o.timer == nil {
		o.timer = time.AfterFunc(outputDelay, o.flush)
	}
	return nil
}

func (o *runOutput) flush() {
	o.mu.Lock()
	defer o.mu.Unlock()
	_ = o.flushLocked()
}

// flushLocked writes the pending records; o.mu is held.
func (o *runOutput) flushLocked() error {
	if o.timer != nil {
		o.timer.Stop()
		o.timer = nil
	}
	if len(o.pending) == 0 || o.err != nil {
		return o.err
	}
	o.err = o.ch.writeRaw(o.pending)
	o.pending = o.pending[:0]
	return o.err
}

// finish sends what is pending with end, the run's END_REQUEST, and refuses later writes.
func (o *runOutput) finish(end []byte) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.closed = true
	o.pending = append(o.pending, end...)
	return o.flushLocked()
}

// outputCredit counts the bytes a run may still send before the server consumes some.
type outputCredit struct {
	mu     sync.Mutex
	cond   *sync.Cond
	avail  int
	ctx    context.Context
	unwake func() bool // stops the wakeup on the context's end
	// onWait, when set, is called before take waits: credit only comes over the channel.
	onWait func()
}

func newOutputCredit(ctx context.Context) *outputCredit {
	c := &outputCredit{avail: outputWindow, ctx: ctx}
	c.cond = sync.NewCond(&c.mu)
	c.unwake = context.AfterFunc(ctx, func() {
		c.mu.Lock()
		c.cond.Broadcast()
		c.mu.Unlock()
	})
	return c
}

// release is called when the run has ended, before its context is cancelled: nothing waits
// any more, and a wakeup would cost a goroutine.
func (c *outputCredit) release() { c.unwake() }

// take waits until n bytes may be sent, or the run is cancelled.
func (c *outputCredit) take(n int) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	for c.avail < n {
		if err := c.ctx.Err(); err != nil {
			return err
		}
		if c.onWait != nil {
			c.onWait()
		}
		c.cond.Wait()
	}
	c.avail -= n
	return nil
}

func (c *outputCredit) add(n int) {
	c.mu.Lock()
	c.avail = min(c.avail+n, outputWindow)
	c.cond.Broadcast()
	c.mu.Unlock()
}
