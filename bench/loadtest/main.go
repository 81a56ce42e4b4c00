// Command loadtest sends a bounded, mixed load to a cgihttpd on this machine and reports what
// came back and what it cost the server: requests, errors other than 503, latency p50/p99,
// and the server's RSS and open file descriptors before and after (read from /proc).
//
//	loadtest -base http://127.0.0.1:8000 -pid 1234 -conns 64 -duration 60s \
//	    -path / -path /files/hello.txt -path /cgi-bin/hello.sh -path /cgi-bin/guestbook.go
package main

import (
	"bufio"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

type pathList []string

func (p *pathList) String() string     { return strings.Join(*p, ",") }
func (p *pathList) Set(v string) error { *p = append(*p, v); return nil }

func main() {
	base := flag.String("base", "http://127.0.0.1:8000", "server URL (loopback only)")
	pid := flag.Int("pid", 0, "server process id, for RSS and open files (0: not measured)")
	conns := flag.Int("conns", 64, "concurrent keep-alive connections")
	duration := flag.Duration("duration", 60*time.Second, "how long to send")
	var paths pathList
	flag.Var(&paths, "path", "a path to request; repeatable, used in turn")
	flag.Parse()
	if len(paths) == 0 {
		paths = pathList{"/"}
	}
	u, err := url.Parse(*base)
	if err != nil || !isLoopback(u.Hostname()) {
		fmt.Fprintln(os.Stderr, "loadtest: -base must be a loopback URL")
		os.Exit(2)
	}
	rssBefore, fdsBefore := usage(*pid)
	res := run(u.Host, paths, *conns, *duration)
	rssAfter, fdsAfter := usage(*pid)

	slices.Sort(res.latencies)
	pct := func(p int) time.Duration {
		if len(res.latencies) == 0 {
			return 0
		}
		return res.latencies[len(res.latencies)*p/100]
	}
	fmt.Printf("requests %d in %s at %d connections: %.0f req/s\n", res.requests, *duration, *conns, float64(res.requests)/duration.Seconds())
	fmt.Printf("status counts %v\n", res.statuses)
	fmt.Printf("errors (not 503) %d\n", res.errors)
	fmt.Printf("latency p50 %s p99 %s\n", pct(50), pct(99))
	if *pid != 0 {
		fmt.Printf("server RSS %d KiB -> %d KiB; open fds %d -> %d\n", rssBefore, rssAfter, fdsBefore, fdsAfter)
	}
	if res.errors > 0 {
		os.Exit(1)
	}
}

type result struct {
	requests, errors int
	statuses         map[int]int
	latencies        []time.Duration
}

// run keeps conns connections busy until duration has passed.
func run(hostport string, paths []string, conns int, duration time.Duration) result {
	deadline := time.Now().Add(duration)
	var mu sync.Mutex
	total := result{statuses: map[int]int{}}
	var wg sync.WaitGroup
	for i := 0; i < conns; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := worker(hostport, paths, i, deadline)
			mu.Lock()
			defer mu.Unlock()
			total.requests += r.requests
			total.errors += r.errors
			for k, v := range r.statuses {
				total.statuses[k] += v
			}
			total.latencies = append(total.latencies, r.latencies...)
		}()
	}
	wg.Wait()
	return total
}

func worker(hostport string, paths []string, offset int, deadline time.Time) result {
	r := result{statuses: map[int]int{}}
	var conn net.Conn
	var br *bufio.Reader
	for i := offset; time.Now().Before(deadline); i++ {
		if conn == nil {
			c, err := net.DialTimeout("tcp", hostport, 5*time.Second)
			if err != nil {
				r.errors++
				time.Sleep(10 * time.Millisecond)
				continue
			}
			conn, br = c, bufio.NewReader(c)
		}
		p := paths[i%len(paths)]
		start := time.Now()
		_ = conn.SetDeadline(start.Add(30 * time.Second))
		_, err := fmt.Fprintf(conn, "GET %s HTTP/1.1\r\nHost: loadtest\r\n\r\n", p)
		var resp *http.Response
		if err == nil {
			resp, err = http.ReadResponse(br, nil)
		}
		if err == nil {
			_, err = io.Copy(io.Discard, resp.Body)
			_ = resp.Body.Close()
		}
		r.requests++
		if err != nil {
			r.errors++
			_ = conn.Close()
			conn = nil
			continue
		}
		r.latencies = append(r.latencies, time.Since(start))
		r.statuses[resp.StatusCode]++
		if resp.StatusCode >= 400 && resp.StatusCode != http.StatusServiceUnavailable {
			r.errors++
		}
		if resp.Close {
			_ = conn.Close()
			conn = nil
		}
	}
	if conn != nil {
		_ = conn.Close()
	}
	return r
}

// usage reads a process's resident memory (KiB) and open descriptors from /proc.
func usage(pid int) (rssKiB, fds int) {
	if pid == 0 {
		return 0, 0
	}
	status, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "status"))
	if err == nil {
		for _, line := range strings.Split(string(status), "\n") {
			if f := strings.Fields(line); len(f) >= 2 && f[0] == "VmRSS:" {
				rssKiB, _ = strconv.Atoi(f[1])
			}
		}
	}
	entries, _ := os.ReadDir(filepath.Join("/proc", strconv.Itoa(pid), "fd"))
	return rssKiB, len(entries)
}

func isLoopback(host string) bool {
	ip := net.ParseIP(host)
	return host == "localhost" || (ip != nil && ip.IsLoopback())
}
