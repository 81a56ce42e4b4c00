//go:build linux

package executor

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
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
type cgroups struct {
	parent   string // our directory in the cgroup v2 hierarchy
	memory   bool   // memory.max can be set in run groups
	memLimit uint64
	next     atomic.Uint64
	logger   hclog.Logger
}

// cgroupRun is one script run's group.
type cgroupRun struct {
	dir string
	fd  int
}

// cgroupV2Roots are where a cgroup v2 hierarchy is mounted: pure v2, then the hybrid layout.
var cgroupV2Roots = []string{"/sys/fs/cgroup", "/sys/fs/cgroup/unified"}

// newCgroups makes our parent group, or returns nil when cgroup v2 cannot be used here (not
// root, not mounted, read-only). memLimit > 0 asks for a memory limit per run.
func newCgroups(memLimit uint64, logger hclog.Logger) *cgroups {
	if os.Geteuid() != 0 {
		return nil
	}
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
		if memLimit > 0 && strings.Contains(" "+string(controllers)+" ", " memory ") {
			// Delegate memory from the root to us, and from us to the run groups.
			_ = os.WriteFile(filepath.Join(root, "cgroup.subtree_control"), []byte("+memory"), 0)
			c.memory = os.WriteFile(filepath.Join(parent, "cgroup.subtree_control"), []byte("+memory"), 0) == nil
		}
		return c
	}
	return nil
}

// start makes the group for one run; nil when it cannot (the run then goes without).
func (c *cgroups) start() *cgroupRun {
	if c == nil {
		return nil
	}
	dir := filepath.Join(c.parent, fmt.Sprintf("run-%d-%d", os.Getpid(), c.next.Add(1)))
	if err := os.Mkdir(dir, 0o755); err != nil {
		c.logger.Debug("cannot create a run cgroup", "dir", dir, "error", err)
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
		return nil
	}
	return &cgroupRun{dir: dir, fd: fd}
}

// apply makes the process start inside the run's group.
func (r *cgroupRun) apply(sys *syscall.SysProcAttr) {
	if r != nil {
		sys.UseCgroupFD = true
		sys.CgroupFD = r.fd
	}
}

// end kills whatever is left in the group and removes it.
func (r *cgroupRun) end() {
	if r == nil {
		return
	}
	_ = unix.Close(r.fd)
	if err := os.WriteFile(filepath.Join(r.dir, "cgroup.kill"), []byte("1"), 0); err != nil {
		// Before Linux 5.14 there is no cgroup.kill: kill the members one by one.
		procs, _ := os.ReadFile(filepath.Join(r.dir, "cgroup.procs"))
		for _, f := range strings.Fields(string(procs)) {
			if pid, err := strconv.Atoi(f); err == nil {
				_ = unix.Kill(pid, unix.SIGKILL)
			}
		}
	}
	// The killed processes take a moment to leave; the group can go only when empty.
	for i := 0; i < 100; i++ {
		if err := os.Remove(r.dir); err == nil || errors.Is(err, os.ErrNotExist) {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// memoryLimited reports whether run groups get memory.max.
func (c *cgroups) memoryLimited() bool { return c != nil && c.memory }
