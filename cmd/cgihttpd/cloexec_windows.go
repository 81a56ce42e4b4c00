//go:build windows

package main

// markInheritedCloexec does nothing on Windows: a child inherits only the handles that
// os/exec lists for it (PROC_THREAD_ATTRIBUTE_HANDLE_LIST), never the server's others.
func markInheritedCloexec() error { return nil }
