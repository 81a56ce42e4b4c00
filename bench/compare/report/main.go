// Command report turns the measurements of bench/compare/run.sh into the markdown of
// BENCHMARKS.md: per workload a table of medians with min–max over the rounds and the ratio of
// cgihttpd to each peer, then the targets marked met or not met.
//
//	report -results results.tsv -meta meta > BENCHMARKS.md
//
// results.tsv has one line per measurement: round, server, workload, metric, value (a number,
// DNF, or for the metric "dnf" the reason). meta has key=value lines; "note" may repeat.
package main

import (
	"bufio"
	"flag"
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"
	"strings"
)

// peers are the servers a user would pick instead of cgihttpd, in the order of the tables.
var peers = []string{"lighttpd", "apache2", "nginx", "busybox", "netcgi", "python"}

var names = map[string]string{
	"cgihttpd": "cgihttpd",
	"lighttpd": "lighttpd mod_cgi",
	"apache2":  "Apache mod_cgid",
	"nginx":    "nginx + fcgiwrap",
	"busybox":  "busybox httpd",
	"netcgi":   "Go net/http/cgi + http.FileServer",
	"python":   "python3 -m http.server --cgi",
	"plain":    "Go net/http, bytes from memory",
}

type key struct{ server, workload, metric string }

type sample struct {
	round int
	value string
}

type data struct {
	samples map[key][]sample
	meta    map[string]string
	notes   []string
}

// stat is what the rounds of one measurement give.
type stat struct {
	n, dnf        int
	med, min, max float64
}

func (d *data) stat(server, workload, metric string) stat {
	var s stat
	var xs []float64
	for _, v := range d.samples[key{server, workload, metric}] {
		if f, err := strconv.ParseFloat(v.value, 64); err == nil {
			xs = append(xs, f)
		} else {
			s.dnf++
		}
	}
	s.n = len(xs)
	if s.n == 0 {
		return s
	}
	slices.Sort(xs)
	s.min, s.max = xs[0], xs[len(xs)-1]
	s.med = xs[len(xs)/2]
	if len(xs)%2 == 0 {
		s.med = (xs[len(xs)/2-1] + xs[len(xs)/2]) / 2
	}
	return s
}

// sum adds up a metric over the rounds (error counts).
func (d *data) sum(server, workload, metric string) (float64, bool) {
	var t float64
	ss := d.samples[key{server, workload, metric}]
	for _, v := range ss {
		f, _ := strconv.ParseFloat(v.value, 64)
		t += f
	}
	return t, len(ss) > 0
}

// texts returns the distinct non-numeric values of a metric (DNF reasons).
func (d *data) texts(server, workload, metric string) []string {
	var out []string
	for _, v := range d.samples[key{server, workload, metric}] {
		if !slices.Contains(out, v.value) {
			out = append(out, v.value)
		}
	}
	return out
}

func num(f float64) string {
	switch a := max(f, -f); {
	case a >= 100:
		return strconv.FormatFloat(f, 'f', 0, 64)
	case a >= 10:
		return strconv.FormatFloat(f, 'f', 1, 64)
	default:
		return strconv.FormatFloat(f, 'f', 2, 64)
	}
}

func (s stat) String() string {
	switch {
	case s.n == 0 && s.dnf == 0:
		return "–"
	case s.n == 0:
		return fmt.Sprintf("**DNF** %d/%d", s.dnf, s.dnf)
	}
	out := num(s.med)
	if s.n > 1 {
		out += " (" + num(s.min) + "–" + num(s.max) + ")"
	}
	if s.dnf > 0 {
		out += fmt.Sprintf(", **DNF** %d/%d", s.dnf, s.n+s.dnf)
	}
	return out
}

// ratio is cgihttpd's median over the peer's, as text.
func ratio(cg, peer stat) string {
	switch {
	case cg.n == 0 && peer.n == 0:
		return "–"
	case peer.n == 0 && peer.dnf > 0:
		return "peer DNF"
	case cg.n == 0 || peer.n == 0 || peer.med == 0:
		return "–"
	}
	return fmt.Sprintf("%.2f×", cg.med/peer.med)
}

type column struct {
	head, metric string
	sum          bool   // show the total over the rounds (error counts)
	ratio        bool   // follow with a cgihttpd ÷ peer column
	workload     string // when not the section's
}

type section struct {
	workload, title, about string
	servers                []string
	cols                   []column
}

func main() {
	resultsPath := flag.String("results", "results.tsv", "measurements from run.sh")
	metaPath := flag.String("meta", "meta", "key=value lines from run.sh")
	flag.Parse()
	d, err := load(*resultsPath, *metaPath)
	if err != nil {
		fmt.Fprintln(os.Stderr, "report:", err)
		os.Exit(1)
	}
	w := bufio.NewWriter(os.Stdout)
	write(w, d)
	if err := w.Flush(); err != nil {
		fmt.Fprintln(os.Stderr, "report:", err)
		os.Exit(1)
	}
}

func load(resultsPath, metaPath string) (*data, error) {
	d := &data{samples: map[key][]sample{}, meta: map[string]string{}}
	b, err := os.ReadFile(resultsPath)
	if err != nil {
		return nil, err
	}
	for line := range strings.Lines(string(b)) {
		f := strings.Split(strings.TrimRight(line, "\n"), "\t")
		if len(f) != 5 {
			continue
		}
		r, _ := strconv.Atoi(f[0])
		k := key{f[1], f[2], f[3]}
		d.samples[k] = append(d.samples[k], sample{r, f[4]})
	}
	b, err = os.ReadFile(metaPath)
	if err != nil {
		return nil, err
	}
	for line := range strings.Lines(string(b)) {
		k, v, ok := strings.Cut(strings.TrimRight(line, "\n"), "=")
		if !ok {
			continue
		}
		if k == "note" {
			d.notes = append(d.notes, v)
		} else {
			d.meta[k] = v
		}
	}
	return d, nil
}

var sections = []section{
	{"hello", "(1) Trivial `#!/bin/sh` CGI, 16 connections",
		"`hello.sh` prints a Content-Type and 5 bytes; wrk, 2 threads, keep-alive.",
		append([]string{"cgihttpd"}, peers...),
		[]column{{"req/s", "rps", false, true, ""}, {"p50 ms", "p50_ms", false, false, ""}, {"p99 ms", "p99_ms", false, false, ""}, {"errors", "errors", true, false, ""}}},
	{"post1m", "(2) 1 MiB POST echoed by the script, 4 connections",
		"`echo-whole.sh` reads the whole body, then writes it back (`dd bs=$CONTENT_LENGTH count=1`); MiB/s counts the body once. " +
			"The streaming `echo.sh` of (4) would not do here: some servers deadlock on it already at 1 MiB (see (4)). " +
			"wrk does not look at the answers, so before it each round POSTs 1 MiB twenty times with curl and counts the echoes that differ from what was sent.",
		append([]string{"cgihttpd"}, peers...),
		[]column{{"req/s", "rps", false, true, ""}, {"MiB/s", "mibps", false, false, ""}, {"errors", "errors", true, false, ""}, {"wrong echoes", "wrong", true, false, ""}}},
	{"big10m", "(3) A script emitting 10 MiB, single stream",
		"`big.sh`: `head -c 10485760 /dev/zero`; curl on one keep-alive connection, again and again.",
		append([]string{"cgihttpd"}, peers...),
		[]column{{"MiB/s", "mibps", false, true, ""}}},
	{"duplex", "(4) Full duplex: 64 MiB POST streamed back while it is read",
		"`echo.sh` streams its stdin back as it reads it (`head -c $CONTENT_LENGTH`); curl reads while it sends. " +
			"A transfer that stops moving either way (curl's `--speed-limit 1 --speed-time` over its own averaging of about 5 s) counts as a deadlock (DNF). " +
			"The last column is the same with a 1 MiB body, in round 1 only.",
		append([]string{"cgihttpd"}, peers...),
		[]column{{"MiB/s", "mibps", false, true, ""}, {"1 MiB, MiB/s", "mibps", false, false, "duplex1m"}}},
	{"static4k", "(5) Static 4 KiB file, 64 connections",
		"The last row is a compiled handler writing the same 4 KiB from memory (the ceiling for any file server).",
		append(append([]string{"cgihttpd"}, peers...), "plain"),
		[]column{{"req/s", "rps", false, true, ""}, {"p99 ms", "p99_ms", false, false, ""}, {"errors", "errors", true, false, ""}}},
	{"static10m", "(6) Static 10 MiB file",
		"wrk with 4 connections (wrk itself takes much of the 2 cores here), and curl on one connection.",
		append([]string{"cgihttpd"}, peers...),
		[]column{{"MiB/s (wrk, 4 conn)", "mibps", false, true, ""}, {"MiB/s (curl, 1 conn)", "curl_mibps", false, true, ""}, {"errors", "errors", true, false, ""}}},
	{"inproc", "(7) In-process Go hello vs a compiled handler, 16 connections",
		"cgihttpd runs `cgi-bin/hello.go` in-process (yaegi, its default for .go; as root, as here, in its interpreter worker process); the compiled handler writes the same 5 bytes.",
		[]string{"cgihttpd", "plain"},
		[]column{{"req/s", "rps", false, true, ""}, {"p50 ms", "p50_ms", false, false, ""}, {"p99 ms", "p99_ms", false, false, ""}, {"errors", "errors", true, false, ""}}},
}

func write(w io.Writer, d *data) {
	m := d.meta
	p := func(format string, a ...any) { _, _ = fmt.Fprintf(w, format, a...) } // w is buffered: main checks Flush
	p("# Benchmarks: cgihttpd side by side\n\n")
	p("Made by `bench/compare/run.sh` (see its header) on %s. Each figure is the median of %s rounds, "+
		"with min–max in brackets. All the servers ran at once in each round, and each workload ran on every one "+
		"of them (cgihttpd, lighttpd, Apache, nginx, busybox, Go net/http/cgi, Python, plain Go; the order rotated "+
		"by one each round) before the next workload began; the spawn loop ran right after workload (1). "+
		"%ss per wrk run, %ss of "+
		"curl per single-stream figure. Ratios are cgihttpd ÷ peer in this run; above 1 is better for cgihttpd "+
		"except for latency and memory.\n\n",
		m["date"], m["rounds"], m["duration"], m["curl_seconds"])
	p("- Machine: %s, %s cores, %s, %s, kernel %s. Load average at the start %s, at the end %s.\n",
		m["cpu"], m["cores"], m["memory"], m["os"], m["kernel"], m["load_start"], m["load_end"])
	p("- **Noisy**: the load generator (wrk, curl) shares the cores with the server, and anything else " +
		"the machine runs shows in the load averages. Only ratios within one run mean much; compare " +
		"min–max before reading anything into a small difference.\n")
	p("- Errors, in the tables that have them: wrk's connect, write and timeout errors and answers of " +
		"status 400 or more, over all rounds. Read errors are left out, as wrk counts one at the end of " +
		"every answer that ends by closing the connection (Python's and busybox's CGI answers).\n")
	if r := m["remark"]; r != "" {
		p("- %s\n", r)
	}
	p("- Versions: cgihttpd %s (%s), %s, %s, %s, %s, %s; wrk %s, %s.\n",
		m["v_cgihttpd"], m["v_go"], m["v_lighttpd"], m["v_apache2"], m["v_nginx"], m["v_busybox"],
		m["v_python"], m["v_wrk"], m["v_curl"])
	if s, err := strconv.Atoi(m["seconds"]); err == nil {
		p("- Whole run, install and build included: %dm%02ds.\n", s/60, s%60)
	}
	p("\n")

	writeTargets(w, d)

	for _, s := range sections {
		p("## %s\n\n%s\n\n", s.title, s.about)
		p("| server |")
		for _, c := range s.cols {
			p(" %s |", c.head)
			if c.ratio {
				p(" cgihttpd ÷ |")
			}
		}
		p("\n|---|")
		for _, c := range s.cols {
			p("---:|")
			if c.ratio {
				p("---:|")
			}
		}
		p("\n")
		for _, srv := range s.servers {
			p("| %s |", names[srv])
			for _, c := range s.cols {
				wl := s.workload
				if c.workload != "" {
					wl = c.workload
				}
				st := d.stat(srv, wl, c.metric)
				if c.sum {
					if t, ok := d.sum(srv, wl, c.metric); ok {
						p(" %.0f |", t)
					} else {
						p(" – |")
					}
				} else {
					p(" %s |", st)
				}
				if c.ratio {
					if srv == "cgihttpd" {
						p(" |")
					} else {
						p(" %s |", ratio(d.stat("cgihttpd", wl, c.metric), st))
					}
				}
			}
			p("\n")
		}
		if s.workload == "duplex" {
			for _, srv := range s.servers {
				for _, wl := range []string{"duplex", "duplex1m"} {
					if why := d.texts(srv, wl, "dnf"); len(why) > 0 {
						p("\n%s, %s: %s.", names[srv], map[string]string{"duplex": "64 MiB", "duplex1m": "1 MiB"}[wl], strings.Join(why, "; "))
					}
				}
			}
			p("\n")
		}
		if s.workload == "post1m" {
			for _, srv := range s.servers {
				if w := d.wrongEchoes(srv); w != "" {
					p("\n%s: %s, so its req/s counts answers that were not the body sent.\n", names[srv], w)
				}
			}
		}
		if s.workload == "inproc" {
			p("\nIn-process ÷ cgihttpd's own `hello.sh` (workload 1): %s.\n",
				ratio(d.stat("cgihttpd", "inproc", "rps"), d.stat("cgihttpd", "hello", "rps")))
		}
		p("\n")
	}

	p("## (8) Spawn ceiling: `os/exec` of `hello.sh` in a loop\n\n")
	p("Go's `os/exec` (which spawns with `CLONE_VM|CLONE_VFORK`), run as nobody, stdout read through " +
		"a pipe; no HTTP at all. The last column is cgihttpd's workload (1) over this rate.\n\n")
	p("| workers | spawns/s | cgihttpd (1) ÷ |\n|---:|---:|---:|\n")
	for _, wk := range []string{"w1", "w2", "w16"} {
		st := d.stat("spawn", "spawn", wk)
		p("| %s | %s | %s |\n", wk[1:], st, ratio(d.stat("cgihttpd", "hello", "rps"), st))
	}
	p("\n")

	p("## (9) Memory\n\n")
	p("RSS in MiB, summed over every process of the server's session (workers, helpers such as " +
		"fcgiwrap and Apache's cgid daemon, and running scripts), so shared pages count once per " +
		"process: multi-process servers come out high. Idle is one second after start; then 1,000 " +
		"keep-alive connections each GET the 4 KiB file and stay open (the added column is per round); " +
		"\"open\" is how many the server still held 1.5 s later (not measured for Python and busybox, " +
		"which close every connection after one answer); during (1) is the highest of twice-a-second readings.\n\n")
	p("| server | idle | 1,000 idle conns | added | open | during (1) | idle: cgihttpd ÷ |\n")
	p("|---|---:|---:|---:|---:|---:|---:|\n")
	for _, srv := range append([]string{"cgihttpd"}, peers...) {
		idle := d.stat(srv, "memory", "idle_mib")
		r := ""
		if srv != "cgihttpd" {
			r = ratio(d.stat("cgihttpd", "memory", "idle_mib"), idle)
		}
		p("| %s | %s | %s | %s | %s | %s | %s |\n", names[srv], idle, d.stat(srv, "memory", "conns1000_mib"),
			d.added(srv), d.stat(srv, "memory", "conns_open"), d.stat(srv, "hello", "rss_mib"), r)
	}
	p("\n")

	writeTLS(w, d)

	p("## The peers\n\n")
	p("- **cgihttpd**: this tree, built by the run; started as root, so scripts run as nobody; " +
		"defaults (`--max-scripts` 8 per CPU, `--log-level warn`).\n")
	p("- **lighttpd** `mod_cgi`: one process, `server.username = \"nobody\"`; request and response " +
		"bodies buffered (its defaults), keep-alive limit raised to 100,000.\n")
	p("- **Apache** event MPM + `mod_cgid`, `-DFOREGROUND`, compiled-in MPM sizes, children and scripts as nobody, " +
		"`MaxKeepAliveRequests 0`, no access log.\n")
	p("- **nginx + fcgiwrap**: nginx workers (auto: one per core) as nobody; fcgiwrap started by " +
		"`spawn-fcgi` as nobody with 16 preforked processes on a unix socket; nginx's default buffering.\n")
	p("- **busybox httpd** `-f -u nobody:nogroup`: a process per connection, no keep-alive.\n")
	p("- **Go net/http/cgi**: `bench/compare/peers/netcgi`, a `cgi.Handler` per script and " +
		"`http.FileServer` for the rest, run as nobody. It is also the `http.FileServer` of target (5).\n")
	p("- **python3** `-m http.server --cgi`: started as root, as Python's handler switches each " +
		"script to nobody; HTTP/1.0, a new connection per request; scripts write straight to the socket.\n")
	p("- **plain Go**: `bench/compare/peers/plain`, `net/http` handlers writing the bytes from memory.\n")
	p("- **Over TLS** (10): cgihttpd with `--tls-cert`/`--tls-key`, and lighttpd with `mod_openssl` " +
		"(`conf/lighttpd-tls.conf`), both on the run's own ECDSA P-256 certificate made by `openssl req`.\n")
	p("- Scripts: `bench/compare/site/cgi-bin`; static files are random bytes made by the run.\n\n")

	if len(d.notes) > 0 {
		p("## Notes from the run\n\n")
		for _, n := range d.notes {
			p("- %s\n", n)
		}
		p("\n")
	}
}

// added is the per-round growth of RSS from idle to 1,000 idle connections.
func (d *data) added(server string) stat {
	idle := map[int]float64{}
	for _, v := range d.samples[key{server, "memory", "idle_mib"}] {
		if f, err := strconv.ParseFloat(v.value, 64); err == nil {
			idle[v.round] = f
		}
	}
	k := key{server, "memory", "added_mib"}
	if _, done := d.samples[k]; !done {
		for _, v := range d.samples[key{server, "memory", "conns1000_mib"}] {
			f, err := strconv.ParseFloat(v.value, 64)
			i, ok := idle[v.round]
			if err == nil && ok {
				d.samples[k] = append(d.samples[k], sample{v.round, strconv.FormatFloat(f-i, 'f', 1, 64)})
			}
		}
	}
	return d.stat(server, "memory", "added_mib")
}

// wrongEchoes describes the server's wrong answers in the echo checks of (2), or is empty.
func (d *data) wrongEchoes(server string) string {
	wrong, _ := d.sum(server, "post1m", "wrong")
	checks, _ := d.sum(server, "post1m", "checks")
	if wrong == 0 {
		return ""
	}
	return fmt.Sprintf("%.0f of %.0f checked echoes of 1 MiB came back wrong", wrong, checks)
}

// fastest is the peer with the highest median of a metric.
func (d *data) fastest(workload, metric string) (string, stat) {
	best, bs := "", stat{}
	for _, p := range peers {
		if s := d.stat(p, workload, metric); s.n > 0 && (best == "" || s.med > bs.med) {
			best, bs = p, s
		}
	}
	return best, bs
}

func writeTargets(w io.Writer, d *data) {
	p := func(format string, a ...any) { _, _ = fmt.Fprintf(w, format, a...) } // w is buffered: main checks Flush
	p("## Targets\n\n| target | measured in this run | met |\n|---|---|:-:|\n")
	row := func(target, measured string, met bool, known bool) {
		mark := "no"
		switch {
		case !known:
			mark = "?"
		case met:
			mark = "**yes**"
		}
		p("| %s | %s | %s |\n", target, measured, mark)
	}
	cg := func(wl, m string) stat { return d.stat("cgihttpd", wl, m) }
	// vsFastest rates cgihttpd against the best peer; wrong, when not empty, says why its
	// figure does not count.
	vsFastest := func(target, wl, m, unit string, want float64, wrong string) {
		c := cg(wl, m)
		name, f := d.fastest(wl, m)
		if c.n == 0 || name == "" {
			row(target, "no figures", false, false)
			return
		}
		r := c.med / f.med
		measured := fmt.Sprintf("%.3f× (cgihttpd %s %s, fastest peer %s %s)", r, num(c.med), unit, names[name], num(f.med))
		if wrong != "" {
			measured += "; but " + wrong
		}
		row(target, measured, r >= want && wrong == "", true)
	}
	vs := func(target string, c, o stat, what, unit string, want float64) {
		if c.n == 0 || o.n == 0 || o.med == 0 {
			row(target, "no figures", false, false)
			return
		}
		r := c.med / o.med
		row(target, fmt.Sprintf("%.3f× (%s %s vs %s %s)", r, num(c.med), unit, what, num(o.med)), r >= want, true)
	}

	vsFastest("(1) hello.sh ≥ 1.0× the fastest peer", "hello", "rps", "req/s", 1.0, "")
	var ceil stat
	ceilW := ""
	for _, wk := range []string{"w1", "w2", "w16"} {
		if s := d.stat("spawn", "spawn", wk); s.n > 0 && s.med > ceil.med {
			ceil, ceilW = s, wk[1:]
		}
	}
	vs("(1) hello.sh ≥ 0.9× the spawn ceiling", cg("hello", "rps"), ceil, "spawn ceiling ("+ceilW+" workers)", "req/s", 0.9)
	vsFastest("(2) 1 MiB POST ≥ 1.0× the fastest peer", "post1m", "rps", "req/s", 1.0, d.wrongEchoes("cgihttpd"))
	vsFastest("(3) 10 MiB from a script ≥ 1.0× the fastest peer", "big10m", "mibps", "MiB/s", 1.0, "")

	c := cg("duplex", "mibps")
	var dnf []string
	for _, pe := range peers {
		if s := d.stat(pe, "duplex", "mibps"); s.dnf > 0 {
			dnf = append(dnf, fmt.Sprintf("%s %d/%d", names[pe], s.dnf, s.n+s.dnf))
		}
	}
	others := "every peer finished"
	if len(dnf) > 0 {
		others = "did not finish: " + strings.Join(dnf, ", ")
	}
	if c.n+c.dnf == 0 {
		row("(4) 64 MiB full duplex completes", "no figures", false, false)
	} else {
		row("(4) 64 MiB full duplex completes", fmt.Sprintf("cgihttpd finished %d/%d rounds (%s MiB/s); %s",
			c.n, c.n+c.dnf, num(c.med), others), c.dnf == 0, true)
	}
	vs("(5) static 4 KiB ≥ 1.5× Go http.FileServer", cg("static4k", "rps"), d.stat("netcgi", "static4k", "rps"), "http.FileServer", "req/s", 1.5)
	if c, l := cg("static4k", "p99_ms"), d.stat("lighttpd", "static4k", "p99_ms"); c.n > 0 && l.n > 0 {
		p("| (5) static 4 KiB p99 latency, beside lighttpd's | cgihttpd %s ms, lighttpd %s ms | reported |\n", num(c.med), num(l.med))
	} else {
		row("(5) static 4 KiB p99 latency, beside lighttpd's", "no figures", false, false)
	}
	vs("(5) static 4 KiB ≥ 0.9× a handler writing it from memory", cg("static4k", "rps"), d.stat("plain", "static4k", "rps"), "plain handler", "req/s", 0.9)
	vsFastest("(6) static 10 MiB ≥ 1.0× the fastest peer (wrk)", "static10m", "mibps", "MiB/s", 1.0, "")
	vsFastest("(6) static 10 MiB ≥ 1.0× the fastest peer (curl, 1 stream)", "static10m", "curl_mibps", "MiB/s", 1.0, "")
	vs("(7) in-process ≥ 0.25× the compiled handler", cg("inproc", "rps"), d.stat("plain", "inproc", "rps"), "compiled", "req/s", 0.25)
	vs("(7) in-process ≥ 10× workload (1)", cg("inproc", "rps"), cg("hello", "rps"), "hello.sh", "req/s", 10)

	idle := cg("memory", "idle_mib")
	if idle.n == 0 {
		row("(9) idle RSS ≤ 20 MiB", "no figures", false, false)
	} else {
		row("(9) idle RSS ≤ 20 MiB", num(idle.med)+" MiB", idle.med <= 20, true)
	}
	added, open := d.added("cgihttpd"), cg("memory", "conns_open")
	if added.n == 0 {
		row("(9) 1,000 idle connections add ≤ 40 MiB", "no figures", false, false)
	} else {
		row("(9) 1,000 idle connections add ≤ 40 MiB", fmt.Sprintf("%s MiB (%s of 1,000 still open)", num(added.med), num(open.med)),
			added.med <= 40 && open.med >= 1000, true)
	}
	p("\n")
}
