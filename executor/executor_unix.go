//go:build unix

package executor

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/user"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/hashicorp/go-hclog"
	"golang.org/x/sys/unix"
)

type unixExecutor struct {
	cfg     Config
	interps interpreterMap      // Config.Interpreters, checked
	shim    string              // the limit shim; "" when there are no limits
	groups  *cgroups            // nil where cgroup v2 cannot be used
	cred    *syscall.Credential // nil when the server is not root: scripts keep its identity
	uids    *uidPool            // Config.UIDRange; nil without one
	logger  hclog.Logger
}

var (
	_ Executor    = (*unixExecutor)(nil)
	_ Preflighter = (*unixExecutor)(nil)
	_ io.Closer   = (*unixExecutor)(nil)
)

func newNative(cfg Config, logger hclog.Logger) (Executor, error) {
	interps, err := parseInterpreters(cfg.Interpreters)
	if err != nil {
		return nil, err
	}
	e := &unixExecutor{cfg: cfg, interps: interps, logger: logger}
	// Who scripts run as first: a bad user is the one error to report, alone.
	if os.Geteuid() != 0 {
		if cfg.UIDRange.IsSet() {
			return nil, errors.New("a uid range needs root: scripts run as the server's own user")
		}
		logger.Debug("not root: scripts run as the server's own user", "uid", os.Geteuid())
	} else {
		if e.cred, err = lookupCredential(cfg.User, cfg.AllowRoot); err != nil {
			return nil, err
		}
		logger.Debug("scripts run unprivileged", "user", cfg.User, "uid", e.cred.Uid, "gid", e.cred.Gid)
		if cfg.UIDRange.IsSet() {
			if e.uids, err = newUIDPoolFromSystem(cfg.UIDRange, logger.Named("uids")); err != nil {
				return nil, err
			}
			logger.Debug("each script runs as a uid of its own", "first", cfg.UIDRange.First, "last", cfg.UIDRange.Last)
		}
	}
	e.groups = newCgroups(cfg.Limits, logger)
	if cfg.Limits.needsShim() {
		shim, err := resolveShim(cfg.ShimPath)
		if err != nil {
			e.groups.close()
			return nil, err
		}
		e.shim = shim
	}
	if e.groups == nil {
		logger.Info("no cgroup v2 here: children of a script that call setsid can outlive it")
	}
	if cfg.Limits.MemoryBytes > 0 && !e.groups.memoryLimited() {
		logger.Warn("cannot limit script memory here: that needs cgroup v2 with the memory controller, as root; scripts run without a memory limit")
	}
	if cfg.Limits.PIDs > 0 && !e.groups.pidsLimited() && os.Geteuid() == 0 {
		logger.Warn("scripts get no process limit here: a pids limit needs Linux, root and a cgroup pids controller; a fork bomb runs until the script's deadline unless an nproc limit is set")
	}
	return e, nil
}

// lookupCredential resolves name to uid, primary gid and no supplementary groups at all.
func lookupCredential(name string, allowRoot bool) (*syscall.Credential, error) {
	uid, gid, err := resolveUser(name)
	if err != nil {
		return nil, err
	}
	if (uid == 0 || gid == 0) && !allowRoot {
		return nil, fmt.Errorf("%w: %q is root (uid %d, gid %d); scripts must not run as root", ErrBadUser, name, uid, gid)
	}
	return &syscall.Credential{Uid: uid, Gid: gid, Groups: []uint32{}}, nil
}

// resolveUser turns --user into a uid and a primary gid. "UID" or "UID:GID" in numbers needs
// no account database, as in a scratch or distroless container: without a GID it is the
// account's primary group where /etc/passwd has the uid, else the uid itself (as systemd's
// DynamicUser does), never root's group 0. Anything else is an account name.
func resolveUser(name string) (uid, gid uint32, err error) {
	uidText, gidText, hasGID := strings.Cut(name, ":")
	if n, ok := parseID(uidText); ok {
		if hasGID {
			g, ok := parseID(gidText)
			if !ok {
				return 0, 0, fmt.Errorf("%w: %q: the group must be a number, as in UID:GID", ErrBadUser, name)
			}
			return n, g, nil
		}
		if u, err := user.LookupId(uidText); err == nil {
			if g, ok := parseID(u.Gid); ok {
				return n, g, nil
			}
		}
		return n, n, nil
	}
	u, err := user.Lookup(name)
	if err != nil {
		return 0, 0, fmt.Errorf("%w: %q: %w", ErrBadUser, name, err)
	}
	n, ok := parseID(u.Uid)
	g, gok := parseID(u.Gid)
	if !ok || !gok {
		return 0, 0, fmt.Errorf("%w: %q has uid %q and gid %q", ErrBadUser, name, u.Uid, u.Gid)
	}
	return n, g, nil
}

// parseID parses a decimal user or group id.
func parseID(s string) (uint32, bool) {
	if s == "" || strings.TrimLeft(s, "0123456789") != "" {
		return 0, false
	}
	n, err := strconv.ParseUint(s, 10, 32)
	return uint32(n), err == nil
}

func (e *unixExecutor) Name() string { return "unix" }

// Close removes the run cgroups kept for reuse. Runs still going clean up after themselves
// when they end, and later runs make and remove their own.
func (e *unixExecutor) Close() error {
	e.groups.close()
	return nil
}

// CanRun requires some execute permission bit, or an interpreter mapped to the file's
// extension that can be found; the kernel has the final word at exec time.
func (e *unixExecutor) CanRun(path string, info fs.FileInfo) error {
	if e.interps.lookup(path) != nil {
		if _, _, err := e.interps.command(path, nil); err != nil {
			return fmt.Errorf("%w: %w", ErrNotRunnable, err)
		}
		return nil
	}
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

	p, err := newPipes(inv)
	if err != nil {
		return fmt.Errorf("%w: %s: %w", ErrStart, inv.Path, err)
	}
	defer p.closeAll()

	files := []*os.File{p.childStdin, p.childStdout, p.childStderr}
	script := inv.Path
	if inv.File != nil && runtime.GOOS == "linux" {
		// The file the caller checked is the one that runs: it is handed to the child as a
		// descriptor and executed through it, so no rename or symlink swap after the check
		// counts. A "#!" interpreter then gets that name for its script, and the descriptor
		// stays open in the script (SCRIPT_FILENAME keeps the real path).
		files = append(files, inv.File)
		script = "/proc/self/fd/" + strconv.Itoa(len(files)-1)
	}
	program, argv, err := e.interps.command(script, inv.Args)
	if err != nil {
		return fmt.Errorf("%w: %s: %w", ErrStart, inv.Path, err)
	}
	if argv[0] == script {
		argv[0] = inv.Path
	}
	cred, releaseUID, err := e.runCredential()
	if err != nil {
		return fmt.Errorf("%w: %s: %w", ErrStart, inv.Path, err)
	}
	group := e.groups.start()
	end := func() {
		group.end()
		releaseUID() // last: the group's end has killed what the run left
	}
	supervised := false
	defer func() {
		if !supervised {
			end()
		}
	}()
	if e.shim != "" {
		program, argv = e.shim, shimArgs(e.shim, e.cfg.Limits, program, argv[1:])
	}
	sys := &syscall.SysProcAttr{Setpgid: true, Credential: cred}
	group.apply(sys)
	leave := group.enter(e.logger) // v1 groups: the child is born in them
	proc, err := os.StartProcess(program, argv, &os.ProcAttr{
		Dir:   inv.Dir,
		Env:   inv.Env,
		Files: files,
		Sys:   sys,
	})
	leave()
	p.closeChildEnds()
	if err != nil {
		return fmt.Errorf("%w: %s: %w", ErrStart, inv.Path, err)
	}
	pid := proc.Pid
	if inv.Started != nil {
		inv.Started(pid)
	}

	supervised = true // supervise ends the group, after the group kill: that reaches setsid escapees
	state, err := supervise(ctx, runCtx, stop, inv, p, proc, processTree{
		pid:       pid,
		awaitExit: func() { awaitExit(pid) },
		terminate: func(exited <-chan struct{}) { e.terminate(pid, exited) },
		// The group may still hold the leader's pid as its id even after the leader is
		// reaped, and Linux does not reuse a pid that is still in use as a group id.
		killRest: func() { _ = unix.Kill(-pid, unix.SIGKILL) },
		release:  end,
	}, e.cfg.OutputGrace, e.logger)
	if err != nil {
		return err
	}
	return exitError(state)
}

// terminate sends SIGTERM to the group, and SIGKILL after KillGrace if the leader has not
// exited by then.
func (e *unixExecutor) terminate(pid int, exited <-chan struct{}) {
	e.logger.Debug("terminating script group", "pid", pid)
	_ = unix.Kill(-pid, unix.SIGTERM)
	timer := time.NewTimer(e.cfg.KillGrace)
	defer timer.Stop()
	select {
	case <-exited:
	case <-timer.C:
		e.logger.Debug("script ignored SIGTERM; killing the group", "pid", pid)
		_ = unix.Kill(-pid, unix.SIGKILL)
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
