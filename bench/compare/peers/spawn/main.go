// Command spawn measures the machine's own process-spawn ceiling for a CGI script: WORKERS
// goroutines each run SCRIPT through os/exec in a loop (fork+exec, stdout read through a
// pipe, wait) for DURATION, then it prints the rate as "spawns/s N".
//
//	spawn -workers 16 -duration 5s /srv/www/cgi-bin/hello.sh
package main

import (
	"flag"
	"fmt"
	"os"
	"os/exec"
	"sync"
	"sync/atomic"
	"time"
)

func main() {
	workers := flag.Int("workers", 1, "scripts run at once")
	duration := flag.Duration("duration", 5*time.Second, "how long to spawn")
	flag.Parse()
	if flag.NArg() != 1 {
		fmt.Fprintln(os.Stderr, "usage: spawn [-workers N] [-duration D] SCRIPT")
		os.Exit(2)
	}
	script := flag.Arg(0)
	// The environment a CGI script gets is about this small.
	env := []string{"PATH=/usr/local/bin:/usr/bin:/bin", "GATEWAY_INTERFACE=CGI/1.1", "REQUEST_METHOD=GET"}

	var spawns, failures atomic.Int64
	deadline := time.Now().Add(*duration)
	start := time.Now()
	var wg sync.WaitGroup
	for range *workers {
		wg.Go(func() {
			for time.Now().Before(deadline) {
				cmd := exec.Command(script)
				cmd.Env = env
				if _, err := cmd.Output(); err != nil {
					failures.Add(1)
					continue
				}
				spawns.Add(1)
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	fmt.Printf("spawns/s %.1f\n", float64(spawns.Load())/elapsed.Seconds())
	if n := failures.Load(); n > 0 {
		fmt.Fprintf(os.Stderr, "spawn: %d runs failed\n", n)
		os.Exit(1)
	}
}
