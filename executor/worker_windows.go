//go:build windows

package executor

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"strconv"
	"syscall"

	"github.com/hashicorp/go-hclog"
	"golang.org/x/sys/windows"
)

// newWorkerLauncher returns what starts a worker on Windows: this binary (or
// cfg.WorkerPath) re-run, suspended until it is in a Job Object of its own with the limits
// that a native script's job gets (memory, and processes from PIDs), then resumed. Windows
// has no account to switch to, as for native scripts: the worker runs as the server's
// account, and what it adds is that a crash, a panic on a script's goroutine or a memory
// blow-up ends the worker and not the server.
//
// The channel is two anonymous pipes on the worker's stdin and stdout, and its stderr a third
// whose content the server logs when the worker dies. The worker is a detached process: a
// console of its own would hold copies of those handles (Wine's does), and the server would
// never see the channel end.
func newWorkerLauncher(cfg InProcessConfig, logger hclog.Logger) (launch func() (*workerProc, error), release func(), err error) {
	exe := cfg.WorkerPath
	if exe == "" {
		if exe, err = os.Executable(); err != nil {
			return nil, nil, fmt.Errorf("interpreter worker: find own binary: %w", err)
		}
	}
	limits := Limits{MemoryBytes: cfg.MemoryBytes, Processes: cfg.PIDs}
	logger.Debug("in-process scripts run in a worker, in a job", "memory", cfg.MemoryBytes, "processes", cfg.PIDs)
	return func() (*workerProc, error) { return startWorker(exe, cfg, limits) }, func() {}, nil
}

func startWorker(exe string, cfg InProcessConfig, limits Limits) (proc *workerProc, err error) {
	var opened []*os.File
	closeAll := func() {
		for _, f := range opened {
			_ = f.Close()
		}
	}
	pipe := func() (r, w *os.File, err error) {
		if r, w, err = os.Pipe(); err == nil {
			opened = append(opened, r, w)
		}
		return r, w, err
	}
	inR, inW, err1 := pipe()   // server -> worker
	outR, outW, err2 := pipe() // worker -> server
	errR, errW, err3 := pipe() // the worker's stderr
	if err := errors.Join(err1, err2, err3); err != nil {
		closeAll()
		return nil, fmt.Errorf("pipes: %w", err)
	}
	job, err := newJob(limits)
	if err != nil {
		closeAll()
		return nil, err
	}
	p, err := os.StartProcess(exe, []string{exe, workerArg, strconv.FormatBool(cfg.AllowGoroutines), strconv.Itoa(cfg.MaxInterpreters)}, &os.ProcAttr{
		Files: []*os.File{inR, outW, errW},
		Sys: &syscall.SysProcAttr{
			CreationFlags: windows.CREATE_SUSPENDED | windows.CREATE_NEW_PROCESS_GROUP | windows.DETACHED_PROCESS,
		},
	})
	// The worker's ends are its own now (or nobody's).
	_ = inR.Close()
	_ = outW.Close()
	_ = errW.Close()
	if err == nil {
		if err = joinAndResume(p, job); err != nil {
			_ = p.Kill()
			_, _ = p.Wait()
		}
	}
	if err != nil {
		_ = windows.CloseHandle(job)
		_ = inW.Close()
		_ = outR.Close()
		_ = errR.Close()
		return nil, fmt.Errorf("start %s: %w", exe, err)
	}
	return &workerProc{
		pid:     p.Pid,
		channel: &pipePair{r: outR, w: inW},
		stderr:  errR,
		kill:    func() { _ = windows.TerminateJobObject(job, 1) },
		wait: func() string {
			state, err := p.Wait()
			// Whatever the worker started dies with the job's last handle.
			_ = windows.CloseHandle(job)
			return describeEnd(state, err)
		},
	}, nil
}

// pipePair is the server's end of the channel: it reads one pipe and writes the other.
type pipePair struct {
	r, w *os.File
}

func (p *pipePair) Read(b []byte) (int, error)  { return p.r.Read(b) }
func (p *pipePair) Write(b []byte) (int, error) { return p.w.Write(b) }

func (p *pipePair) Close() error {
	return errors.Join(p.w.Close(), p.r.Close())
}

// workerChannel is, in a worker, its end of the channel: stdin and stdout.
func workerChannel() (io.ReadWriteCloser, error) {
	return &pipePair{r: os.Stdin, w: os.Stdout}, nil
}

// fileIdentity names f across processes: its volume and file index.
func fileIdentity(f *os.File, _ fs.FileInfo) string {
	if f == nil {
		return ""
	}
	id, err := handleIdentity(windows.Handle(f.Fd()))
	if err != nil {
		return ""
	}
	return id
}
