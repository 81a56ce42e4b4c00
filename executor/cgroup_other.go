//go:build unix && !linux

package executor

import (
	"syscall"

	"github.com/hashicorp/go-hclog"
)

// cgroups exist only on Linux: elsewhere the process group is the whole tree kill.
type cgroups struct{}

type cgroupRun struct{}

func newCgroups(Limits, hclog.Logger) *cgroups { return nil }

func (*cgroups) start(int) *cgroupRun         { return nil }
func (*cgroupRun) shimProcs() string          { return "-" }
func (*cgroups) needsShim() bool              { return false }
func (*cgroupRun) apply(*syscall.SysProcAttr) {}
func (*cgroupRun) end()                       {}
func (*cgroups) memoryLimited() bool          { return false }
func (*cgroups) pidsLimited() bool            { return false }
func (*cgroups) close()                       {}
func (*cgroups) dropV1PIDs()                  {}
