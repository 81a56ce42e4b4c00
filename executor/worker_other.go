//go:build !unix

package executor

import (
	"errors"
	"io/fs"

	"github.com/hashicorp/go-hclog"
)

// newWorkerLauncher: there are no interpreter workers here yet, so in-process scripts run
// inside the server (see NewInProcess).
func newWorkerLauncher(InProcessConfig, hclog.Logger) (launch func() (*workerProc, error), release func(), err error) {
	return nil, nil, errors.ErrUnsupported
}

// fileIdentity is "" where scripts never leave the server's process: nothing to compare.
func fileIdentity(fs.FileInfo) string { return "" }
