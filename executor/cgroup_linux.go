//go:build linux

package executor

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
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
// process-group kill does not. A memory limit is set there when the memory controller is
// delegated to the group.
//
// Making and removing a group costs more server CPU than anything else in a short run, so a
// group that its run left empty is kept for a later run instead; one that needed killing is
// removed, never reused.
type cgroups struct {
	parent   string // our directory in the cgroup v2 hierarchy; "" when only v1 memory is used
	memory   bool   // memory.max can be set in run groups
	v1Memory string // our directory in a cgroup v1 memory hierarchy, when v2 has no memory
	memLimit uint64
	logger   hclog.Logger

	mu     sync.Mutex
	idle   []*cgroupV2Run // emptied run groups, ready for the next runs
	closed bool           // after close, ended groups are removed
}

// maxIdleGroups bounds the kept groups; more than that were only needed at a peak.
const maxIdleGroups = 64

// cgroupRun is one script run's groups.
type cgroupRun struct {
	v2    *cgroupV2Run // nil when there is no v2 group
	v1Dir string       // the run's v1 memory group, which the shim joins before exec
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

// newCgroups makes our parent group, or returns nil when cgroup v2 cannot be used here (not
// root, not mounted, read-only). memLimit > 0 asks for a memory limit per run.
func newCgroups(memLimit uint64, logger hclog.Logger) *cgroups {
	if os.Geteuid() != 0 {
		return nil
	}
	c := newCgroupsV2(memLimit, logger)
	if memLimit > 0 && !c.memoryLimited() {
		// Hybrid hosts keep memory in a v1 hierarchy. A v1 group cannot be entered at clone
		// time, so the limit shim moves itself in before it execs the script.
		dir := filepath.Join(cgroupV1Memory, "cgihttpd")
		if _, err := os.Stat(filepath.Join(cgroupV1Memory, "memory.limit_in_bytes")); err == nil {
			if err := os.Mkdir(dir, 0o755); err == nil || errors.Is(err, os.ErrExist) {
				if c == nil {
					c = &cgroups{memLimit: memLimit, logger: logger}
				}
				c.v1Memory = dir
			}
		}
	}
	return c
}

// cgroupV1Memory is where a cgroup v1 memory hierarchy is mounted on hybrid hosts.
const cgroupV1Memory = "/sys/fs/cgroup/memory"

func newCgroupsV2(memLimit uint64, logger hclog.Logger) *cgroups {
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
		c := &cgroups{parent: parent, memLimit: memLimit, logger: logger}
		c.removeStale()
		if memLimit > 0 && strings.Contains(" "+string(controllers)+" ", " memory ") {
			// Delegate memory from the root to us, and from us to the run groups.
			_ = os.WriteFile(filepath.Join(root, "cgroup.subtree_control"), []byte("+memory"), 0)
			c.memory = os.WriteFile(filepath.Join(parent, "cgroup.subtree_control"), []byte("+memory"), 0) == nil
		}
		return c
	}
	return nil
}

// start makes the groups for one run, whose script runs as uid (-1: as we do); nil when it
// cannot (the run then goes without).
func (c *cgroups) start(uid int) *cgroupRun {
	if c == nil {
		return nil
	}
	run := &cgroupRun{}
	if c.v1Memory != "" {
		run.v1Dir = c.startV1(c.runName(), uid)
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
		if run.v1Dir != "" {
			killAndRemove(run.v1Dir)
		}
		return nil
	}
	if c.memory {
		limit := []byte(strconv.FormatUint(c.memLimit, 10))
		if err := os.WriteFile(filepath.Join(dir, "memory.max"), limit, 0); err != nil {
			c.logger.Warn("cannot set memory.max", "dir", dir, "error", err)
		}
		_ = os.WriteFile(filepath.Join(dir, "memory.swap.max"), []byte("0"), 0)
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
// The sequence is the process's, not c's: the native executor and the interpreter worker
// each have a cgroups under the same parent.
func (c *cgroups) runName() string {
	return fmt.Sprintf("run-%d-%d", os.Getpid(), runSeq.Add(1))
}

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

// startV1 makes the run's v1 memory group, writable for uid so that the shim, running as
// the script user, can move itself in.
func (c *cgroups) startV1(name string, uid int) string {
	dir := filepath.Join(c.v1Memory, name)
	if err := os.Mkdir(dir, 0o755); err != nil {
		c.logger.Warn("cannot create a memory cgroup", "dir", dir, "error", err)
		return ""
	}
	limit := []byte(strconv.FormatUint(c.memLimit, 10))
	if err := os.WriteFile(filepath.Join(dir, "memory.limit_in_bytes"), limit, 0); err != nil {
		c.logger.Warn("cannot set memory.limit_in_bytes", "dir", dir, "error", err)
		_ = os.Remove(dir)
		return ""
	}
	_ = os.WriteFile(filepath.Join(dir, "memory.memsw.limit_in_bytes"), limit, 0) // no swap either, where accounted
	if uid >= 0 {
		_ = os.Chown(filepath.Join(dir, "cgroup.procs"), uid, -1)
	}
	return dir
}

// shimProcs is the cgroup.procs file the shim writes its pid to, or "-".
func (r *cgroupRun) shimProcs() string {
	if r == nil || r.v1Dir == "" {
		return "-"
	}
	return filepath.Join(r.v1Dir, "cgroup.procs")
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
	if r.v1Dir != "" {
		killAndRemove(r.v1Dir)
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
		if pid, err := strconv.Atoi(f); err == nil {
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

// memoryLimited reports whether run groups get memory.max.
func (c *cgroups) memoryLimited() bool { return c != nil && (c.memory || c.v1Memory != "") }

// needsShim reports whether runs need the shim to join their memory group.
func (c *cgroups) needsShim() bool { return c != nil && c.v1Memory != "" }
