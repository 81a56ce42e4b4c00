package executor

import (
	"context"
	"fmt"
	"io"
	"os"
	"sync"
)

// runStreams connects one run's standard streams to the request. finish is called once the
// script has returned (or been abandoned): it ends the streams, waits until nothing of the
// run writes to the request any more, and reports a failed write of the output.
type runStreams interface {
	finish() error
}

// pipedStreams give the script real pipes, copied to and from the request by goroutines.
type pipedStreams struct {
	p        *pipes
	inv      *Invocation
	done     <-chan struct{}
	writeErr func() error
}

func newPipedStreams(slot *runSlot, inv *Invocation, stop context.CancelCauseFunc) (*pipedStreams, error) {
	p, err := newPipes(inv)
	if err != nil {
		return nil, err
	}
	slot.bindFiles(p.childStdin, p.childStdout, p.childStderr)
	done, writeErr := p.copyStopping(inv, stop)
	return &pipedStreams{p: p, inv: inv, done: done, writeErr: writeErr}, nil
}

func (s *pipedStreams) finish() error {
	s.p.closeChildEnds()
	<-s.done
	s.p.finishStdin(s.inv, stdinGrace)
	s.p.closeAll()
	return s.writeErr()
}

// directStreams serve a script that never names os.Std* or reads stdin: what it prints goes
// to the request's writers on its own goroutine, and its stdin is empty (the server deals
// with an unread body).
type directStreams struct {
	out, errw *runWriter
}

func newDirectStreams(slot *runSlot, inv *Invocation, stop context.CancelCauseFunc) *directStreams {
	null := placeholderFile()
	slot.stdin, slot.stdout, slot.stderr = null, null, null
	d := &directStreams{
		out:  newRunWriter(inv.Stdout, func(err error) { stop(fmt.Errorf("write output: %w", err)) }),
		errw: newRunWriter(inv.Stderr, nil),
	}
	slot.in, slot.out, slot.errw = eofReader{}, d.out, d.errw
	return d
}

func (d *directStreams) finish() error {
	_ = d.errw.close()
	return d.out.close()
}

type eofReader struct{}

func (eofReader) Read([]byte) (int, error) { return 0, io.EOF }

// runWriter is one run's output written straight to the request's writer, on the script's
// goroutine. After close it refuses writes, so a script abandoned at its deadline cannot
// touch the response once Run has returned; close waits for a write in progress.
type runWriter struct {
	mu     sync.Mutex
	w      io.Writer
	closed bool
	err    error
	onErr  func(error)
}

func newRunWriter(w io.Writer, onErr func(error)) *runWriter {
	if w == nil {
		w = io.Discard
	}
	return &runWriter{w: w, onErr: onErr}
}

func (r *runWriter) Write(p []byte) (int, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	switch {
	case r.closed:
		return 0, os.ErrClosed
	case r.err != nil:
		return 0, r.err
	}
	n, err := r.w.Write(p)
	if err != nil {
		r.err = err
		if r.onErr != nil {
			r.onErr(err)
		}
	}
	return n, err
}

// close refuses what comes after and reports a failed write.
func (r *runWriter) close() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.closed = true
	return r.err
}
