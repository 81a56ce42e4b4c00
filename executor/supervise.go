package executor

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/hashicorp/go-hclog"
)

// processTree is how a platform stops a started script together with what it started: a
// process group on Unix, a job on Windows.
type processTree struct {
	pid int
	// awaitExit, if set, returns once the script has exited, before proc.Wait reaps it.
	awaitExit func()
	// terminate stops the tree while the script still runs; it may return once exited is
	// closed, which happens when the script has been waited for.
	terminate func(exited <-chan struct{})
	// killRest kills what is left of the tree after the script itself exited.
	killRest func()
	// release, if set, frees what the run holds beyond its processes (its cgroup), once they
	// are gone; a tree with one may outlive Run (see detach), one without may not.
	release func()
}

// eofExitWait is how long a script whose stdout reached EOF has to exit before it counts as
// one that closed its output and kept running. A script's exit closes its stdout a moment
// before the exit can be waited for: the wait keeps the exit status of a script that simply
// ended, and is too short for a client to notice.
const eofExitWait = 100 * time.Millisecond

// supervise is the part of Run that every process executor shares, from the moment proc has
// started with p's child ends: it copies the streams, waits for proc, stops the tree when
// runCtx ends first (stop ends it on an output write failure), gives processes that still
// hold the script's output after it exited grace to finish, then kills them and stops
// reading. It returns the script's state, or the error that Run returns instead of one.
//
// A script that closes its stdout but keeps running has said all it will say: Run returns
// at once with ErrOutputClosed, so that the response can end, and the script has grace to
// exit before its tree is stopped in the background (where the tree can outlive Run; else
// Run waits for that).
//
// The script's stdout is copied on the calling goroutine, the request's: its stack has
// already grown to what writing a response takes, where a fresh goroutine would grow (and
// copy) its stack on every run, a few percent of the server's CPU for a short script. One
// goroutine waits for the script and bounds its output's grace; stopping the tree when runCtx
// ends takes a goroutine only when it does end.
func supervise(ctx, runCtx context.Context, stop context.CancelCauseFunc, inv *Invocation, p *pipes,
	proc *os.Process, tree processTree, grace time.Duration, logger hclog.Logger) (*os.ProcessState, error) {
	stderrDone := p.startSideCopies(inv)
	stdoutDone := make(chan struct{})
	exited := make(chan struct{})
	terminated := make(chan struct{})
	stopTree := context.AfterFunc(runCtx, func() {
		defer close(terminated)
		select {
		case <-exited: // nothing left to terminate but what killRest reaches
		default:
			tree.terminate(exited)
		}
	})
	var state *os.ProcessState
	supervised := make(chan struct{})
	go func() {
		defer close(supervised)
		state = waitForExit(proc, tree, logger)
		close(exited)
		// The script is gone. Processes it started may still be writing to its stdout or
		// stderr: give them the grace, then kill the rest of the tree and stop reading.
		timer := time.NewTimer(grace)
		defer timer.Stop()
		for out, errOut := stdoutDone, stderrDone; out != nil || errOut != nil; {
			select {
			case <-out:
				out = nil
			case <-errOut:
				errOut = nil
			case <-timer.C:
				logger.Debug("output still open after exit; killing the rest of the tree", "pid", tree.pid)
				out, errOut = nil, nil
			case <-runCtx.Done():
				out, errOut = nil, nil
			}
		}
		tree.killRest()
		p.closeParentOutputs()
	}()

	var writeErr error
	copyOutput(inv.Stdout, p.stdoutR, func(err error) {
		if writeErr == nil {
			writeErr = err
		}
		stop(fmt.Errorf("write output: %w", err))
	})
	close(stdoutDone)
	if writeErr == nil && runCtx.Err() == nil && !closedWithin(exited, eofExitWait) {
		if tree.release != nil && stopTree() {
			detach(inv, p, tree, exited, supervised, stderrDone, grace, logger)
			return nil, fmt.Errorf("run %s: %w", inv.Path, ErrOutputClosed)
		}
		if !closedWithin(exited, grace) {
			logger.Debug("script closed its output and kept running; stopping it", "pid", tree.pid)
			stop(ErrOutputClosed)
		}
	}
	<-supervised
	if !stopTree() {
		<-terminated
	}
	<-stderrDone
	p.finishStdin(inv, grace)
	if tree.release != nil {
		tree.release()
	}

	switch {
	case writeErr != nil:
		return nil, fmt.Errorf("run %s: write output: %w", inv.Path, writeErr)
	case ctx.Err() != nil:
		return nil, fmt.Errorf("run %s: %w", inv.Path, context.Cause(ctx))
	}
	return state, nil
}

// waitForExit waits for proc and reaps it.
func waitForExit(proc *os.Process, tree processTree, logger hclog.Logger) *os.ProcessState {
	if tree.awaitExit != nil {
		tree.awaitExit()
	}
	state, err := proc.Wait()
	if err != nil {
		logger.Error("wait failed", "pid", tree.pid, "error", err)
	}
	return state
}

// closedWithin reports whether ch is closed within d.
func closedWithin(ch <-chan struct{}, d time.Duration) bool {
	select {
	case <-ch:
		return true
	default:
	}
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-ch:
		return true
	case <-timer.C:
		return false
	}
}

// detach lets Run return while the script that closed its stdout still runs: what Run's
// caller gave it (stdin, the stderr writer) is let go of now, and a goroutine stops the tree
// if the script has not exited within grace, then releases the run.
func detach(inv *Invocation, p *pipes, tree processTree, exited, supervised, stderrDone <-chan struct{},
	grace time.Duration, logger hclog.Logger) {
	logger.Debug("script closed its output and kept running", "pid", tree.pid)
	// The script's stderr can no longer be logged against its request: stop reading it (a
	// later write fails with EPIPE) before the caller closes its writer.
	p.closeParentOutputs()
	<-stderrDone
	p.finishStdin(inv, 0)
	gone := make(chan struct{})
	if inv.Lingering != nil {
		inv.Lingering(gone)
	}
	go func() {
		defer close(gone)
		if !closedWithin(exited, grace) {
			logger.Debug("script still running after closing its output; stopping it", "pid", tree.pid)
			tree.terminate(exited)
		}
		<-supervised
		tree.release()
	}()
}
