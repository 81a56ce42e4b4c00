package cli

import (
	"errors"
	"fmt"
	"io"
	"runtime"
	"strconv"
	"strings"

	"github.com/hashicorp/go-hclog"
	"github.com/spf13/pflag"
)

// Parse parses a command line (without the program name). The port may stand before,
// between or after the flags. It checks what only the command line owns (the port, the
// HTTP server's bounds, the log level); server.New checks the rest.
func Parse(args []string) (*Options, error) {
	o := Defaults()
	fs := Command(o).Flags()
	fs.SetOutput(io.Discard)
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if o.Help || o.Version {
		return o, nil
	}
	switch rest := fs.Args(); len(rest) {
	case 0:
	case 1:
		p, err := strconv.Atoi(rest[0])
		if err != nil || p < 0 || p > 65535 {
			return nil, fmt.Errorf("invalid port %q: want a number from 0 to 65535", rest[0])
		}
		o.Port = p
	default:
		return nil, fmt.Errorf("unexpected argument %q: only one port may be given", rest[1])
	}
	switch {
	case o.ShutdownGrace < 0:
		return nil, fmt.Errorf("invalid --shutdown-grace %s: must not be negative", o.ShutdownGrace)
	case o.ReadHeaderTimeout <= 0 || o.KeepAlive <= 0:
		return nil, errors.New("invalid --read-header-timeout or --keepalive-timeout: must be positive")
	case o.MaxHeaderBytes < 1024:
		return nil, fmt.Errorf("invalid --max-header-bytes %d: at least 1024", o.MaxHeaderBytes)
	case hclog.LevelFromString(o.LogLevel) == hclog.NoLevel:
		return nil, fmt.Errorf("invalid --log-level %q: want trace, debug, info, warn or error", o.LogLevel)
	}
	if err := o.TLS.check(); err != nil {
		return nil, err
	}
	// --user defaults to nobody, which Windows does not have: only an explicit one is refused.
	if fs.Changed("user") && runtime.GOOS == "windows" {
		return nil, errors.New("--user is not supported on Windows: scripts run as the account that runs cgihttpd; start cgihttpd as the account scripts should use")
	}
	return o, nil
}

// Usage is the text of --help.
func Usage() string {
	cmd := Command(Defaults())
	var b strings.Builder
	fmt.Fprintf(&b, "Usage: %s\n\n%s\n\nFlags:\n", cmd.Use, cmd.Long)
	cmd.Flags().VisitAll(func(f *pflag.Flag) {
		spec, usage := describe(f)
		fmt.Fprintf(&b, "  %s\n", spec)
		for _, line := range wrap(usage, 88) {
			fmt.Fprintf(&b, "        %s\n", line)
		}
	})
	return b.String()
}

// describe returns a flag's spelling ("-b, --bind ADDRESS") and its help with the default.
func describe(f *pflag.Flag) (spec, usage string) {
	arg, usage := pflag.UnquoteUsage(f)
	spec = "--" + f.Name
	if arg != "" && f.Value.Type() != "bool" {
		spec += " " + strings.ToUpper(arg)
	}
	if f.Shorthand != "" {
		spec = "-" + f.Shorthand + ", " + spec
	}
	if def := defaultText(f); def != "" {
		usage += " (default " + def + ")"
	}
	return spec, usage
}

// wrap breaks text into lines of at most width bytes, at spaces.
func wrap(text string, width int) []string {
	var lines []string
	line := ""
	for _, word := range strings.Fields(text) {
		if line != "" && len(line)+1+len(word) > width {
			lines = append(lines, line)
			line = ""
		}
		if line != "" {
			line += " "
		}
		line += word
	}
	return append(lines, line)
}

// Complete answers the shell completions' "__complete" requests (args as given to the
// program); it returns the exit code.
func Complete(args []string, stdout, stderr io.Writer) int {
	cmd := Command(Defaults())
	cmd.SetArgs(args)
	cmd.SetOut(stdout)
	cmd.SetErr(stderr)
	if err := cmd.Execute(); err != nil {
		_, _ = fmt.Fprintf(stderr, "cgihttpd: %v\n", err)
		return 2
	}
	return 0
}
