//go:build unix && !linux

package executor

import "syscall"

// exitWatch does nothing where there is no pidfd: proc.Wait blocks a thread.
type exitWatch struct{}

func newExitWatch(*syscall.SysProcAttr) *exitWatch { return &exitWatch{} }

func (*exitWatch) await() {}
