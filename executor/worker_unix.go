//go:build unix

package executor

import (
	"fmt"
	"io"
	"io/fs"
	"os"
	"strconv"
	"syscall"

	"github.com/hashicorp/go-hclog"
	"golang.org/x/sys/unix"
)

// newWorkerLauncher returns what starts a worker: this binary (or cfg.WorkerPath) re-run
// with a socket pair as its channel, in a process group of its own and, when the server
// runs as root, as cfg.User with no supplementary groups, exactly as a native script.
//
// On Linux as root each worker also gets a cgroup of its own, as a native script's run does
// (with MemoryBytes and PIDs as its limits where the controllers can be used), into which it
// is born, v1 groups included. release removes what the groups keep.
func newWorkerLauncher(cfg InProcessConfig, logger hclog.Logger) (launch func() (*workerProc, error), release func(), err error) {
	var cred *syscall.Credential
	if os.Geteuid() == 0 {
		c, err := lookupCredential(cfg.User, cfg.AllowRoot)
		if err != nil {
			return nil, nil, err
		}
		cred = c
	}
	exe, err := resolveShim(cfg.WorkerPath)
	if err != nil && cred != nil && cfg.WorkerPath == "" {
		exe, err = execThroughDescriptor()
	}
	if err != nil {
		return nil, nil, fmt.Errorf("interpreter worker: %w", err)
	}
	if cred != nil {
		logger.Debug("in-process scripts run in a worker, unprivileged", "user", cfg.User, "uid", cred.Uid, "gid", cred.Gid)
	}
	// Descriptors are inherited only at the server's start: marking them once is enough.
	closeInheritedOnExec()
	groups := newCgroups(Limits{MemoryBytes: cfg.MemoryBytes, PIDs: cfg.PIDs}, logger)
	if cfg.MemoryBytes > 0 && !groups.memoryLimited() {
		logger.Warn("cannot limit the interpreter worker's memory here: that needs cgroups with the memory controller, as root")
	}
	launch = func() (*workerProc, error) { return startWorker(exe, cfg, cred, groups.start(), logger) }
	return launch, groups.close, nil
}

// channelBufferSize is the channel's socket send buffer, each way (the kernel may cap it).
const channelBufferSize = 1 << 20

// startWorker starts one worker. Its descriptors are the null device (0, 1), a pipe for its
// stderr (2) and its end of the channel (3): nothing else of the server's.
func startWorker(exe string, cfg InProcessConfig, cred *syscall.Credential, group *cgroupRun, logger hclog.Logger) (proc *workerProc, err error) {
	defer func() {
		if err != nil {
			group.end()
		}
	}()
	null, err := devNull()
	if err != nil {
		return nil, err
	}
	syscall.ForkLock.RLock()
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM, 0)
	if err == nil {
		unix.CloseOnExec(fds[0])
		unix.CloseOnExec(fds[1])
	}
	syscall.ForkLock.RUnlock()
	if err != nil {
		return nil, fmt.Errorf("socketpair: %w", err)
	}
	// Room for a stream of output in flight, as a grown pipe has for a native script.
	for _, fd := range fds {
		_ = unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_SNDBUF, channelBufferSize)
	}
	// Our end polls (so closing it ends a blocked read); the worker's end stays blocking,
	// which keeps the worker's runtime from opening an epoll descriptor for it.
	if err := unix.SetNonblock(fds[0], true); err != nil {
		_ = unix.Close(fds[0])
		_ = unix.Close(fds[1])
		return nil, fmt.Errorf("socketpair: %w", err)
	}
	channel := os.NewFile(uintptr(fds[0]), "worker channel")
	theirs := os.NewFile(uintptr(fds[1]), "worker channel (worker's end)")
	defer func() { _ = theirs.Close() }()
	stderrR, stderrW, err := os.Pipe()
	if err != nil {
		_ = channel.Close()
		return nil, fmt.Errorf("stderr pipe: %w", err)
	}
	defer func() { _ = stderrW.Close() }()
	sys := &syscall.SysProcAttr{Setpgid: true, Credential: cred}
	group.apply(sys)
	leave := group.enter(logger) // v1 groups: the worker is born in them
	p, err := os.StartProcess(exe, workerArgs(exe, cfg), &os.ProcAttr{
		Dir: "/",
		// Without it the worker's runtime keeps two cgroup files open for its whole life.
		Env:   []string{"GODEBUG=containermaxprocs=0"},
		Files: []*os.File{null, null, stderrW, theirs},
		Sys:   sys,
	})
	leave()
	if err != nil {
		_ = channel.Close()
		_ = stderrR.Close()
		return nil, fmt.Errorf("start %s: %w", exe, err)
	}
	pid := p.Pid
	return &workerProc{
		pid:     pid,
		channel: channel,
		stderr:  stderrR,
		kill: func() {
			// The group reaches anything the worker started; the worker itself first,
			// while its pid cannot have been reused (it is not reaped before wait).
			_ = p.Kill()
			_ = unix.Kill(-pid, unix.SIGKILL)
		},
		wait: func() string {
			state, err := p.Wait()
			_ = unix.Kill(-pid, unix.SIGKILL)
			group.end() // reaches what left the process group
			return describeEnd(state, err)
		},
	}, nil
}

// closeInheritedOnExec marks close-on-exec every descriptor above 2 that lacks it: those
// the server itself inherited (from a shell, a supervisor) would otherwise pass into the
// worker. Go opens everything of its own close-on-exec.
func closeInheritedOnExec() {
	dir := "/proc/self/fd"
	if _, err := os.Stat(dir); err != nil {
		dir = "/dev/fd"
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return
	}
	for _, e := range entries {
		fd, err := strconv.Atoi(e.Name())
		if err != nil || fd <= 2 {
			continue
		}
		if flags, err := unix.FcntlInt(uintptr(fd), unix.F_GETFD, 0); err == nil && flags&unix.FD_CLOEXEC == 0 {
			_, _ = unix.FcntlInt(uintptr(fd), unix.F_SETFD, flags|unix.FD_CLOEXEC)
		}
	}
}

// fileIdentity names the file f (described by info) across processes: its device and inode.
func fileIdentity(_ *os.File, info fs.FileInfo) string {
	if st, ok := info.Sys().(*syscall.Stat_t); ok {
		return strconv.FormatUint(uint64(st.Dev), 10) + ":" + strconv.FormatUint(st.Ino, 10) //nolint:unconvert // Dev is int32 on some systems
	}
	return ""
}

// workerArgs is the worker's command line: "ALLOW_GOROUTINES MAX_INTERPRETERS". The worker
// is born in its cgroups (the starting thread joins v1 groups first), so it joins none itself.
func workerArgs(exe string, cfg InProcessConfig) []string {
	return []string{exe, workerArg, strconv.FormatBool(cfg.AllowGoroutines), strconv.Itoa(cfg.MaxInterpreters)}
}

// workerChannelFd is the worker's descriptor for its channel to the server; 0 and 1 are the
// null device and 2 is a pipe whose content the server logs when the worker dies.
const workerChannelFd = 3

// workerChannel is, in a worker, its end of the channel. The null device the interpreters
// bind between runs becomes the one on descriptor 0, so that the worker holds no descriptor
// of its own beyond the channel.
func workerChannel() (io.ReadWriteCloser, error) {
	devNull = func() (*os.File, error) { return os.Stdin, nil }
	return os.NewFile(workerChannelFd, "channel"), nil
}
