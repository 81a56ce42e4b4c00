package cli

import (
	"bytes"
	"net/netip"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/spf13/pflag"

	"github.com/cgihttpd/cgihttpd/executor"
	"github.com/cgihttpd/cgihttpd/server"
)

func TestParse(t *testing.T) {
	cases := []struct {
		args []string
		want func(o *Options) bool
	}{
		{nil, func(o *Options) bool {
			return o.Port == 8000 && o.Bind == "127.0.0.1" && reflect.DeepEqual(o.Server, server.DefaultConfig())
		}},
		{[]string{"8080"}, func(o *Options) bool { return o.Port == 8080 }},
		{[]string{"--cgi", "8080", "-b", "0.0.0.0"}, func(o *Options) bool { return o.Port == 8080 && o.Bind == "0.0.0.0" }},
		{[]string{"-d", "site", "9000", "--bind", "::1"}, func(o *Options) bool {
			return o.Server.Root == "site" && o.Port == 9000 && o.Bind == "::1"
		}},
		{[]string{"--directory=site", "--cgi-dir", "/a", "--cgi-dir", "/b/c"}, func(o *Options) bool {
			return o.Server.Root == "site" && reflect.DeepEqual(o.Server.CGIDirs, []string{"/a", "/b/c"})
		}},
		{[]string{"--timeout", "5s", "--pass-auth", "--pass-env", "HOME", "--env", "A=b=c", "--env", "B=x,y"}, func(o *Options) bool {
			return o.Server.Timeout == 5*time.Second && o.Server.PassAuth &&
				reflect.DeepEqual(o.Server.PassEnv, []string{"HOME"}) && reflect.DeepEqual(o.Server.Env, []string{"A=b=c", "B=x,y"})
		}},
		{[]string{"--log-level", "debug", "--log-json"}, func(o *Options) bool { return o.LogLevel == "debug" && o.LogJSON }},
		{[]string{"--max-body", "1MiB", "--spool-budget", "8MB", "--max-stderr", "4096", "--limit-memory", "1GiB", "--max-header-bytes", "8KiB"}, func(o *Options) bool {
			return o.Server.MaxBodyBytes == 1<<20 && o.Server.SpoolBudget == 8_000_000 && o.Server.MaxStderrBytes == 4096 &&
				o.Server.Scripts.Limits.MemoryBytes == 1<<30 && o.MaxHeaderBytes == 8<<10
		}},
		{[]string{"--body-min-rate", "0"}, func(o *Options) bool { return o.Server.BodyMinRate < 0 }},
		{[]string{"--body-min-rate", "1KiB"}, func(o *Options) bool { return o.Server.BodyMinRate == 1024 }},
		{[]string{"--trusted-proxy", "10.0.0.0/8", "--trusted-proxy", "::ffff:192.0.2.1"}, func(o *Options) bool {
			return reflect.DeepEqual(o.Server.TrustedProxies, []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("192.0.2.1/32")})
		}},
		{[]string{"--uid-range", "60000-60009"}, func(o *Options) bool {
			return o.Server.Scripts.UIDRange == executor.UIDRange{First: 60000, Last: 60009}
		}},
		{[]string{"--interpreter", ".py=python3 -u", "--interpreter", `.pl="C:\Perl 5\perl.exe"`, "--interpreter", ".x=a=b"}, func(o *Options) bool {
			return reflect.DeepEqual(o.Server.Scripts.Interpreters, map[string]string{".py": "python3 -u", ".pl": `"C:\Perl 5\perl.exe"`, ".x": "a=b"})
		}},
		{[]string{"-h", "notaport"}, func(o *Options) bool { return o.Help }},
		{[]string{"--auth-file", "pw", "--auth-path", "/a", "--auth-path", "/b", "--auth-realm", "R", "--auth-max-failures", "-1",
			"--cgi-ext", ".cgi", "--cgi-ext", ".pl", "--index", "index.cgi"}, func(o *Options) bool {
			return reflect.DeepEqual(o.Server.Auth, server.AuthConfig{File: "pw", Paths: []string{"/a", "/b"}, Realm: "R", MaxFailures: -1}) &&
				reflect.DeepEqual(o.Server.CGIExtensions, []string{".cgi", ".pl"}) && reflect.DeepEqual(o.Server.Indexes, []string{"index.cgi"})
		}},
	}
	for _, c := range cases {
		o, err := Parse(c.args)
		if err != nil {
			t.Errorf("%q: %v", c.args, err)
			continue
		}
		if !c.want(o) {
			t.Errorf("%q: got %+v", c.args, o)
		}
	}
}

// TestParseRefuses: what the command line itself owns is checked by Parse and named in the
// error; the server's values are server.New's to check (cmd/cgihttpd's exit-2 test).
func TestParseRefuses(t *testing.T) {
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--no-such-flag"}, "no-such-flag"},
		{[]string{"notaport"}, "port"},
		{[]string{"70000"}, "port"},
		{[]string{"8000", "8001"}, "only one port"},
		{[]string{"--timeout", "soon"}, "--timeout"},
		{[]string{"--max-body", "lots"}, "--max-body"},
		{[]string{"--max-body", "-1"}, "--max-body"},
		{[]string{"--max-stderr", "16EiB"}, "--max-stderr"},
		{[]string{"--log-level", "loud"}, "--log-level"},
		{[]string{"--max-header-bytes", "10"}, "--max-header-bytes"},
		{[]string{"--read-header-timeout", "0s"}, "--read-header-timeout"},
		{[]string{"--uid-range", "70000-60000"}, "--uid-range"},
		{[]string{"--uid-range", "0-10"}, "--uid-range"},
		{[]string{"--trusted-proxy", "somewhere"}, "--trusted-proxy"},
		{[]string{"--interpreter", "py=python"}, "--interpreter"},
		{[]string{"--interpreter", ".py"}, "--interpreter"},
		{[]string{"--interpreter", ".py=  "}, "--interpreter"},
		{[]string{"--interpreter", ".=python"}, "--interpreter"},
		{[]string{"--auth-max-failures", "many"}, "--auth-max-failures"},
		// Python's shape: -bind is -b ind, and then 0.0.0.0 is no port.
		{[]string{"-bind", "0.0.0.0"}, `invalid port "0.0.0.0"`},
	} {
		if _, err := Parse(c.args); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%q: err = %v, want one naming %q", c.args, err, c.want)
		}
	}
}

// TestUserFlag: Windows has no nobody to switch to, so an explicit --user is refused there
// instead of being ignored; elsewhere it names the account.
func TestUserFlag(t *testing.T) {
	o, err := Parse([]string{"--user", "www-data"})
	if runtime.GOOS == "windows" {
		if err == nil || !strings.Contains(err.Error(), "--user is not supported on Windows") {
			t.Fatalf("--user on Windows: err = %v, want a refusal", err)
		}
		if _, err := Parse(nil); err != nil {
			t.Fatalf("no --user on Windows: %v", err)
		}
		return
	}
	if err != nil || o.Server.Scripts.User != "www-data" {
		t.Fatalf("--user www-data: %+v, %v", o, err)
	}
}

// TestREADMETableIsGenerated: the README's flag table is MarkdownTable's output, so it lists
// exactly the flags defined, with their help and defaults.
func TestREADMETableIsGenerated(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("..", "..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	want, err := ReplaceTable(b)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(b, want) {
		t.Error("README.md's flag table differs from the flag definitions: run go run ./tools/gendoc -readme README.md")
	}
}

// TestHelpListsEveryFlag: --help and the table come from the same definitions; this checks
// that both name every flag, with placeholders and defaults.
func TestHelpListsEveryFlag(t *testing.T) {
	usage, table := Usage(), MarkdownTable()
	Command(Defaults()).Flags().VisitAll(func(f *pflag.Flag) {
		if !strings.Contains(usage, "--"+f.Name) || !strings.Contains(table, "`--"+f.Name) {
			t.Errorf("--%s is missing from --help or the table", f.Name)
		}
	})
	for _, want := range []string{"-b, --bind ADDRESS", "-d, --directory DIR", "  --cgi\n", "--timeout DURATION", "(default 1m0s)", "--max-body SIZE",
		"(default 64MiB)", "--limit-pids UINT", "(default 256)", "--user ACCOUNT", "(default nobody)", "-h, --help", "[port]"} {
		if !strings.Contains(usage, want) {
			t.Errorf("--help lacks %q", want)
		}
	}
}

// TestCompletions: the shells' completion scripts ask the program itself ("__complete"),
// which answers with the flags.
func TestCompletions(t *testing.T) {
	var stdout, stderr bytes.Buffer
	if code := Complete([]string{"__complete", "--max-"}, &stdout, &stderr); code != 0 {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
	for _, want := range []string{"--max-body", "--max-scripts", "--max-stderr"} {
		if !strings.Contains(stdout.String(), want) {
			t.Errorf("completing --max- lacks %s:\n%s", want, stdout.String())
		}
	}
}
