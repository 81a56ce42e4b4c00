//go:build windows

package executor

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/hashicorp/go-hclog"
	"golang.org/x/sys/windows"
)

// TestResolve: how each kind of script is started, with a PATH that holds only the
// interpreters the test puts there.
func TestResolve(t *testing.T) {
	bin, site := t.TempDir(), t.TempDir()
	for _, name := range []string{"python.exe", "perl.exe", "powershell.exe", "tool.exe"} {
		if err := os.WriteFile(filepath.Join(bin, name), []byte("MZ"), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	abs := filepath.Join(bin, "perl.exe")
	t.Setenv("PATH", bin)
	t.Setenv("PATHEXT", ".COM;.EXE;.BAT;.CMD")
	script := func(name, body string) string {
		p := filepath.Join(site, name)
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	e, err := newNative(Config{Interpreters: map[string]string{".tl": "tool --flag", ".gone": "cgihttpd-no-such-tool"}}.withDefaults(), hclog.NewNullLogger())
	if err != nil {
		t.Fatal(err)
	}
	we := e.(*windowsExecutor)
	py, perl, ps := filepath.Join(bin, "python.exe"), filepath.Join(bin, "perl.exe"), filepath.Join(bin, "powershell.exe")

	tests := []struct {
		name   string
		path   string
		want   startCommand
		errHas []string // the error must name these; nil: no error
	}{
		{"exe", script("a.exe", "MZ"), startCommand{program: filepath.Join(site, "a.exe")}, nil},
		{"com in upper case", script("B.COM", "MZ"), startCommand{program: filepath.Join(site, "B.COM")}, nil},
		{"bat", script("c.bat", "@echo off\r\n"), startCommand{program: we.cmdExe, batch: true}, nil},
		{"cmd", script("d.CMD", "#!/usr/bin/perl\r\n"), startCommand{program: we.cmdExe, batch: true}, nil},
		{"py without #!", script("e.py", "print(1)\n"), startCommand{program: py, words: []string{py}}, nil},
		{"#!/usr/bin/perl -w", script("f.cgi", "#!/usr/bin/perl -w\nprint;\n"), startCommand{program: perl, words: []string{perl, "-w"}}, nil},
		{"#!/usr/bin/env python3 falls back to python", script("g.cgi", "#!/usr/bin/env python3\n"), startCommand{program: py, words: []string{py}}, nil},
		{"#!/usr/bin/env -S perl -T", script("h", "#!/usr/bin/env -S perl -T\n"), startCommand{program: perl, words: []string{perl, "-T"}}, nil},
		{"#! with a Windows path", script("i.cgi", "#!"+abs+" -w\r\n"), startCommand{program: abs, words: []string{abs, "-w"}}, nil},
		{"#! before the extension", script("j.py", "#!/usr/bin/perl\n"), startCommand{program: perl, words: []string{perl}}, nil},
		{"operator's map before #!", script("k.tl", "#!/usr/bin/perl\n"), startCommand{program: filepath.Join(bin, "tool.exe"), words: []string{filepath.Join(bin, "tool.exe"), "--flag"}}, nil},
		{"ps1", script("l.ps1", "Write-Output 1\r\n"), startCommand{program: ps, words: []string{ps, "-NoProfile", "-ExecutionPolicy", "Bypass", "-File"}}, nil},
		{"#! interpreter missing, extension known", script("m.py", "#!/usr/bin/ruby\n"), startCommand{program: py, words: []string{py}}, nil},

		{"unknown extension", script("n.xyz", "data"), startCommand{}, []string{"no #! line", `no interpreter known for ".xyz"`}},
		{"#! interpreter missing", script("o.cgi", "#!/usr/bin/ruby1.9\n"), startCommand{}, []string{"ruby1.9, ruby: not found"}},
		{"#! Windows path missing", script("p.cgi", `#!C:\nowhere\perl.exe`+"\n"), startCommand{}, []string{`C:\nowhere\perl.exe: not found`}},
		{"env without a command", script("q.cgi", "#!/usr/bin/env -S\n"), startCommand{}, []string{"no command after env"}},
		{"env with a path", script("q2.cgi", "#!/usr/bin/env ..\\bin\\perl\n"), startCommand{}, []string{`..\bin\perl is not a command name`}},
		{"operator's interpreter missing", script("r.gone", "x"), startCommand{}, []string{"--interpreter .gone=cgihttpd-no-such-tool"}},
		{"batch path with %", script("100%.bat", "@echo off\r\n"), startCommand{}, []string{"%"}},
		{"missing file", filepath.Join(site, "nothing.cgi"), startCommand{}, []string{"read first line"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := we.resolve(tt.path)
			if tt.errHas == nil {
				if err != nil || !reflect.DeepEqual(got, tt.want) {
					t.Errorf("resolve = %+v, %v; want %+v", got, err, tt.want)
				}
				return
			}
			if !errors.Is(err, ErrNotRunnable) {
				t.Fatalf("resolve = %+v, %v; want ErrNotRunnable", got, err)
			}
			for _, s := range tt.errHas {
				if !strings.Contains(err.Error(), s) {
					t.Errorf("error %q does not say %q", err, s)
				}
			}
		})
	}

	t.Setenv("PATH", t.TempDir()) // nothing at all
	_, err = we.resolve(script("s.py", "print(1)\n"))
	if !errors.Is(err, ErrNotRunnable) || !strings.Contains(err.Error(), "no #! line; .py files: python, py not on PATH") {
		t.Errorf("python nowhere: err = %v, want one naming what was tried", err)
	}
}

// TestCommandLine: what CreateProcess gets, and that a program splitting it the standard
// way (CommandLineToArgvW) gets back exactly the words, the attack strings included.
func TestCommandLine(t *testing.T) {
	batch := startCommand{program: `C:\Windows\System32\cmd.exe`, batch: true}
	if got, want := batch.commandLine(`C:\site\cgi-bin\a&b (c).bat`, nil),
		`"C:\Windows\System32\cmd.exe" /d /v:off /s /c ""C:\site\cgi-bin\a&b (c).bat""`; got != want {
		t.Errorf("batch command line = %s, want %s", got, want)
	}

	py := startCommand{program: `C:\Program Files\Python\python.exe`, words: []string{`C:\Program Files\Python\python.exe`, "-u"}}
	direct := startCommand{program: `C:\site\cgi-bin\x.exe`}
	args := []string{"&calc", `"&calc`, "a&calc", `a\"b`, `trailing\`, "two words", "", "-s"}
	for _, c := range []startCommand{py, direct} {
		line := c.commandLine(`C:\site\cgi-bin\x y.py`, args)
		got, err := windows.DecomposeCommandLine(line)
		if err != nil {
			t.Fatal(err)
		}
		want := append(append(append([]string{}, c.words...), `C:\site\cgi-bin\x y.py`), args...)
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%s\nsplits into %q\nwant        %q", line, got, want)
		}
	}
}

func TestCheckArgs(t *testing.T) {
	exe, bat := startCommand{program: "x.exe"}, startCommand{program: "cmd.exe", batch: true}
	tests := []struct {
		c    startCommand
		args []string
		want error
	}{
		{exe, nil, nil},
		{bat, nil, nil},
		{exe, []string{"&calc", `"&calc`, "a&calc"}, nil},
		{bat, []string{"plain"}, errBatchArgs},
		{exe, []string{"\u00add", "allow_url_include=1"}, errNonASCIIArg},
		{exe, []string{"caf\u00e9"}, errNonASCIIArg},
		{exe, []string{"\xad"}, errNonASCIIArg},
		{exe, []string{"new\nline"}, errNonASCIIArg},
	}
	for _, tt := range tests {
		if got := tt.c.checkArgs(tt.args); !errors.Is(got, tt.want) {
			t.Errorf("checkArgs(batch=%v, %q) = %v, want %v", tt.c.batch, tt.args, got, tt.want)
		}
	}
}

func TestDedupEnv(t *testing.T) {
	got := dedupEnv([]string{"PATH=a", "Path=b", "X=1", "=C:=C:\\x", "=D:=D:\\y", "x=2", "=C:=C:\\z"})
	want := []string{"Path=b", "x=2", "=C:=C:\\z", "=D:=D:\\y"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("dedupEnv = %q, want %q", got, want)
	}
}
