//go:build linux

package executor

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"sync"

	"github.com/hashicorp/go-hclog"
	"golang.org/x/sys/unix"
)

// maxUIDRange bounds the ids a range may hold: more would only cost memory.
const maxUIDRange = 1 << 16

// uidPool hands out the ids of a uid range, one to each running script.
type uidPool struct {
	logger hclog.Logger

	mu    sync.Mutex
	free  []uint32
	dirty []uint32 // given back while processes of the id were still left: checked before reuse
}

// newUIDPool checks r against the accounts in passwd (the password database's text) and
// returns a pool of its ids.
func newUIDPool(r UIDRange, passwd io.Reader, logger hclog.Logger) (*uidPool, error) {
	if r.First == 0 || r.Last < r.First || r.Last-r.First >= maxUIDRange {
		return nil, fmt.Errorf("uid range %d-%d: want 0 < FIRST <= LAST, at most %d ids", r.First, r.Last, maxUIDRange)
	}
	sc := bufio.NewScanner(passwd)
	for sc.Scan() {
		fields := strings.Split(sc.Text(), ":")
		if len(fields) < 3 || strings.HasPrefix(fields[0], "#") {
			continue
		}
		uid, err := strconv.ParseUint(fields[2], 10, 32)
		if err == nil && uint32(uid) >= r.First && uint32(uid) <= r.Last {
			return nil, fmt.Errorf("uid range %d-%d: account %q has uid %d; choose ids no account owns", r.First, r.Last, fields[0], uid)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read the password database: %w", err)
	}
	p := &uidPool{logger: logger}
	for uid := r.Last; ; uid-- { // take pops from the end: the range is used from First up
		p.free = append(p.free, uid)
		if uid == r.First {
			break
		}
	}
	return p, nil
}

// newUIDPoolFromSystem is newUIDPool on /etc/passwd.
func newUIDPoolFromSystem(r UIDRange, logger hclog.Logger) (*uidPool, error) {
	f, err := os.Open("/etc/passwd")
	if err != nil {
		return nil, fmt.Errorf("uid range: %w", err)
	}
	defer func() { _ = f.Close() }()
	return newUIDPool(r, f, logger)
}

// take returns an id that no process has.
func (p *uidPool) take() (uint32, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.free) == 0 {
		// Ids whose processes were still around when given back: reuse those now gone.
		dirty := p.dirty[:0]
		for _, uid := range p.dirty {
			if len(uidProcesses(uid)) == 0 {
				p.free = append(p.free, uid)
			} else {
				dirty = append(dirty, uid)
			}
		}
		p.dirty = dirty
	}
	n := len(p.free)
	if n == 0 {
		return 0, errNoFreeUID
	}
	uid := p.free[n-1]
	p.free = p.free[:n-1]
	return uid, nil
}

// put gives uid back after its run. The run's tree has been killed by then, but a process
// that left it (setsid where there is no cgroup) may still run as uid and would share it with
// the next run: such processes are killed, and the id waits until they are gone.
func (p *uidPool) put(uid uint32) {
	left := uidProcesses(uid)
	for _, pid := range left {
		_ = unix.Kill(pid, unix.SIGKILL)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(left) > 0 {
		p.logger.Warn("processes of a finished script were still running; killed", "uid", uid, "pids", left)
		p.dirty = append(p.dirty, uid)
		return
	}
	p.free = append(p.free, uid)
}

// uidProcesses lists the live processes with uid as any of their user ids. It reads each
// process's status, not the owner of its /proc directory, which a process that made itself
// non-dumpable hands to root. Zombies do not count: they run nothing, and one whose parent
// is a PID 1 that never reaps would otherwise hold its id for good.
func uidProcesses(uid uint32) []int {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return nil
	}
	want := []byte(strconv.FormatUint(uint64(uid), 10))
	var pids []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile("/proc/" + e.Name() + "/status")
		if err != nil {
			continue
		}
		if bytes.Contains(b, []byte("\nState:\tZ")) || bytes.Contains(b, []byte("\nState:\tX")) {
			continue
		}
		_, rest, ok := bytes.Cut(b, []byte("\nUid:"))
		if !ok {
			continue
		}
		line, _, _ := bytes.Cut(rest, []byte("\n"))
		for _, f := range bytes.Fields(line) {
			if bytes.Equal(f, want) {
				pids = append(pids, pid)
				break
			}
		}
	}
	return pids
}
