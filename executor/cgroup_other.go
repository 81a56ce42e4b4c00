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

func (*cgroups) start() *cgroupRun            { return nil }
func (*cgroupRun) apply(*syscall.SysProcAttr) {}
func (*cgroupRun) enter(hclog.Logger) func()  { return func() {} }
func (*cgroupRun) end()                       {}
func (*cgroups) memoryLimited() bool          { return false }
func (*cgroups) pidsLimited() bool            { return false }
func (*cgroups) close()                       {}
