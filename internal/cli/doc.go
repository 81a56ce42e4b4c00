package cli

import (
	"bytes"
	"errors"
	"fmt"
	"strings"

	"github.com/spf13/pflag"
)

// README markers around the flag table that MarkdownTable writes.
const (
	TableStart = "<!-- flags: made by `go run ./tools/gendoc -readme README.md`; edit internal/cli -->"
	TableEnd   = "<!-- end of flags -->"
)

// MarkdownTable is the README's flag table: one row per flag, from its definition.
func MarkdownTable() string {
	var b strings.Builder
	b.WriteString("| flag | meaning |\n|---|---|\n")
	Command(Defaults()).Flags().VisitAll(func(f *pflag.Flag) {
		spec, usage := describe(f)
		cells := strings.Split(spec, ", ")
		for i, c := range cells {
			cells[i] = "`" + c + "`"
		}
		fmt.Fprintf(&b, "| %s | %s |\n", strings.Join(cells, ", "), strings.ReplaceAll(usage, "|", `\|`))
	})
	return b.String()
}

// defaultText is the default that --help shows for f, or "" where it shows none.
func defaultText(f *pflag.Flag) string {
	switch f.DefValue {
	case "", "0", "0s", "false", "[]":
		return ""
	}
	return strings.Trim(f.DefValue, "[]")
}

// ReplaceTable returns readme with the text between TableStart and TableEnd replaced by
// MarkdownTable.
func ReplaceTable(readme []byte) ([]byte, error) {
	before, rest, ok := bytes.Cut(readme, []byte(TableStart+"\n"))
	_, after, ok2 := bytes.Cut(rest, []byte(TableEnd))
	if !ok || !ok2 {
		return nil, errors.New("README has no flag table markers")
	}
	return bytes.Join([][]byte{before, []byte(TableStart + "\n"), []byte(MarkdownTable()), []byte(TableEnd), after}, nil), nil
}
