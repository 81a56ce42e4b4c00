//go:build linux

package executor_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cgihttpd/cgihttpd/executor"
	"github.com/cgihttpd/cgihttpd/internal/testutil"
)

// freeUIDRange finds n consecutive ids that no account in /etc/passwd owns.
func freeUIDRange(t *testing.T, n uint32) executor.UIDRange {
	t.Helper()
	b, err := os.ReadFile("/etc/passwd")
	if err != nil {
		t.Fatal(err)
	}
	owned := map[uint32]bool{}
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.Split(line, ":"); len(f) > 2 {
			if uid, err := strconv.ParseUint(f[2], 10, 32); err == nil {
				owned[uint32(uid)] = true
			}
		}
	}
next:
	for first := uint32(61000); first < 65000; first += n {
		for uid := first; uid < first+n; uid++ {
			if owned[uid] {
				continue next
			}
		}
		return executor.UIDRange{First: first, Last: first + n - 1}
	}
	t.Fatal("no free uid range")
	return executor.UIDRange{}
}

// TestUIDRangeSeparatesScripts runs a script that holds a secret in its environment and,
// while it runs, a second one that tries to read that environment and to signal it: with
// a uid range both fail; without one (both nobody) both work, which is what the range is for.
func TestUIDRangeSeparatesScripts(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root: scripts run as other users only then")
	}
	testutil.CheckLeaks(t)
	dir := testutil.WorldDir(t)
	holder := filepath.Join(dir, "holder.sh")
	probe := filepath.Join(dir, "probe.sh")
	scripts := map[string]string{
		holder: "#!/bin/sh\necho $$ $(id -u)\nexec sleep 30\n",
		probe: "#!/bin/sh\n" +
			"if grep -q cgihttpd-secret /proc/$TARGET/environ 2>/dev/null; then echo read=yes; else echo read=no; fi\n" +
			"if kill -0 $TARGET 2>/dev/null; then echo signal=yes; else echo signal=no; fi\n" +
			"id -u\n",
	}
	for path, body := range scripts {
		if err := os.WriteFile(path, []byte(body), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	r := freeUIDRange(t, 2)
	for _, c := range []struct {
		name      string
		uids      executor.UIDRange
		wantShare bool
	}{{"range", r, false}, {"shared-nobody", executor.UIDRange{}, true}} {
		t.Run(c.name, func(t *testing.T) {
			e, err := executor.NewNative(executor.Config{UIDRange: c.uids, KillGrace: 200 * time.Millisecond, OutputGrace: 200 * time.Millisecond}, nil)
			if err != nil {
				t.Fatal(err)
			}
			testutil.CloseAtEnd(t, e)
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			pr, pw := io.Pipe()
			held := make(chan error, 1)
			go func() {
				held <- e.Run(ctx, &executor.Invocation{Path: holder, Dir: dir, Stdout: pw,
					Env: []string{"PATH=/usr/bin:/bin", "SECRET=cgihttpd-secret"}})
				_ = pw.Close()
			}()
			var holderPID, holderUID int
			if _, err := fmt.Fscan(bufio.NewReader(pr), &holderPID, &holderUID); err != nil {
				t.Fatalf("holder: %v", err)
			}
			go func() { _, _ = io.Copy(io.Discard, pr) }()

			var out strings.Builder
			err = e.Run(context.Background(), &executor.Invocation{Path: probe, Dir: dir, Stdout: &out,
				Env: []string{"PATH=/usr/bin:/bin", "TARGET=" + strconv.Itoa(holderPID)}})
			if err != nil {
				t.Fatalf("probe: %v", err)
			}
			fields := strings.Fields(out.String())
			if len(fields) != 3 {
				t.Fatalf("probe said %q", out.String())
			}
			probeUID, _ := strconv.Atoi(fields[2])
			shared := fields[0] == "read=yes" || fields[1] == "signal=yes"
			if c.wantShare {
				if fields[0] != "read=yes" || fields[1] != "signal=yes" {
					t.Errorf("without a range, as one user: %v; the probe no longer shows what is shared", fields)
				}
			} else {
				if shared {
					t.Errorf("with a uid range, one script reached another: %v", fields)
				}
				for _, uid := range []int{holderUID, probeUID} {
					if uid < int(r.First) || uid > int(r.Last) {
						t.Errorf("script ran as uid %d, outside the range %d-%d", uid, r.First, r.Last)
					}
				}
				if holderUID == probeUID {
					t.Errorf("both scripts ran as uid %d", holderUID)
				}
				// Both ids are taken while the holder runs (the probe's came back): a third
				// concurrent run then needs a free one.
				if err := e.Run(context.Background(), &executor.Invocation{Path: probe, Dir: dir, Stdout: io.Discard,
					Env: []string{"PATH=/usr/bin:/bin", "TARGET=1"}}); err != nil {
					t.Errorf("a run after the probe's id came back: %v", err)
				}
			}
			t.Logf("holder uid %d, probe uid %d: %v", holderUID, probeUID, fields[:2])
			cancel()
			if err := <-held; err == nil {
				t.Error("the holder ended by itself")
			}
		})
	}
}

// TestUIDRangeExhausted: a run that finds every id of the range in use fails to start, and
// ids come back once their runs end.
func TestUIDRangeExhausted(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root")
	}
	testutil.CheckLeaks(t)
	dir := testutil.WorldDir(t)
	script := filepath.Join(dir, "s.sh")
	if err := os.WriteFile(script, []byte("#!/bin/sh\nid -u\nexec sleep 30\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	e, err := executor.NewNative(executor.Config{UIDRange: freeUIDRange(t, 1), KillGrace: 200 * time.Millisecond}, nil)
	if err != nil {
		t.Fatal(err)
	}
	testutil.CloseAtEnd(t, e)
	ctx, cancel := context.WithCancel(context.Background())
	pr, pw := io.Pipe()
	held := make(chan error, 1)
	go func() {
		held <- e.Run(ctx, &executor.Invocation{Path: script, Dir: dir, Stdout: pw, Env: []string{"PATH=/usr/bin:/bin"}})
		_ = pw.Close()
	}()
	if _, err := bufio.NewReader(pr).ReadString('\n'); err != nil {
		t.Fatal(err)
	}
	go func() { _, _ = io.Copy(io.Discard, pr) }()
	err = e.Run(context.Background(), &executor.Invocation{Path: script, Dir: dir, Env: []string{"PATH=/usr/bin:/bin"}})
	if !errors.Is(err, executor.ErrStart) {
		t.Errorf("a second run with the only id taken: %v, want ErrStart", err)
	}
	cancel()
	if err := <-held; err == nil {
		t.Error("the cancelled first run reported success")
	}
	short, stop := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer stop()
	if err := e.Run(short, &executor.Invocation{Path: script, Dir: dir, Env: []string{"PATH=/usr/bin:/bin"}}); errors.Is(err, executor.ErrStart) {
		t.Errorf("after the first run ended its id did not come back: %v", err)
	}
}
