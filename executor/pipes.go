package executor

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
	"time"
)

// pipes holds both ends of the script's three standard streams.
type pipes struct {
	childStdin, childStdout, childStderr *os.File
	stdinW, stdoutR, stderrR             *os.File // parent ends; stdinW nil when not copied
	stdinDone                            chan struct{}
	sharedStdin, sharedStderr            bool // childStdin, childStderr are not ours to close
	closeOnce                            sync.Once
}

// nullFiles are shared handles on the null device that a run may use instead of a stream
// (never closed here): in for a script without stdin, out (writable) for a script whose
// stderr is discarded. Without them, a fresh handle or a pipe is made.
type nullFiles struct{ in, out *os.File }

// newPipes makes the pipes for inv.
func newPipes(inv *Invocation, null nullFiles) (*pipes, error) {
	p := &pipes{stdinDone: make(chan struct{})}
	var err error
	if p.stdoutR, p.childStdout, err = childPipe(false); err != nil {
		return nil, fmt.Errorf("stdout pipe: %w", err)
	}
	if inv.Stderr == nil && null.out != nil {
		p.childStderr, p.sharedStderr = null.out, true
	} else if p.stderrR, p.childStderr, err = childPipe(false); err != nil {
		p.closeAll()
		return nil, fmt.Errorf("stderr pipe: %w", err)
	}
	switch {
	case inv.Stdin == nil && null.in != nil:
		p.childStdin, p.sharedStdin = null.in, true
	case inv.Stdin == nil:
		p.childStdin, err = os.Open(os.DevNull)
	default:
		p.stdinW, p.childStdin, err = childPipe(true)
	}
	if err != nil {
		p.closeAll()
		return nil, fmt.Errorf("stdin: %w", err)
	}
	return p, nil
}

func (p *pipes) closeChildEnds() {
	if p.sharedStdin {
		p.childStdin = nil
	}
	if p.sharedStderr {
		p.childStderr = nil
	}
	for _, f := range []*os.File{p.childStdin, p.childStdout, p.childStderr} {
		if f != nil {
			_ = f.Close()
		}
	}
}

func (p *pipes) closeParentOutputs() {
	_ = p.stdoutR.Close()
	if p.stderrR != nil {
		_ = p.stderrR.Close()
	}
}

func (p *pipes) closeAll() {
	p.closeOnce.Do(func() {
		p.closeChildEnds()
		for _, f := range []*os.File{p.stdinW, p.stdoutR, p.stderrR} {
			if f != nil {
				_ = f.Close()
			}
		}
	})
}

// startCopies copies stdin in and stdout/stderr out; the returned channel closes when both
// outputs reached EOF (or their read ends were closed).
func (p *pipes) startCopies(inv *Invocation, onWriteErr func(error)) <-chan struct{} {
	stderrDone := p.startSideCopies(inv)
	done := make(chan struct{})
	go func() {
		defer close(done)
		copyOutput(inv.Stdout, p.stdoutR, onWriteErr)
		<-stderrDone
	}()
	return done
}

// startSideCopies copies stdin in and stderr out, each on a goroutine of its own; the
// returned channel closes when stderr reached EOF (or its read end was closed).
func (p *pipes) startSideCopies(inv *Invocation) <-chan struct{} {
	if p.stdinW != nil {
		go func() {
			defer close(p.stdinDone)
			// A script that exits without reading its input makes this fail with EPIPE:
			// that is its right, not an error.
			_, _ = io.Copy(p.stdinW, inv.Stdin)
			_ = p.stdinW.Close()
		}()
	} else {
		close(p.stdinDone)
	}
	done := make(chan struct{})
	if p.stderrR == nil { // discarded at the source
		close(done)
		return done
	}
	go func() {
		defer close(done)
		copyOutput(inv.Stderr, p.stderrR, func(error) {})
	}()
	return done
}

// finishStdin waits for the stdin copy to end; if the script exited while the copy was still
// blocked reading inv.Stdin, it closes the write end and inv.Stdin to abandon the read.
func (p *pipes) finishStdin(inv *Invocation, grace time.Duration) {
	if p.stdinW == nil {
		return
	}
	_ = p.stdinW.Close() // unblocks a copy stuck writing to a script that no longer reads
	timer := time.NewTimer(grace)
	defer timer.Stop()
	select {
	case <-p.stdinDone:
		return
	case <-timer.C:
	}
	if c, ok := inv.Stdin.(io.Closer); ok {
		_ = c.Close()
	}
	<-p.stdinDone
}

// copyBuffers recycles the output copy buffers: two per request would otherwise be most of
// what a request allocates.
var copyBuffers = sync.Pool{New: func() any {
	b := make([]byte, 32<<10)
	return &b
}}

// copyOutput copies src to dst (dst nil: discard). After dst fails it keeps draining src so
// that the script never blocks on a full pipe while it is being stopped.
func copyOutput(dst io.Writer, src io.Reader, onWriteErr func(error)) {
	if dst == nil {
		dst = io.Discard
	}
	bufp := copyBuffers.Get().(*[]byte)
	defer copyBuffers.Put(bufp)
	buf := *bufp
	for {
		n, err := src.Read(buf)
		if n > 0 && dst != io.Discard {
			if _, werr := dst.Write(buf[:n]); werr != nil {
				onWriteErr(werr)
				dst = io.Discard
			}
		}
		if err != nil {
			if !errors.Is(err, io.EOF) && !errors.Is(err, os.ErrClosed) {
				onWriteErr(fmt.Errorf("read output: %w", err))
			}
			return
		}
	}
}

// copyStopping is startCopies for a run that stop ends when the output cannot be written.
// writeErr reports that failure; read it only after done is closed.
func (p *pipes) copyStopping(inv *Invocation, stop context.CancelCauseFunc) (done <-chan struct{}, writeErr func() error) {
	var err error
	var once sync.Once
	done = p.startCopies(inv, func(e error) {
		once.Do(func() { err = e })
		stop(fmt.Errorf("write output: %w", e))
	})
	return done, func() error { return err }
}
