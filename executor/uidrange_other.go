//go:build unix && !linux

package executor

import (
	"errors"

	"github.com/hashicorp/go-hclog"
)

// uidPool exists only on Linux, where a range's ids can be checked for leftover processes.
type uidPool struct{}

func newUIDPoolFromSystem(UIDRange, hclog.Logger) (*uidPool, error) {
	return nil, errors.New("a uid range needs Linux")
}

func (*uidPool) take() (uint32, error) { return 0, errNoFreeUID }
func (*uidPool) put(uint32)            {}
