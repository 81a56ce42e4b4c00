//go:build !unix && !windows

package executor

import "github.com/hashicorp/go-hclog"

// newNative has no process executor to offer here yet: the server then runs only what an
// in-process executor can run.
func newNative(Config, hclog.Logger) (Executor, error) {
	return nil, ErrNoNative
}
