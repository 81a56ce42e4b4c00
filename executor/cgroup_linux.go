//go:build linux

package executor

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/hashicorp/go-hclog"
	"golang.org/x/sys/unix"
)

// cgroups puts every script run into a cgroup v2 group of its own, created with the process
// (CLONE_INTO_CGROUP, so nothing escapes before it is in), and ends the run by writing
// cgroup.kill: that reaches children that left the process group with setsid, which a
// process-group kill does not. A memory limit (memory.max) and a process limit (pids.max) are
// set there when those controllers can be delegated to the group.
//
// Hybrid hosts keep memory and pids in cgroup v1 hierarchies, which cannot be entered at
// clone time: there each run also gets a v1 group per such controller, and the thread that
// starts the script joins them first (v1 groups hold threads, and a child is born in its
// parent thread's groups), so nothing the script starts is ever outside.
//
// Making and removing a v2 group costs more server CPU than anything else in a short run, so
// a v2 group that its run left empty is kept for a later run instead; one that needed killing
// is removed, never reused. v1 groups are made and removed for each run.
type cgroups struct {
	parent string // our directory in the cgroup v2 hierarchy; "" when only v1 groups are used
	memory bool   // memory.max can be set in run groups
	pids   bool   // pids.max can be set in run groups
	v1     []cgroupV1
	limits Limits
	logger hclog.Logger

	mu     sync.Mutex
	idle   []*cgroupV2Run // emptied run groups, ready for the next runs
	closed bool           // after close, ended groups are removed
}

// maxIdleGroups bounds the kept groups; more than that were only needed at a peak.
const maxIdleGroups = 64

// cgroupV1 is our directory in one cgroup v1 hierarchy, used for a controller that v2 lacks
// here, and the files set in each run group made below it.
type cgroupV1 struct {
	parent string
	origin string      // the group of ours that a thread which started a run goes back to
	limits [][2]string // file name, value
}

// cgroupRun is one script run's groups.
type cgroupRun struct {
	v2     *cgroupV2Run // nil when there is no v2 group
	v1Dirs []string     // the run's v1 groups, which enter joins
	origin []string     // for each of v1Dirs, the group the starting thread goes back to
}

// cgroupV2Run is a run group in the v2 hierarchy, with the descriptors a run needs: the
// directory to clone into and cgroup.events to see whether the run left it empty.
type cgroupV2Run struct {
	owner  *cgroups
	dir    string
	fd     int
	events int
}

// cgroupV2Roots are where a cgroup v2 hierarchy is mounted: pure v2, then the hybrid layout.
var cgroupV2Roots = []string{"/sys/fs/cgroup", "/sys/fs/cgroup/unified"}

// newCgroups makes our parent groups, or returns nil when cgroups cannot be used here (not
// root, not mounted, read-only). limits.MemoryBytes and limits.PIDs, when not 0, are set in
// every run's groups.
func newCgroups(limits Limits, logger hclog.Logger) *cgroups {
	if os.Geteuid() != 0 {
		return nil
	}
	c := newCgroupsV2(limits, logger)
	if limits.MemoryBytes > 0 && !c.memoryLimited() {
		mem := strconv.FormatUint(limits.MemoryBytes, 10)
		c = c.addV1(cgroupV1Memory, "memory", "memory.limit_in_bytes", limits, logger,
			[2]string{"memory.limit_in_bytes", mem},
			[2]string{"memory.memsw.limit_in_bytes", mem}) // no swap either, where accounted
	}
	if limits.PIDs > 0 && !c.pidsLimited() {
		c = c.addV1(cgroupV1PIDs, "pids", "pids.max", limits, logger,
			[2]string{"pids.max", strconv.FormatUint(limits.PIDs, 10)})
	}
	return c
}

// Where cgroup v1 hierarchies are mounted on hybrid hosts.
const (
	cgroupV1Memory = "/sys/fs/cgroup/memory"
	cgroupV1PIDs   = "/sys/fs/cgroup/pids"
)

// addV1 adds our directory in the v1 hierarchy at root when a group there has the file probe
// (a root group may lack it), making c if it is nil. The first of settings must be settable
// in each run group; the others are tried.
func (c *cgroups) addV1(root, controller, probe string, limits Limits, logger hclog.Logger, settings ...[2]string) *cgroups {
	if _, err := os.Stat(filepath.Join(root, "cgroup.procs")); err != nil {
		return c
	}
	origin, ok := ownV1Group(controller)
	if !ok {
		return c
	}
	dir := filepath.Join(root, "cgihttpd")
	if err := os.Mkdir(dir, 0o755); err != nil && !errors.Is(err, os.ErrExist) {
		logger.Debug("cannot create a cgroup", "dir", dir, "error", err)
		return c
	}
	if _, err := os.Stat(filepath.Join(dir, probe)); err != nil {
		logger.Debug("no such cgroup controller here", "dir", dir, "file", probe)
		return c
	}
	if c == nil {
		c = &cgroups{limits: limits, logger: logger}
	}
	c.v1 = append(c.v1, cgroupV1{parent: dir, origin: filepath.Join(root, origin), limits: settings})
	return c
}

// ownV1Group is our group in the v1 hierarchy of controller, from /proc/self/cgroup.
func ownV1Group(controller string) (string, bool) {
	b, err := os.ReadFile("/proc/self/cgroup")
	if err != nil {
		return "", false
	}
	for _, line := range strings.Split(string(b), "\n") {
		fields := strings.SplitN(line, ":", 3)
		if len(fields) == 3 && slices.Contains(strings.Split(fields[1], ","), controller) {
			return fields[2], true
		}
	}
	return "", false
}

func newCgroupsV2(limits Limits, logger hclog.Logger) *cgroups {
	for _, root := range cgroupV2Roots {
		controllers, err := os.ReadFile(filepath.Join(root, "cgroup.controllers"))
		if err != nil {
			continue
		}
		parent := filepath.Join(root, "cgihttpd")
		if err := os.Mkdir(parent, 0o755); err != nil && !errors.Is(err, os.ErrExist) {
			logger.Debug("cannot create a cgroup", "dir", parent, "error", err)
			return nil
		}
		c := &cgroups{parent: parent, limits: limits, logger: logger}
		c.removeStale()
		// Delegate a controller from the root to us, and from us to the run groups.
		delegate := func(controller string) bool {
			if !strings.Contains(" "+strings.TrimSpace(string(controllers))+" ", " "+controller+" ") {
				return false
			}
			_ = os.WriteFile(filepath.Join(root, "cgroup.subtree_control"), []byte("+"+controller), 0)
			return os.WriteFile(filepath.Join(parent, "cgroup.subtree_control"), []byte("+"+controller), 0) == nil
		}
		c.memory = limits.MemoryBytes > 0 && delegate("memory")
		c.pids = limits.PIDs > 0 && delegate("pids")
		return c
	}
	return nil
}

// start makes the groups for one run; nil when it cannot (the run then goes without).
func (c *cgroups) start() *cgroupRun {
	if c == nil {
		return nil
	}
	run := &cgroupRun{}
	if len(c.v1) > 0 {
		name := c.runName()
		for _, v1 := range c.v1 {
			if dir := v1.start(name, c.logger); dir != "" {
				run.v1Dirs = append(run.v1Dirs, dir)
				run.origin = append(run.origin, v1.origin)
			}
		}
	}
	if c.parent == "" {
		return run
	}
	if run.v2 = c.takeIdle(); run.v2 != nil {
		return run
	}
	dir := filepath.Join(c.parent, c.runName())
	if err := os.Mkdir(dir, 0o755); err != nil {
		c.logger.Debug("cannot create a run cgroup", "dir", dir, "error", err)
		for _, d := range run.v1Dirs {
			killAndRemove(d)
		}
		return nil
	}
	if c.memory {
		limit := []byte(strconv.FormatUint(c.limits.MemoryBytes, 10))
		if err := os.WriteFile(filepath.Join(dir, "memory.max"), limit, 0); err != nil {
			c.logger.Warn("cannot set memory.max", "dir", dir, "error", err)
		}
		_ = os.WriteFile(filepath.Join(dir, "memory.swap.max"), []byte("0"), 0)
	}
	if c.pids {
		limit := []byte(strconv.FormatUint(c.limits.PIDs, 10))
		if err := os.WriteFile(filepath.Join(dir, "pids.max"), limit, 0); err != nil {
			c.logger.Warn("cannot set pids.max", "dir", dir, "error", err)
		}
	}
	fd, err := unix.Open(dir, unix.O_DIRECTORY|unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		_ = os.Remove(dir)
		return run
	}
	events, err := unix.Open(filepath.Join(dir, "cgroup.events"), unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		events = -1 // the group is then never reused
	}
	run.v2 = &cgroupV2Run{owner: c, dir: dir, fd: fd, events: events}
	return run
}

// runName names a new run group; the pid lets a later server remove what a dead one left.
func (c *cgroups) runName() string {
	return fmt.Sprintf("run-%d-%d", os.Getpid(), runSeq.Add(1))
}

// runSeq numbers run groups for the whole process, not per cgroups: the native executor and
// the interpreter worker each have a cgroups under the same parent.
var runSeq atomic.Uint64

func (c *cgroups) takeIdle() *cgroupV2Run {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := len(c.idle)
	if n == 0 {
		return nil
	}
	g := c.idle[n-1]
	c.idle = c.idle[:n-1]
	return g
}

// putIdle keeps g for a later run, or removes it when enough are kept or c is closed.
func (c *cgroups) putIdle(g *cgroupV2Run) {
	c.mu.Lock()
	keep := !c.closed && len(c.idle) < maxIdleGroups
	if keep {
		c.idle = append(c.idle, g)
	}
	c.mu.Unlock()
	if !keep {
		g.remove()
	}
}

// close removes the kept groups; groups of runs still going are removed when they end.
func (c *cgroups) close() {
	if c == nil {
		return
	}
	c.mu.Lock()
	idle := c.idle
	c.idle, c.closed = nil, true
	c.mu.Unlock()
	for _, g := range idle {
		g.remove()
	}
}

// removeStale removes the empty run groups that servers no longer running left behind (a
// crash, or a kill -9, skips close). Groups of live servers, and populated ones, stay.
func (c *cgroups) removeStale() {
	entries, err := os.ReadDir(c.parent)
	if err != nil {
		return
	}
	for _, e := range entries {
		var pid, n int
		if _, err := fmt.Sscanf(e.Name(), "run-%d-%d", &pid, &n); err != nil || !e.IsDir() {
			continue
		}
		if pid != os.Getpid() && unix.Kill(pid, 0) == unix.ESRCH {
			_ = os.Remove(filepath.Join(c.parent, e.Name())) // fails, harmlessly, while populated
		}
	}
}

// start makes a run's v1 group; "" when it cannot (the run goes without).
func (v1 cgroupV1) start(name string, logger hclog.Logger) string {
	dir := filepath.Join(v1.parent, name)
	if err := os.Mkdir(dir, 0o755); err != nil {
		logger.Warn("cannot create a cgroup", "dir", dir, "error", err)
		return ""
	}
	for i, kv := range v1.limits {
		err := os.WriteFile(filepath.Join(dir, kv[0]), []byte(kv[1]), 0)
		if err != nil && i == 0 {
			logger.Warn("cannot set a cgroup limit", "dir", dir, "file", kv[0], "error", err)
			_ = os.Remove(dir)
			return ""
		}
	}
	return dir
}

// enter moves the calling thread into the run's v1 groups, so that the process it starts
// is born there, and locks the goroutine to it; leave moves it back and unlocks. The Go
// runtime starts new threads from a template thread while a thread is locked, never from
// the locked one, so no thread of the server's is born in a run's group. A thread that
// cannot go back stays locked, and the runtime ends it with its goroutine.
func (r *cgroupRun) enter(logger hclog.Logger) (leave func()) {
	if r == nil || len(r.v1Dirs) == 0 {
		return func() {}
	}
	runtime.LockOSThread()
	tid := []byte(strconv.Itoa(unix.Gettid()))
	joined := 0
	for _, d := range r.v1Dirs {
		if err := os.WriteFile(filepath.Join(d, "tasks"), tid, 0); err != nil {
			logger.Warn("cannot join a run cgroup; the script runs outside it", "dir", d, "error", err)
			break
		}
		joined++
	}
	return func() {
		back := true
		for _, o := range r.origin[:joined] {
			if err := os.WriteFile(filepath.Join(o, "tasks"), tid, 0); err != nil {
				logger.Error("cannot leave a run cgroup; the thread is retired", "dir", o, "error", err)
				back = false
			}
		}
		if back {
			runtime.UnlockOSThread()
		}
	}
}

// apply makes the process start inside the run's group.
func (r *cgroupRun) apply(sys *syscall.SysProcAttr) {
	if r != nil && r.v2 != nil {
		sys.UseCgroupFD = true
		sys.CgroupFD = r.v2.fd
	}
}

// end kills whatever is left in the run's groups. A v2 group left empty is kept for reuse;
// the others are removed.
func (r *cgroupRun) end() {
	if r == nil {
		return
	}
	if g := r.v2; g != nil {
		if g.populated() {
			if err := os.WriteFile(filepath.Join(g.dir, "cgroup.kill"), []byte("1"), 0); err != nil {
				killMembers(g.dir) // before Linux 5.14 there is no cgroup.kill
			}
			g.remove()
		} else {
			g.owner.putIdle(g)
		}
	}
	for _, d := range r.v1Dirs {
		killAndRemove(d)
	}
}

// populated reports whether any process is in the group; true when that cannot be read.
func (g *cgroupV2Run) populated() bool {
	if g.events < 0 {
		return true
	}
	var buf [128]byte
	n, err := unix.Pread(g.events, buf[:], 0)
	if err != nil {
		return true
	}
	return !bytes.Contains(buf[:n], []byte("populated 0"))
}

// remove closes the group's descriptors and removes it once its killed processes have left.
func (g *cgroupV2Run) remove() {
	_ = unix.Close(g.fd)
	if g.events >= 0 {
		_ = unix.Close(g.events)
	}
	removeGroup(g.dir)
}

func killAndRemove(dir string) {
	killMembers(dir)
	removeGroup(dir)
}

func killMembers(dir string) {
	procs, _ := os.ReadFile(filepath.Join(dir, "cgroup.procs"))
	for _, f := range strings.Fields(string(procs)) {
		// Never us: a v1 group lists the process of a thread that is in it.
		if pid, err := strconv.Atoi(f); err == nil && pid != os.Getpid() {
			_ = unix.Kill(pid, unix.SIGKILL)
		}
	}
}

// removeGroup removes an emptied group: killed processes take a moment to leave it.
func removeGroup(dir string) {
	for i := 0; i < 100; i++ {
		if err := os.Remove(dir); err == nil || errors.Is(err, os.ErrNotExist) {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// memoryLimited reports whether run groups get a memory limit.
func (c *cgroups) memoryLimited() bool {
	return c != nil && (c.memory || c.v1Has("memory.limit_in_bytes"))
}

// pidsLimited reports whether run groups get a process limit.
func (c *cgroups) pidsLimited() bool { return c != nil && (c.pids || c.v1Has("pids.max")) }

func (c *cgroups) v1Has(file string) bool {
	for _, v1 := range c.v1 {
		if v1.limits[0][0] == file {
			return true
		}
	}
	return false
}
