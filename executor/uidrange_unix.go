//go:build unix

package executor

import (
	"errors"
	"syscall"
)

// errNoFreeUID reports a run that found every id of the uid range in use.
var errNoFreeUID = errors.New("every uid of the uid range is in use")

// runCredential is the credential one run starts with: the configured one, or that with a
// uid of the run's own from the range. release gives the uid back; call it once the run's
// processes are gone.
func (e *unixExecutor) runCredential() (cred *syscall.Credential, release func(), err error) {
	if e.uids == nil {
		return e.cred, func() {}, nil
	}
	uid, err := e.uids.take()
	if err != nil {
		return nil, nil, err
	}
	c := *e.cred
	c.Uid = uid
	return &c, func() { e.uids.put(uid) }, nil
}
