//go:build !unix

package executor

import (
	"fmt"
	"os"
)

// childPipe is os.Pipe with the ends named: parent and child.
func childPipe(childReads bool) (parent, child *os.File, err error) {
	r, w, err := os.Pipe()
	if err != nil {
		return nil, nil, fmt.Errorf("pipe: %w", err)
	}
	if childReads {
		return w, r, nil
	}
	return r, w, nil
}
