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
	// terminate stops the tree while the script still runs, and returns the script's state
	// once it has been waited for (from waited).
	terminate func(waited <-chan *os.ProcessState) *os.ProcessState
	// killRest kills what is left of the tree after the script itself exited.
	killRest func()
}

// supervise is the part of Run that every process executor shares, from the moment proc has
// started with p's child ends: it copies the streams, waits for proc, stops the tree when
// runCtx ends first (stop ends it on an output write failure), gives processes that still
// hold the script's stdout after it exited grace to finish, then kills them and stops
// reading. It returns the script's state, or the error that Run returns instead of one.
func supervise(ctx, runCtx context.Context, stop context.CancelCauseFunc, inv *Invocation, p *pipes,
	proc *os.Process, tree processTree, grace time.Duration, logger hclog.Logger) (*os.ProcessState, error) {
	outputDone, writeErr := p.copyStopping(inv, stop)

	waited := make(chan *os.ProcessState, 1)
	go func() {
		state, err := proc.Wait()
		if err != nil {
			logger.Error("wait failed", "pid", tree.pid, "error", err)
		}
		waited <- state
	}()

	var state *os.ProcessState
	select {
	case state = <-waited:
	case <-runCtx.Done():
		state = tree.terminate(waited)
	}

	// The script is gone. Processes it started may still be writing to its stdout: give
	// them the grace, then kill the rest of the tree and stop reading.
	timer := time.NewTimer(grace)
	select {
	case <-outputDone:
	case <-timer.C:
		logger.Debug("output still open after exit; killing the rest of the tree", "pid", tree.pid)
	case <-runCtx.Done():
	}
	timer.Stop()
	tree.killRest()
	p.closeParentOutputs()
	<-outputDone
	p.finishStdin(inv, grace)

	switch {
	case writeErr() != nil:
		return nil, fmt.Errorf("run %s: write output: %w", inv.Path, writeErr())
	case ctx.Err() != nil:
		return nil, fmt.Errorf("run %s: %w", inv.Path, context.Cause(ctx))
	}
	return state, nil
}
