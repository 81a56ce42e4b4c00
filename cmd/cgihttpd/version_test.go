package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strings"
	"testing"
)

func TestResolveBuild(t *testing.T) {
	platform := runtime.Version() + " " + runtime.GOOS + "/" + runtime.GOARCH
	vcs := &debug.BuildInfo{
		Main: debug.Module{Path: "github.com/cgihttpd/cgihttpd", Version: "v1.2.3"},
		Settings: []debug.BuildSetting{
			{Key: "vcs", Value: "git"},
			{Key: "vcs.revision", Value: "0123456789abcdef0123456789abcdef01234567"},
			{Key: "vcs.time", Value: "2026-11-20T08:00:00Z"},
			{Key: "vcs.modified", Value: "false"},
		},
	}
	dirty := *vcs
	dirty.Main.Version = "(devel)"
	dirty.Settings = append([]debug.BuildSetting{}, vcs.Settings...)
	dirty.Settings[3].Value = "true"
	for _, tc := range []struct {
		name                  string
		version, commit, date string
		bi                    *debug.BuildInfo
		want, wantVersion     string
	}{
		{"stamped", "1.2.3", "abc1234", "2026-11-26T12:00:00Z", vcs,
			"cgihttpd 1.2.3 (commit abc1234, built 2026-11-26T12:00:00Z, " + platform + ")", "1.2.3"},
		{"stamped, no build info", "1.2.3", "abc1234", "2026-11-26T12:00:00Z", nil,
			"cgihttpd 1.2.3 (commit abc1234, built 2026-11-26T12:00:00Z, " + platform + ")", "1.2.3"},
		{"go install @v1.2.3", "", "", "", vcs,
			"cgihttpd v1.2.3 (commit 0123456789ab, built 2026-11-20T08:00:00Z, " + platform + ")", "v1.2.3"},
		{"go build in a modified checkout", "", "", "", &dirty,
			"cgihttpd dev (commit 0123456789ab-dirty, built 2026-11-20T08:00:00Z, " + platform + ")", "dev"},
		{"only the version stamped", "1.2.3", "", "", &debug.BuildInfo{Main: debug.Module{Version: "(devel)"}},
			"cgihttpd 1.2.3 (" + platform + ")", "1.2.3"},
		{"nothing known", "", "", "", nil, "cgihttpd dev (" + platform + ")", "dev"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := resolveBuild(tc.version, tc.commit, tc.date, tc.bi)
			if got := b.String(); got != tc.want {
				t.Errorf("String() = %q\nwant       %q", got, tc.want)
			}
			if b.version != tc.wantVersion {
				t.Errorf("version = %q, want %q", b.version, tc.wantVersion)
			}
		})
	}
}

// TestVersionStamp builds the binary as the release does (-ldflags -X) and runs --version.
func TestVersionStamp(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go command on PATH")
	}
	bin := filepath.Join(t.TempDir(), "cgihttpd")
	if runtime.GOOS == "windows" {
		bin += ".exe"
	}
	ldflags := "-X main.version=9.8.7-test -X main.commit=feedbee -X main.date=2026-11-26T12:34:56Z"
	// The release's flags (.goreleaser.yaml), so that this build and the release's share the
	// build cache.
	build := exec.Command(goTool, "build", "-trimpath", "-ldflags", ldflags, "-o", bin, ".")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	out, err := exec.Command(bin, "--version").Output()
	if err != nil {
		t.Fatalf("--version: %v", err)
	}
	// The go command on PATH built it, for its own default GOOS and GOARCH.
	env, err := exec.Command(goTool, "env", "GOVERSION", "GOOS", "GOARCH").Output()
	if err != nil {
		t.Fatalf("go env: %v", err)
	}
	f := strings.Fields(string(env))
	want := "cgihttpd 9.8.7-test (commit feedbee, built 2026-11-26T12:34:56Z, " + f[0] + " " + f[1] + "/" + f[2] + ")\n"
	if string(out) != want {
		t.Errorf("--version printed %q\nwant             %q", out, want)
	}
}
