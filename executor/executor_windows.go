//go:build windows

package executor

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"unsafe"

	"github.com/hashicorp/go-hclog"
	"golang.org/x/sys/windows"
)

// windowsExecutor starts each script suspended, puts it in a Job Object of its own and only
// then lets it run, so that everything it starts is in the job too; terminating the job ends
// the whole tree. The job is created with JOB_OBJECT_LIMIT_KILL_ON_JOB_CLOSE and only the
// server holds its handle, so the tree also dies when the server does, however it dies.
type windowsExecutor struct {
	cfg     Config
	interps interpreterMap
	cmdExe  string // cmd.exe in the system directory, never found through PATH or COMSPEC
	logger  hclog.Logger
}

var (
	_ Executor    = (*windowsExecutor)(nil)
	_ Preflighter = (*windowsExecutor)(nil)
)

// procNtResumeProcess resumes every thread of a process; x/sys/windows does not wrap it.
var procNtResumeProcess = windows.NewLazySystemDLL("ntdll.dll").NewProc("NtResumeProcess")

func newNative(cfg Config, logger hclog.Logger) (Executor, error) {
	if cfg.Limits.OpenFiles != 0 || cfg.Limits.FileSize != 0 {
		return nil, errors.New("limits on open files and file size do not exist on Windows (a job limits memory, CPU time and processes)")
	}
	if cfg.UIDRange.IsSet() {
		return nil, errors.New("a uid range does not exist on Windows: scripts run as the server's account")
	}
	interps, err := parseInterpreters(cfg.Interpreters)
	if err != nil {
		return nil, err
	}
	for ext := range interps {
		if fixedExtensions[ext] {
			return nil, fmt.Errorf("interpreter for %s: Windows runs %s files itself (.bat and .cmd through cmd.exe with strict quoting)", ext, ext)
		}
	}
	sys, err := windows.GetSystemDirectory()
	if err != nil {
		return nil, fmt.Errorf("find the system directory: %w", err)
	}
	// Scripts run as the server's own account, with its privileges: Windows has no nobody.
	// (A token from CreateRestrictedToken would drop the privileges, but Wine 8.0 ignores
	// DISABLE_MAX_PRIVILEGE, so CI could not show that it works.)
	logger.Debug("scripts run as the server's own account")
	return &windowsExecutor{cfg: cfg, interps: interps, cmdExe: filepath.Join(sys, "cmd.exe"), logger: logger}, nil
}

func (e *windowsExecutor) Name() string { return "windows" }

// CanRun requires an interpreter for path (see resolve); the error names what was tried.
func (e *windowsExecutor) CanRun(path string, _ fs.FileInfo) error {
	_, err := e.resolve(path)
	return err
}

// Run starts the script suspended, assigns it to a new job, resumes it, and terminates the
// job on ctx's end, on an output write failure, and once the script has exited (to end what
// it left running).
func (e *windowsExecutor) Run(ctx context.Context, inv *Invocation) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("run %s: %w", inv.Path, context.Cause(ctx))
	}
	release, err := holdScript(inv)
	if err != nil {
		return fmt.Errorf("%w: %s: %w", ErrStart, inv.Path, err)
	}
	defer release() // also released as soon as the process exists, below
	c, err := e.resolve(inv.Path)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrStart, err)
	}
	args := inv.Args
	if err := c.checkArgs(args); err != nil {
		e.logger.Warn("arguments refused; the script runs without them", "script", inv.Path, "reason", err)
		args = nil
	}
	runCtx, stop := context.WithCancelCause(ctx)
	defer stop(nil)

	job, err := newJob(e.cfg.Limits)
	if err != nil {
		return fmt.Errorf("%w: %s: %w", ErrStart, inv.Path, err)
	}
	// Whatever is still in the job dies with this handle (KILL_ON_JOB_CLOSE).
	defer func() { _ = windows.CloseHandle(job) }()

	p, err := newPipes(inv)
	if err != nil {
		return fmt.Errorf("%w: %s: %w", ErrStart, inv.Path, err)
	}
	defer p.closeAll()

	proc, err := os.StartProcess(c.program, []string{c.program}, &os.ProcAttr{
		Dir:   inv.Dir,
		Env:   dedupEnv(inv.Env),
		Files: []*os.File{p.childStdin, p.childStdout, p.childStderr},
		Sys: &syscall.SysProcAttr{
			CmdLine: c.commandLine(inv.Path, args),
			// Suspended until it is in the job. A process group of its own, so that a
			// Ctrl+C at the server's console is the server's to handle; no console window.
			CreationFlags: windows.CREATE_SUSPENDED | windows.CREATE_NEW_PROCESS_GROUP | windows.CREATE_NO_WINDOW,
		},
	})
	p.closeChildEnds()
	release()
	if err != nil {
		return fmt.Errorf("%w: %s: %w", ErrStart, inv.Path, err)
	}
	pid := proc.Pid
	if err := joinAndResume(proc, job); err != nil {
		_ = proc.Kill()
		_, _ = proc.Wait()
		return fmt.Errorf("%w: %s: %w", ErrStart, inv.Path, err)
	}
	if inv.Started != nil {
		inv.Started(pid)
	}

	state, err := supervise(ctx, runCtx, stop, inv, p, proc, processTree{
		pid: pid,
		// Windows has no SIGTERM for a console program that does not share our console:
		// the tree is terminated at once, and KillGrace does not apply.
		terminate: func(<-chan struct{}) {
			e.logger.Debug("terminating script job", "pid", pid)
			_ = windows.TerminateJobObject(job, 1)
		},
		killRest: func() { _ = windows.TerminateJobObject(job, 1) },
	}, e.cfg.OutputGrace, e.logger)
	if err != nil {
		return err
	}
	return exitError(state)
}

// exitError is nil for a zero exit status, else the *ExitError that describes the ending.
func exitError(state *os.ProcessState) error {
	switch {
	case state == nil:
		return &ExitError{Code: -1}
	case !state.Success():
		return &ExitError{Code: state.ExitCode()}
	}
	return nil
}

// handleIdentity names the file of h across handles and processes: its volume and file
// index.
func handleIdentity(h windows.Handle) (string, error) {
	var info windows.ByHandleFileInformation
	if err := windows.GetFileInformationByHandle(h, &info); err != nil {
		return "", fmt.Errorf("file information: %w", err)
	}
	return strconv.FormatUint(uint64(info.VolumeSerialNumber), 10) + ":" +
		strconv.FormatUint(uint64(info.FileIndexHigh)<<32|uint64(info.FileIndexLow), 10), nil
}

// newJob creates a job whose processes die when its last handle is closed, with l's limits
// where Windows has them: the memory, CPU time and number of processes of the whole job.
func newJob(l Limits) (windows.Handle, error) {
	job, err := windows.CreateJobObject(nil, nil)
	if err != nil {
		return 0, fmt.Errorf("create job: %w", err)
	}
	var info windows.JOBOBJECT_EXTENDED_LIMIT_INFORMATION
	info.BasicLimitInformation.LimitFlags = windows.JOB_OBJECT_LIMIT_KILL_ON_JOB_CLOSE
	if l.Processes > 0 {
		info.BasicLimitInformation.LimitFlags |= windows.JOB_OBJECT_LIMIT_ACTIVE_PROCESS
		info.BasicLimitInformation.ActiveProcessLimit = uint32(min(l.Processes, 1<<31))
	}
	if l.MemoryBytes > 0 {
		info.BasicLimitInformation.LimitFlags |= windows.JOB_OBJECT_LIMIT_JOB_MEMORY
		info.JobMemoryLimit = uintptr(min(l.MemoryBytes, uint64(^uintptr(0))))
	}
	if l.CPUSeconds > 0 {
		info.BasicLimitInformation.LimitFlags |= windows.JOB_OBJECT_LIMIT_JOB_TIME
		info.BasicLimitInformation.PerJobUserTimeLimit = int64(min(l.CPUSeconds, 1<<32)) * 10_000_000 // 100 ns units
	}
	if _, err := windows.SetInformationJobObject(job, windows.JobObjectExtendedLimitInformation,
		uintptr(unsafe.Pointer(&info)), uint32(unsafe.Sizeof(info))); err != nil {
		_ = windows.CloseHandle(job)
		return 0, fmt.Errorf("set job limits: %w", err)
	}
	return job, nil
}

// joinAndResume assigns the suspended process to job and lets it run. Assigning first is what
// makes the job race-free: the script cannot start a child outside it.
func joinAndResume(proc *os.Process, job windows.Handle) error {
	var err error
	herr := proc.WithHandle(func(h uintptr) {
		if err = windows.AssignProcessToJobObject(job, windows.Handle(h)); err != nil {
			err = fmt.Errorf("assign to job: %w", err)
			return
		}
		// NtResumeProcess resumes every thread; CreateProcess's thread handle is closed by
		// syscall.StartProcess, so ResumeThread is not an option.
		if status, _, _ := procNtResumeProcess.Call(h); status != 0 {
			err = fmt.Errorf("resume: %w", windows.NTStatus(status))
		}
	})
	if herr != nil {
		return fmt.Errorf("process handle: %w", herr)
	}
	return err
}

// dedupEnv keeps the last of several entries whose names differ only in case: Windows
// compares names case-insensitively and would otherwise pick one of them arbitrarily.
func dedupEnv(env []string) []string {
	seen := make(map[string]int, len(env))
	out := make([]string, 0, len(env))
	for _, kv := range env {
		name, _, _ := strings.Cut(kv, "=")
		if name == "" && strings.HasPrefix(kv, "=") { // "=C:=C:\dir": the per-drive directories
			name, _, _ = strings.Cut(kv[1:], "=")
			name = "=" + name
		}
		key := strings.ToUpper(name)
		if i, ok := seen[key]; ok {
			out[i] = kv
			continue
		}
		seen[key] = len(out)
		out = append(out, kv)
	}
	return out
}

// holdScript keeps the script that the caller opened and checked (inv.File) from being
// renamed, deleted or replaced until release is called: it opens the script's name again
// without FILE_SHARE_DELETE, and makes sure that name still is that file. Windows runs a
// script by its name (CreateProcess, and the interpreter after it), so this is how the file
// that passed the check is the one that starts. Release is safe to call twice.
func holdScript(inv *Invocation) (release func(), err error) {
	if inv.File == nil {
		return func() {}, nil
	}
	name, err := windows.UTF16PtrFromString(inv.Path)
	if err != nil {
		return nil, fmt.Errorf("hold script: %w", err)
	}
	h, err := windows.CreateFile(name, windows.GENERIC_READ, windows.FILE_SHARE_READ, nil,
		windows.OPEN_EXISTING, windows.FILE_ATTRIBUTE_NORMAL, 0)
	if err != nil {
		return nil, fmt.Errorf("hold script: %w", err)
	}
	release = func() {
		if h != windows.InvalidHandle {
			_ = windows.CloseHandle(h)
			h = windows.InvalidHandle
		}
	}
	held, err1 := handleIdentity(h)
	checked, err2 := handleIdentity(windows.Handle(inv.File.Fd()))
	if err := errors.Join(err1, err2); err != nil {
		release()
		return nil, fmt.Errorf("hold script: %w", err)
	}
	if held != checked {
		release()
		return nil, errors.New("hold script: the name now leads to another file than the one checked")
	}
	return release, nil
}
