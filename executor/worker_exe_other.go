//go:build unix && !linux

package executor

import "errors"

// execThroughDescriptor needs /proc/self/fd: elsewhere the binary must be where the script
// user can run it (see InProcessConfig.WorkerPath).
func execThroughDescriptor() (string, error) {
	return "", errors.New("install cgihttpd where the script user can run it, or set the worker path")
}
