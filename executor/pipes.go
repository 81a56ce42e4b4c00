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

// newPipes makes the pipes for inv. A script without stdin reads, and one whose stderr is
// discarded (nil) writes, the shared null device instead of a pipe.
func newPipes(inv *Invocation) (*pipes, error) {
	null, err := devNull()
	if err != nil {
		return nil, err
	}
	p := &pipes{stdinDone: make(chan struct{})}
	if p.stdoutR, p.childStdout, err = childPipe(false); err != nil {
		return nil, fmt.Errorf("stdout pipe: %w", err)
	}
	if inv.Stderr == nil {
		p.childStderr, p.sharedStderr = null, true
	} else if p.stderrR, p.childStderr, err = childPipe(false); err != nil {
		p.closeAll()
		return nil, fmt.Errorf("stderr pipe: %w", err)
	}
	if inv.Stdin == nil {
		p.childStdin, p.sharedStdin = null, true
	} else if p.stdinW, p.childStdin, err = childPipe(true); err != nil {
		p.closeAll()
		return nil, fmt.Errorf("stdin pipe: %w", err)
	}
	return p, nil
}

// devNull is one read-write handle on the null device for every run without a body or whose
// stderr is discarded, and for in-process scripts between runs: it is only ever duplicated
// into children or bound as a placeholder, so one open for the process's life does.
var devNull = sync.OnceValues(func() (*os.File, error) {
	f, err := os.OpenFile(os.DevNull, os.O_RDWR, 0)
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", os.DevNull, err)
	}
	return f, nil
})

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
			copyInput(p.stdinW, inv.Stdin)
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
// what a request allocates. streamBuffers are the larger ones of scripts that stream.
var (
	copyBuffers   = sync.Pool{New: func() any { b := make([]byte, 32<<10); return &b }}
	streamBuffers = sync.Pool{New: func() any { b := make([]byte, streamBufferSize); return &b }}
)

// streamBufferSize is the read size once a script streams; its pipe then grows to streamPipeSize
// where the platform allows: fewer, larger reads, and fewer stalls of a script that writes
// faster than the client reads.
const (
	streamBufferSize = 256 << 10
	streamPipeSize   = 1 << 20
)

// copyOutput copies src to dst (dst nil: discard). After dst fails it keeps draining src so
// that the script never blocks on a full pipe while it is being stopped.
func copyOutput(dst io.Writer, src io.Reader, onWriteErr func(error)) {
	if dst == nil {
		dst = io.Discard
	}
	pipe, _ := src.(*os.File)
	buf := newGrowingBuffer(pipe)
	defer buf.release()
	for {
		n, err := src.Read(buf.b)
		if n > 0 && dst != io.Discard {
			if _, werr := dst.Write(buf.b[:n]); werr != nil {
				onWriteErr(werr)
				dst = io.Discard
			}
		}
		buf.note(n)
		if err != nil {
			if !errors.Is(err, io.EOF) && !errors.Is(err, os.ErrClosed) {
				onWriteErr(fmt.Errorf("read output: %w", err))
			}
			return
		}
	}
}

// copyInput copies the request body src into the script's stdin pipe until either ends.
func copyInput(dst *os.File, src io.Reader) {
	switch src.(type) {
	case *os.File, io.WriterTo: // a spooled body: the kernel or one write does it best
		_, _ = io.Copy(dst, src)
		return
	}
	buf := newGrowingBuffer(dst)
	defer buf.release()
	for {
		n, err := src.Read(buf.b)
		if n > 0 {
			if _, werr := dst.Write(buf.b[:n]); werr != nil {
				return
			}
		}
		buf.note(n)
		if err != nil {
			return
		}
	}
}

// growingBuffer is a copy buffer that grows, and grows its pipe, once the copy streams: two
// full reads in a row.
type growingBuffer struct {
	b         []byte
	bufp      *[]byte
	pool      *sync.Pool
	pipe      *os.File // nil: nothing to grow but the buffer
	fullReads int
}

func newGrowingBuffer(pipe *os.File) *growingBuffer {
	bufp := copyBuffers.Get().(*[]byte)
	return &growingBuffer{b: *bufp, bufp: bufp, pool: &copyBuffers, pipe: pipe}
}

// note records a read of n bytes into b; b may be another buffer afterwards.
func (g *growingBuffer) note(n int) {
	if n < len(g.b) {
		g.fullReads = 0
		return
	}
	if g.fullReads++; g.fullReads < 2 || g.pool == &streamBuffers {
		return
	}
	if g.pipe != nil {
		growPipe(g.pipe, streamPipeSize)
	}
	g.pool.Put(g.bufp)
	g.bufp, g.pool = streamBuffers.Get().(*[]byte), &streamBuffers
	g.b = *g.bufp
}

func (g *growingBuffer) release() { g.pool.Put(g.bufp) }

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
