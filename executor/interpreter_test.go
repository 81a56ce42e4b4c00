package executor

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func TestSplitCommand(t *testing.T) {
	tests := []struct {
		in   string
		want []string
		bad  bool
	}{
		{in: "python3", want: []string{"python3"}},
		{in: "  python3\t-u  -X utf8 ", want: []string{"python3", "-u", "-X", "utf8"}},
		{in: `"C:\Program Files\Python\python.exe" -u`, want: []string{`C:\Program Files\Python\python.exe`, "-u"}},
		{in: `C:\Perl\bin\perl.exe -w`, want: []string{`C:\Perl\bin\perl.exe`, "-w"}},
		{in: `a"b c"d`, want: []string{"ab cd"}},
		{in: `php-cgi ""`, want: []string{"php-cgi", ""}},
		{in: "", bad: true},
		{in: "   ", bad: true},
		{in: `""`, bad: true},
		{in: `"unclosed`, bad: true},
		{in: "perl\n-e", bad: true},
	}
	for _, tt := range tests {
		got, err := splitCommand(tt.in)
		if tt.bad {
			if err == nil {
				t.Errorf("splitCommand(%q) = %q, want an error", tt.in, got)
			}
			continue
		}
		if err != nil || !reflect.DeepEqual(got, tt.want) {
			t.Errorf("splitCommand(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
		}
	}
}

func TestParseInterpreters(t *testing.T) {
	m, err := parseInterpreters(map[string]string{".PY": "python3 -u", ".pl": `"C:\Perl 5\perl.exe"`})
	if err != nil {
		t.Fatal(err)
	}
	want := interpreterMap{".py": {"python3", "-u"}, ".pl": {`C:\Perl 5\perl.exe`}}
	if !reflect.DeepEqual(m, want) {
		t.Errorf("parseInterpreters = %q, want %q", m, want)
	}
	if got := m.lookup(filepath.Join("cgi-bin", "X.Py")); !reflect.DeepEqual(got, want[".py"]) {
		t.Errorf("lookup of X.Py = %q: extensions match whatever their case", got)
	}
	if got := m.lookup("x.pyc"); got != nil {
		t.Errorf("lookup of x.pyc = %q, want nil", got)
	}
	for _, bad := range []map[string]string{
		{"py": "python"}, {".": "python"}, {".a.b": "x"}, {"./x": "x"}, {`.a\b`: "x"}, {".a b": "x"},
		{".py": ""}, {".py": `"python`},
	} {
		if _, err := parseInterpreters(bad); err == nil {
			t.Errorf("parseInterpreters(%q) accepted", bad)
		}
	}
}

func TestInterpreterMapCommand(t *testing.T) {
	dir := t.TempDir()
	interp := filepath.Join(dir, "interp.exe") // the extension for Windows, the mode for Unix
	if err := os.WriteFile(interp, []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	m := interpreterMap{".x": {interp, "-a"}, ".missing": {"cgihttpd-no-such-interpreter"}}

	program, argv, err := m.command("/site/s.x", []string{"q"})
	if err != nil || program != interp || !reflect.DeepEqual(argv, []string{interp, "-a", "/site/s.x", "q"}) {
		t.Errorf("mapped: %q %q %v", program, argv, err)
	}
	program, argv, err = m.command("/site/plain", []string{"q"})
	if err != nil || program != "/site/plain" || !reflect.DeepEqual(argv, []string{"/site/plain", "q"}) {
		t.Errorf("unmapped: %q %q %v", program, argv, err)
	}
	if _, _, err := m.command("/site/s.missing", nil); err == nil || !strings.Contains(err.Error(), "cgihttpd-no-such-interpreter") {
		t.Errorf("missing interpreter: err = %v, want one naming it", err)
	}
}

func TestParseShebang(t *testing.T) {
	tests := []struct {
		line string
		want []string
	}{
		{"#!/usr/bin/env python3\n", []string{"/usr/bin/env", "python3"}},
		{"#! /usr/bin/perl -w\r\nprint 1;\n", []string{"/usr/bin/perl", "-w"}},
		{`#!C:\Perl\bin\perl.exe` + "\r\n", []string{`C:\Perl\bin\perl.exe`}},
		{`#!"C:\Program Files\Python\python.exe" -u`, []string{`C:\Program Files\Python\python.exe`, "-u"}},
		{"#!/bin/sh", []string{"/bin/sh"}},
		{"#!\n", nil},
		{"#!\xff\xfe\n", nil},
		{"echo hi\n", nil},
		{"MZ\x90\x00", nil},
		{"", nil},
	}
	for _, tt := range tests {
		if got := parseShebang([]byte(tt.line)); !reflect.DeepEqual(got, tt.want) {
			t.Errorf("parseShebang(%q) = %q, want %q", tt.line, got, tt.want)
		}
	}
}

func TestReadShebang(t *testing.T) {
	dir := t.TempDir()
	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	if got, err := readShebang(write("a", "#!/usr/bin/env perl\nprint;\n")); err != nil || !reflect.DeepEqual(got, []string{"/usr/bin/env", "perl"}) {
		t.Errorf("readShebang = %q, %v", got, err)
	}
	// A first line longer than Linux would read is cut there, as the kernel cuts it.
	long := "#!/usr/bin/" + strings.Repeat("x", 300) + "\n"
	if got, err := readShebang(write("long", long)); err != nil || len(got) != 1 || len(got[0]) != maxShebang-2 {
		t.Errorf("readShebang(long) = %q, %v", got, err)
	}
	if got, err := readShebang(write("none", "plain")); err != nil || got != nil {
		t.Errorf("readShebang(no #!) = %q, %v", got, err)
	}
	if _, err := readShebang(filepath.Join(dir, "missing")); err == nil {
		t.Error("readShebang of a missing file: no error")
	}
}

// TestSearchArgs: the known attacks on RFC 3875 §4.4 command lines (CVE-2012-1823,
// CVE-2024-4577, BatBadBut) and what the RFC does give.
func TestSearchArgs(t *testing.T) {
	tests := []struct {
		query string
		want  []string // nil: refused
	}{
		{"a+b", []string{"a", "b"}},
		{"hello%20world+x", []string{"hello world", "x"}},
		{"&calc", []string{"&calc"}},                    // harmless unless a shell re-parses it
		{`"&calc`, []string{`"&calc`}},                  // same: quoting is the executor's job
		{"%22%26calc", []string{`"&calc`}},              // the encoded form is the same word
		{"a%26calc", []string{"a&calc"}},                // an encoded & is data, not an '='
		{"%C3%A9t%C3%A9", []string{"été"}},              // UTF-8 words are fine here (not on Windows)
		{"-s", nil},                                     // CVE-2012-1823: php-cgi -s shows the source
		{"a+-d+allow_url_include%3d1", nil},             // any word that is an option
		{"%2ds", nil},                                   // also when encoded
		{"%ADd+allow_url_include%3d1", nil},             // CVE-2024-4577: not UTF-8 at all
		{"a=b", nil},                                    // not a search string
		{"x+y=z", nil},                                  // not a search string
		{"", nil},                                       // nothing to pass
		{"%zz", nil},                                    // malformed escape
		{"a%0Ab", nil},                                  // control character
		{"a%00b", nil},                                  // NUL
		{"%7F", nil},                                    // DEL
		{"a++b", []string{"a", "", "b"}},                // empty words are words
		{"%E2%80%AEtxt.exe", []string{"\u202etxt.exe"}}, // valid UTF-8; Windows refuses it
	}
	for _, tt := range tests {
		got, err := SearchArgs(tt.query)
		if tt.want == nil {
			if err == nil || got != nil {
				t.Errorf("SearchArgs(%q) = %q, %v; want it refused", tt.query, got, err)
			}
			continue
		}
		if err != nil || !reflect.DeepEqual(got, tt.want) {
			t.Errorf("SearchArgs(%q) = %q, %v; want %q", tt.query, got, err, tt.want)
		}
	}
}
