//go:build !windows

package server

// platformPathProblem has no rules to apply where a file name means what its bytes say.
func platformPathProblem(string) string { return "" }
