//go:build unix

package executor

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"

	"golang.org/x/sys/unix"
)

// shimArgs is the command line that runs path under limits through the shim.
func shimArgs(shim string, l Limits, path string, args []string) []string {
	argv := []string{shim, shimArg,
		strconv.FormatUint(l.CPUSeconds, 10), strconv.FormatUint(l.OpenFiles, 10),
		strconv.FormatUint(l.Processes, 10), strconv.FormatUint(l.FileSize, 10), path}
	return append(argv, args...)
}

// runShim is the shim's whole life: "CPU NOFILE NPROC FSIZE PATH [ARGS...]".
func runShim(args []string) int {
	if len(args) < 5 {
		fmt.Fprintln(os.Stderr, "cgihttpd limit shim: want CPU NOFILE NPROC FSIZE PATH [ARGS...]")
		return 127
	}
	resources := []int{unix.RLIMIT_CPU, unix.RLIMIT_NOFILE, unix.RLIMIT_NPROC, unix.RLIMIT_FSIZE}
	for i, res := range resources {
		n, err := strconv.ParseUint(args[i], 10, 64)
		if err != nil {
			fmt.Fprintf(os.Stderr, "cgihttpd limit shim: limit %q: %v\n", args[i], err)
			return 127
		}
		if n == 0 {
			continue
		}
		lim := unix.Rlimit{Cur: n, Max: n}
		if res == unix.RLIMIT_CPU {
			lim.Max = n + 1 // SIGXCPU first, which a script may catch; SIGKILL a second later
		}
		if err := unix.Setrlimit(res, &lim); err != nil {
			fmt.Fprintf(os.Stderr, "cgihttpd limit shim: setrlimit: %v\n", err)
			return 127
		}
	}
	path := args[4]
	argv := append([]string{path}, args[5:]...)
	err := unix.Exec(path, argv, os.Environ())
	fmt.Fprintf(os.Stderr, "cgihttpd limit shim: exec %s: %v\n", path, err)
	return 127
}

// resolveShim finds the shim binary and checks that others may run it, since scripts run as
// another user: every directory above it must be enterable and the file executable.
func resolveShim(configured string) (string, error) {
	shim := configured
	if shim == "" {
		exe, err := os.Executable()
		if err != nil {
			return "", fmt.Errorf("find own binary for the limit shim: %w", err)
		}
		shim = exe
	}
	shim, err := filepath.EvalSymlinks(shim)
	if err != nil {
		return "", fmt.Errorf("limit shim: %w", err)
	}
	if os.Geteuid() != 0 {
		return shim, nil // scripts run as us
	}
	info, err := os.Stat(shim)
	if err != nil {
		return "", fmt.Errorf("limit shim: %w", err)
	}
	if info.Mode().Perm()&0o001 == 0 {
		return "", fmt.Errorf("limit shim %s is not executable by others; install cgihttpd where the script user can run it", shim)
	}
	for dir := filepath.Dir(shim); ; dir = filepath.Dir(dir) {
		if st, err := os.Stat(dir); err == nil && st.Mode().Perm()&0o001 == 0 {
			return "", fmt.Errorf("limit shim %s is in %s, which others cannot enter; install cgihttpd where the script user can run it", shim, dir)
		}
		if filepath.Dir(dir) == dir {
			return shim, nil
		}
	}
}

// needsShim reports whether l sets an rlimit, which the shim applies.
func (l Limits) needsShim() bool {
	return l.CPUSeconds != 0 || l.OpenFiles != 0 || l.Processes != 0 || l.FileSize != 0
}
