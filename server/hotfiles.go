package server

import "time"

// hotFiles answers the hottest static requests from memory without a system call for the
// file: no stat, no path walk. It can only where the kernel tells of changes (inotify on
// Linux); elsewhere every static request keeps the stat that validates fileCache entries.
// It keeps CGI script resolutions the same way.
type hotFiles interface {
	// lookup returns the cached file for a request path when that path is hot and nothing
	// has changed on its way since, else nil. A hit means that the path was clean and passed
	// every check when it was made hot.
	lookup(urlPath string, now time.Time) *cachedFile
	// known reports whether urlPath was made hot, whether lookup still trusts it or not.
	known(urlPath string) bool
	// promote lets e answer clean (its file is fsPath) through lookup from now on, when
	// changes to the file and every directory on its way can be watched. e has just been
	// validated by a stat, or read.
	promote(clean, fsPath string, e *cachedFile, now time.Time)
	// readPending applies the changes reported so far to the fileCache, so that a stat
	// that cannot see a change (same size, same coarse mtime) is not the last word.
	readPending()
	// scriptMark is taken before a CGI path is resolved, so that promoteScript can tell
	// whether anything changed while it was.
	scriptMark() scriptMark
	// promoteScript lets lookupScript answer clean with t, a regular file confined to the
	// root that was resolved after m was taken, when its way can be watched.
	promoteScript(clean string, t scriptTarget, m scriptMark, now time.Time)
	// lookupScript returns clean's resolution when it is hot and nothing has changed on its
	// way since.
	lookupScript(clean string, now time.Time) (scriptTarget, bool)
	close()
}
