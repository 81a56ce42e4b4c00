//go:build windows

package server

// platformPathProblem applies the Windows path rules (see windowsPathProblem).
func platformPathProblem(clean string) string { return windowsPathProblem(clean) }
