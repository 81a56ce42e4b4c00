//go:build !unix && !windows

package executor

import (
	"errors"
	"io"
	"io/fs"
	"os"

	"github.com/hashicorp/go-hclog"
)

// newWorkerLauncher: there are no interpreter workers here yet, so in-process scripts run
// inside the server (see NewInProcess).
func newWorkerLauncher(InProcessConfig, hclog.Logger) (launch func() (*workerProc, error), release func(), err error) {
	return nil, nil, errors.ErrUnsupported
}

// fileIdentity is "" where scripts never leave the server's process: nothing to compare.
func fileIdentity(*os.File, fs.FileInfo) string { return "" }

// workerChannel: there are no workers here.
func workerChannel() (io.ReadWriteCloser, error) { return nil, errors.ErrUnsupported }
