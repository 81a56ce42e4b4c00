//go:build unix

package executor

import (
	"context"
	"fmt"
	"io/fs"
	"os"
	"os/user"
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/hashicorp/go-hclog"
	"golang.org/x/sys/unix"
)

type unixExecutor struct {
	cfg    Config
	shim   string              // the limit shim; "" when there are no limits
	cred   *syscall.Credential // nil when the server is not root: scripts keep its identity
	logger hclog.Logger
}

var (
	_ Executor    = (*unixExecutor)(nil)
	_ Preflighter = (*unixExecutor)(nil)
)

func newNative(cfg Config, logger hclog.Logger) (Executor, error) {
	e := &unixExecutor{cfg: cfg, logger: logger}
	if !cfg.Limits.IsZero() {
		shim, err := resolveShim(cfg.ShimPath)
		if err != nil {
			return nil, err
		}
		e.shim = shim
	}
	if os.Geteuid() != 0 {
		logger.Debug("not root: scripts run as the server's own user", "uid", os.Geteuid())
		return e, nil
	}
	cred, err := lookupCredential(cfg.User, cfg.AllowRoot)
	if err != nil {
		return nil, err
	}
	e.cred = cred
	logger.Debug("scripts run unprivileged", "user", cfg.User, "uid", cred.Uid, "gid", cred.Gid)
	return e, nil
}

// lookupCredential resolves name to uid, primary gid and no supplementary groups at all.
func lookupCredential(name string, allowRoot bool) (*syscall.Credential, error) {
	u, err := user.Lookup(name)
	if err != nil {
		return nil, fmt.Errorf("%w: %q: %w", ErrBadUser, name, err)
	}
	uid, err := strconv.ParseUint(u.Uid, 10, 32)
	if err != nil {
		return nil, fmt.Errorf("%w: %q has uid %q: %w", ErrBadUser, name, u.Uid, err)
	}
	gid, err := strconv.ParseUint(u.Gid, 10, 32)
	if err != nil {
		return nil, fmt.Errorf("%w: %q has gid %q: %w", ErrBadUser, name, u.Gid, err)
	}
	if (uid == 0 || gid == 0) && !allowRoot {
		return nil, fmt.Errorf("%w: %q is root (uid %d, gid %d); scripts must not run as root", ErrBadUser, name, uid, gid)
	}
	return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid), Groups: []uint32{}}, nil
}

func (e *unixExecutor) Name() string { return "unix" }

// CanRun requires some execute permission bit; the kernel has the final word at exec time.
func (e *unixExecutor) CanRun(path string, info fs.FileInfo) error {
	if info.Mode().Perm()&0o111 == 0 {
		return fmt.Errorf("%w: %s has no execute permission", ErrNotRunnable, path)
	}
	return nil
}

// Run forks and execs the script as the leader of a new process group, so that the group can
// be signalled as a whole: on ctx's end, on an output write failure, and once the script has
// exited (to reap what it left running).
func (e *unixExecutor) Run(ctx context.Context, inv *Invocation) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("run %s: %w", inv.Path, context.Cause(ctx))
	}
	runCtx, stop := context.WithCancelCause(ctx)
	defer stop(nil)

	p, err := newPipes(inv, nil)
	if err != nil {
		return fmt.Errorf("%w: %s: %w", ErrStart, inv.Path, err)
	}
	defer p.closeAll()

	program, argv := inv.Path, append([]string{inv.Path}, inv.Args...)
	if e.shim != "" {
		program, argv = e.shim, shimArgs(e.shim, e.cfg.Limits, inv.Path, inv.Args)
	}
	proc, err := os.StartProcess(program, argv, &os.ProcAttr{
		Dir:   inv.Dir,
		Env:   inv.Env,
		Files: []*os.File{p.childStdin, p.childStdout, p.childStderr},
		Sys:   &syscall.SysProcAttr{Setpgid: true, Credential: e.cred},
	})
	p.closeChildEnds()
	if err != nil {
		return fmt.Errorf("%w: %s: %w", ErrStart, inv.Path, err)
	}
	pid := proc.Pid
	if inv.Started != nil {
		inv.Started(pid)
	}

	var writeErr error
	var writeOnce sync.Once
	onWriteErr := func(err error) {
		writeOnce.Do(func() { writeErr = err })
		stop(fmt.Errorf("write output: %w", err))
	}
	outputDone := p.startCopies(inv, onWriteErr)

	waited := make(chan *os.ProcessState, 1)
	go func() {
		state, err := proc.Wait()
		if err != nil {
			e.logger.Error("wait failed", "pid", pid, "error", err)
		}
		waited <- state
	}()

	var state *os.ProcessState
	select {
	case state = <-waited:
	case <-runCtx.Done():
		state = e.terminate(pid, waited)
	}

	// The leader is gone. Children that inherited its stdout may still be writing: give them
	// OutputGrace, then kill the rest of the group and stop reading.
	grace := time.NewTimer(e.cfg.OutputGrace)
	select {
	case <-outputDone:
	case <-grace.C:
		e.logger.Debug("output still open after exit; killing the group", "pid", pid)
	case <-runCtx.Done():
	}
	grace.Stop()
	// The group may still hold the leader's pid as its id even after the leader is reaped,
	// and Linux does not reuse a pid that is still in use as a group id.
	_ = unix.Kill(-pid, unix.SIGKILL)
	p.closeParentOutputs()
	<-outputDone
	p.finishStdin(inv, e.cfg.OutputGrace)

	switch {
	case writeErr != nil:
		return fmt.Errorf("run %s: write output: %w", inv.Path, writeErr)
	case ctx.Err() != nil:
		return fmt.Errorf("run %s: %w", inv.Path, context.Cause(ctx))
	}
	return exitError(state)
}

// terminate sends SIGTERM to the group, and SIGKILL after KillGrace if the leader still lives.
func (e *unixExecutor) terminate(pid int, waited <-chan *os.ProcessState) *os.ProcessState {
	e.logger.Debug("terminating script group", "pid", pid)
	_ = unix.Kill(-pid, unix.SIGTERM)
	timer := time.NewTimer(e.cfg.KillGrace)
	defer timer.Stop()
	select {
	case state := <-waited:
		return state
	case <-timer.C:
		e.logger.Debug("script ignored SIGTERM; killing the group", "pid", pid)
		_ = unix.Kill(-pid, unix.SIGKILL)
		return <-waited
	}
}

func exitError(state *os.ProcessState) error {
	if state == nil {
		return &ExitError{Code: -1}
	}
	if state.Success() {
		return nil
	}
	if ws, ok := state.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		return &ExitError{Code: -1, Signal: unix.SignalName(ws.Signal())}
	}
	return &ExitError{Code: state.ExitCode()}
}
