//go:build unix

package executor

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cgihttpd/cgihttpd/internal/testutil"
)

// TestResolveUser: --user takes an account name, or numbers that need no account database
// (a scratch container has none); root, by uid or by group, needs AllowRoot.
func TestResolveUser(t *testing.T) {
	nobody, err := user.Lookup("nobody")
	if err != nil {
		t.Skipf("no nobody account: %v", err)
	}
	nobodyUID, _ := strconv.ParseUint(nobody.Uid, 10, 32)
	nobodyGID, _ := strconv.ParseUint(nobody.Gid, 10, 32)
	free := uint32(3999999) // an id that no account here has
	if _, err := user.LookupId(strconv.Itoa(int(free))); err == nil {
		t.Skipf("uid %d has an account here", free)
	}
	for _, tc := range []struct {
		user      string
		allowRoot bool
		uid, gid  uint32
		bad       bool
	}{
		{user: "nobody", uid: uint32(nobodyUID), gid: uint32(nobodyGID)},
		{user: nobody.Uid, uid: uint32(nobodyUID), gid: uint32(nobodyGID)}, // the account's group
		{user: "65534:100", uid: 65534, gid: 100},
		{user: strconv.Itoa(int(free)), uid: free, gid: free}, // no account: its own number
		{user: "1000:1000", uid: 1000, gid: 1000},
		{user: "0", bad: true},
		{user: "0:0", bad: true},
		{user: "1000:0", bad: true}, // root's group is root too
		{user: "0:0", allowRoot: true, uid: 0, gid: 0},
		{user: "1000:wheel", bad: true},
		{user: "1000:", bad: true},
		{user: "-1", bad: true},
		{user: "4294967296", bad: true},
		{user: "no-such-account-here", bad: true},
	} {
		cred, err := lookupCredential(tc.user, tc.allowRoot)
		switch {
		case tc.bad && err == nil:
			t.Errorf("--user %q: %d:%d, want refused", tc.user, cred.Uid, cred.Gid)
		case tc.bad && !errors.Is(err, ErrBadUser):
			t.Errorf("--user %q: %v, want ErrBadUser", tc.user, err)
		case !tc.bad && err != nil:
			t.Errorf("--user %q: %v", tc.user, err)
		case !tc.bad && (cred.Uid != tc.uid || cred.Gid != tc.gid || len(cred.Groups) != 0):
			t.Errorf("--user %q: %d:%d groups %v, want %d:%d and none", tc.user, cred.Uid, cred.Gid, cred.Groups, tc.uid, tc.gid)
		}
	}
}

// TestNumericUserRuns: as root, a script runs as a numeric --user that no account owns, with
// that group and no others.
func TestNumericUserRuns(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root: only then do scripts change user")
	}
	testutil.CheckLeaks(t)
	dir := testutil.WorldDir(t)
	script := filepath.Join(dir, "ids.sh")
	if err := os.WriteFile(script, []byte("#!/bin/sh\necho \"$(id -u):$(id -g):$(id -G)\"\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	e, err := NewNative(Config{User: "3999998:3999997", KillGrace: 300 * time.Millisecond, OutputGrace: 300 * time.Millisecond}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = e.(interface{ Close() error }).Close() }()
	var out bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := e.Run(ctx, &Invocation{Path: script, Dir: dir, Stdout: &out, Env: []string{"PATH=/usr/bin:/bin"}}); err != nil {
		t.Fatal(err)
	}
	if got := strings.TrimSpace(out.String()); got != "3999998:3999997:3999997" {
		t.Errorf("the script ran as %q, want 3999998:3999997:3999997", got)
	}
}
