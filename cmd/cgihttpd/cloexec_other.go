//go:build unix && !linux

package main

// markInheritedCloexec marks every descriptor from 3 up close-on-exec, so that nothing the
// server was started with reaches a script; see the Linux version.
func markInheritedCloexec() error { return markUpToLimit() }
