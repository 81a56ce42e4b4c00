package main

import (
	"flag"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

var flagName = regexp.MustCompile(`--?[a-z][a-z0-9-]*`)

// usageFlags returns the flags that usageText documents: the names left of the two-space
// gap before each description, so flags named inside a description do not count.
func usageFlags() []string {
	var names []string
	for _, line := range strings.Split(usageText, "\n") {
		spec := strings.TrimSpace(line)
		if !strings.HasPrefix(spec, "-") {
			continue
		}
		spec, _, _ = strings.Cut(spec, "  ")
		names = append(names, flagName.FindAllString(spec, -1)...)
	}
	return sorted(names)
}

// readmeFlags returns the flags in the first column of the README's command-line table.
func readmeFlags(t *testing.T) []string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	_, section, ok := strings.Cut(string(b), "\n## Command line\n")
	if !ok {
		t.Fatal(`README has no "## Command line" section`)
	}
	section, _, _ = strings.Cut(section, "\n## ")
	var names []string
	for _, line := range strings.Split(section, "\n") {
		cells := strings.Split(line, "|")
		if len(cells) < 3 || !strings.Contains(cells[1], "`-") {
			continue
		}
		for _, code := range regexp.MustCompile("`([^`]*)`").FindAllStringSubmatch(cells[1], -1) {
			names = append(names, flagName.FindAllString(strings.Fields(code[1])[0], -1)...)
		}
	}
	return sorted(names)
}

// definedFlags returns the flags the command line accepts, with -h/--help, which the flag
// package answers itself.
func definedFlags() []string {
	names := []string{"-h", "--help"}
	defineFlags(&options{}, new([]string)).VisitAll(func(f *flag.Flag) {
		if len(f.Name) == 1 {
			names = append(names, "-"+f.Name)
		} else {
			names = append(names, "--"+f.Name)
		}
	})
	return sorted(names)
}

func sorted(names []string) []string {
	slices.Sort(names)
	return slices.Compact(names)
}

// TestHelpAndReadmeListEveryFlag keeps --help, the README's flag table and the flags
// actually defined in step: a flag added to one and not the others fails here.
func TestHelpAndReadmeListEveryFlag(t *testing.T) {
	defined, usage, readme := definedFlags(), usageFlags(), readmeFlags(t)
	if len(defined) < 30 {
		t.Fatalf("only %d flags defined: %v", len(defined), defined)
	}
	for _, f := range defined {
		if !slices.Contains(usage, f) {
			t.Errorf("%s is defined but --help does not list it", f)
		}
		if !slices.Contains(readme, f) {
			t.Errorf("%s is defined but the README's flag table does not list it", f)
		}
	}
	for _, f := range usage {
		if !slices.Contains(defined, f) {
			t.Errorf("--help lists %s, which is not defined", f)
		}
	}
	for _, f := range readme {
		if !slices.Contains(defined, f) {
			t.Errorf("the README's flag table lists %s, which is not defined", f)
		}
	}
}
