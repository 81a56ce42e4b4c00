package server

import (
	"os"
	"strings"
)

// The revocations that change notification (hotfiles_linux.go) makes in the file cache.

// current reports whether e is still the entry for its file: put in the cache and not
// replaced or revoked since.
func (e *cachedFile) current() bool { return !e.revoked.Load() }

// revoke drops the entry for path, if any.
func (c *fileCache) revoke(path string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.removeLocked(path)
}

// revokeTree drops the entries for dir and everything below it.
func (c *fileCache) revokeTree(dir string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	prefix := strings.TrimSuffix(dir, string(os.PathSeparator)) + string(os.PathSeparator)
	for path := range c.entries {
		if path == dir || strings.HasPrefix(path, prefix) {
			c.removeLocked(path)
		}
	}
}

// revokeAll empties the cache.
func (c *fileCache) revokeAll() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.revokeAllLocked()
}
