package main

import (
	"runtime"
	"runtime/debug"
	"strings"
)

// The release build stamps these (.goreleaser.yaml):
//
//	-ldflags "-X main.version=1.2.3 -X main.commit=abc1234 -X main.date=2026-11-26T12:00:00Z"
//
// A build that leaves one empty falls back to what the Go toolchain recorded in the binary.
var (
	version = ""
	commit  = ""
	date    = ""
)

// buildInfo is what --version reports about this binary.
type buildInfo struct {
	version   string // "1.2.3", a module version, or "dev"
	commit    string // "" when unknown
	date      string // RFC 3339, "" when unknown
	goVersion string // "go1.26.8"
	platform  string // "linux/amd64"
}

// currentBuild is the stamped build information, completed from debug.ReadBuildInfo.
func currentBuild() buildInfo {
	bi, _ := debug.ReadBuildInfo() // nil in a binary built without module support
	return resolveBuild(version, commit, date, bi)
}

// resolveBuild takes the stamped values and fills the empty ones from bi (which may be nil):
// the main module's version (as `go install ...@v1.2.3` records it), vcs.revision (shortened to
// 12 digits, as in Go's pseudo-versions, and marked "-dirty" when vcs.modified) and vcs.time.
func resolveBuild(version, commit, date string, bi *debug.BuildInfo) buildInfo {
	b := buildInfo{
		version:   version,
		commit:    commit,
		date:      date,
		goVersion: runtime.Version(),
		platform:  runtime.GOOS + "/" + runtime.GOARCH,
	}
	if bi != nil {
		if b.version == "" && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
			b.version = bi.Main.Version
		}
		settings := map[string]string{}
		for _, s := range bi.Settings {
			settings[s.Key] = s.Value
		}
		if rev := settings["vcs.revision"]; b.commit == "" && rev != "" {
			b.commit = rev[:min(len(rev), 12)]
			if settings["vcs.modified"] == "true" {
				b.commit += "-dirty"
			}
		}
		if b.date == "" {
			b.date = settings["vcs.time"]
		}
	}
	if b.version == "" {
		b.version = "dev"
	}
	return b
}

// String is the line that --version prints:
// "cgihttpd 1.2.3 (commit abc1234, built 2026-11-26T12:00:00Z, go1.26.8 linux/amd64)".
func (b buildInfo) String() string {
	var details []string
	if b.commit != "" {
		details = append(details, "commit "+b.commit)
	}
	if b.date != "" {
		details = append(details, "built "+b.date)
	}
	details = append(details, b.goVersion+" "+b.platform)
	return "cgihttpd " + b.version + " (" + strings.Join(details, ", ") + ")"
}

// versionString is the version alone, as SERVER_SOFTWARE reports it (cgihttpd/<version>).
func versionString() string {
	return currentBuild().version
}
