//go:build unix && !linux

package executor

// awaitExit returns at once where there is no pidfd: proc.Wait blocks a thread.
func awaitExit(int) {}
