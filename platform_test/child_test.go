package platform_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"
)

// childVar is set (through server.Config.Env) in every script's environment: it tells the
// test binary that it runs as a CGI script. Which script it is comes from its file name.
const childVar = "CGIHTTPD_TEST_CHILD"

// childModes are the scripts that the test binary can be: each is a hard link (or copy) of
// it in the test site's cgi-bin, named after its mode.
var childModes = map[string]func() int{
	"env":            childEnv,
	"echo":           childEcho,
	"echo-late":      childEchoLate,
	"ids":            childIDs,
	"status":         func() int { return say("Status: 418 I'm a teapot\nContent-Type: text/plain\n\nteapot\n") },
	"lowerstatus":    func() int { return say("status: 201 Created\ncontent-type: text/plain\n\ncreated\n") },
	"redirect-local": func() int { return say("Location: /cgi-bin/env" + ownExt() + "?from=redirect\n\nignored body\n") },
	"redirect-static": func() int {
		return say("Location: /hello.txt\n\n")
	},
	"redirect-client": func() int { return say("Location: http://example.com/elsewhere\n\n") },
	"redirect-301":    func() int { return say("Status: 301 Moved Permanently\nLocation: http://example.com/moved\n\n") },
	"redirect-loop":   func() int { return say("Location: /cgi-bin/redirect-loop" + ownExt() + "\n\n") },
	"setcookie": func() int {
		return say("Content-Type: text/plain\nSet-Cookie: a=1\nSet-Cookie: b=2\nX-Custom: yes\n\ncookies\n")
	},
	"lying-length": func() int {
		return say("Content-Type: text/plain\nContent-Length: 5\nTransfer-Encoding: chunked\n\nthe whole body, longer than five bytes\n")
	},
	"crlf":        func() int { return say("Content-Type: text/plain\r\nX-Crlf: 1\r\n\r\ncrlf body\n") },
	"badheader":   func() int { return say("Content-Type text/plain\n\nscript-body-text\n") },
	"noheaderend": func() int { return say("Content-Type: text/plain\n") },
	"nooutput":    func() int { return 0 },
	"longheader": func() int {
		return say("X-Long: " + strings.Repeat("a", 70<<10) + "\n\n")
	},
	"exitfail": func() int {
		say("Content-Type: text/plain\n\npartial but complete\n")
		return 7
	},
	"hang": func() int {
		time.Sleep(time.Minute)
		return 0
	},
	"hangbody": func() int {
		say("Content-Type: text/plain\n\nfirst part\n")
		time.Sleep(time.Minute)
		return 0
	},
	"stderrflood": func() int {
		line := strings.Repeat("e", 99) + "\n"
		for i := 0; i < 5000; i++ { // 500 KB, far over the logged bound
			fmt.Fprint(os.Stderr, line)
		}
		fmt.Fprintln(os.Stderr, "last line")
		return say("Content-Type: text/plain\n\nflooded\n")
	},
	"grandchild": childGrandchild,
	"gigabyte": func() int {
		say("Content-Type: application/octet-stream\n\n")
		chunk := bytes.Repeat([]byte("g"), 1<<20)
		for i := 0; i < 1024; i++ {
			if _, err := os.Stdout.Write(chunk); err != nil {
				return 1
			}
		}
		return 0
	},
	"stderr100m": func() int {
		line := append(bytes.Repeat([]byte("s"), 1023), '\n')
		for i := 0; i < 100<<10; i++ {
			if _, err := os.Stderr.Write(line); err != nil {
				return 1
			}
		}
		return say("Content-Type: text/plain\n\nsurvived\n")
	},
	"ignorebody": func() int { return say("Content-Type: text/plain\n\nnot reading\n") },
	"stream": func() int {
		say(fmt.Sprintf("Content-Type: text/plain\nX-Pid: %d\n\n", os.Getpid()))
		for {
			if _, err := os.Stdout.Write([]byte("tick\n")); err != nil {
				return 1
			}
			time.Sleep(10 * time.Millisecond)
		}
	},
	"background": childBackground,
	"closeout":   childCloseOut,
	"readsleep": func() int {
		// Reads its body, then works for a second before it answers.
		body, err := io.ReadAll(os.Stdin)
		if err != nil {
			return 1
		}
		time.Sleep(time.Second)
		return say(fmt.Sprintf("Content-Type: text/plain\n\nread=%d\n", len(body)))
	},
	"nph-raw": func() int {
		return say("HTTP/1.1 299 Custom Raw\r\nContent-Type: text/plain\r\nX-Nph: raw\r\nContent-Length: 9\r\nConnection: close\r\n\r\nraw body\n")
	},
}

// childMain runs the test binary as the script named by its file name.
func childMain() int {
	if os.Getenv(childVar) == "sleep" { // a grandchild
		time.Sleep(time.Minute)
		return 0
	}
	name := filepath.Base(os.Args[0])
	name = strings.TrimSuffix(name, filepath.Ext(name))
	if f, ok := childModes[name]; ok {
		return f()
	}
	fmt.Fprintln(os.Stderr, "unknown child mode", name)
	return 2
}

// ownExt is the extension of this script's file name (".exe" on Windows), for URLs to others.
func ownExt() string { return filepath.Ext(os.Args[0]) }

func say(s string) int {
	if _, err := io.WriteString(os.Stdout, s); err != nil {
		return 1
	}
	return 0
}

// childEnv prints the environment and working directory as "NAME=value" lines.
func childEnv() int {
	env := os.Environ()
	sort.Strings(env)
	wd, _ := os.Getwd()
	var b bytes.Buffer
	b.WriteString("Content-Type: text/plain\n\n")
	for _, kv := range env {
		b.WriteString(kv + "\n")
	}
	b.WriteString("CWD=" + wd + "\n")
	return say(b.String())
}

// childEcho echoes exactly CONTENT_LENGTH bytes of the body, after a line naming the length.
func childEcho() int {
	body, err := io.ReadAll(os.Stdin)
	if err != nil {
		return 1
	}
	return say(fmt.Sprintf("Content-Type: text/plain\n\nCONTENT_LENGTH=%s read=%d\n%s",
		os.Getenv("CONTENT_LENGTH"), len(body), body))
}

// childEchoLate answers its headers at once, reads all but the last 100 KiB of its body,
// waits, then reads the rest: the server must not have thrown that rest away meanwhile
// (net/http does so to a handler that writes its response before it reads the body,
// unless full duplex is on).
func childEchoLate() int {
	say("Content-Type: text/plain\n\n")
	n, _ := strconv.Atoi(os.Getenv("CONTENT_LENGTH"))
	first, err := io.ReadAll(io.LimitReader(os.Stdin, int64(max(n-100<<10, 0))))
	if err != nil {
		return 1
	}
	time.Sleep(100 * time.Millisecond)
	rest, err := io.ReadAll(os.Stdin)
	if err != nil {
		return 1
	}
	return say(fmt.Sprintf("read=%d sum=%x\n", len(first)+len(rest), sha256.Sum256(append(first, rest...))))
}

// identity is what the "ids" script reports.
type identity struct {
	UID, GID, EUID, EGID int
	Groups               []int
}

func childIDs() int {
	groups, _ := os.Getgroups()
	b, _ := json.Marshal(identity{os.Getuid(), os.Getgid(), os.Geteuid(), os.Getegid(), groups})
	return say("Content-Type: application/json\n\n" + string(b) + "\n")
}

// childGrandchild starts a sleeping grandchild, names it in a header, and hangs.
func childGrandchild() int {
	gc := exec.Command(os.Args[0])
	gc.Env = []string{childVar + "=sleep"}
	if err := gc.Start(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	say(fmt.Sprintf("Content-Type: text/plain\nX-Grandchild: %d\n\n", gc.Process.Pid))
	time.Sleep(time.Minute)
	return 0
}

// childBackground answers, leaves a sleeping child holding its stdout, and exits.
func childBackground() int {
	gc := exec.Command(os.Args[0])
	gc.Env = []string{childVar + "=sleep"}
	gc.Stdout = os.Stdout
	if err := gc.Start(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return say(fmt.Sprintf("Content-Type: text/plain\nX-Grandchild: %d\n\ndone\n", gc.Process.Pid))
}

// childCloseOut answers in full, names its pid in a header, closes its stdout and stays.
func childCloseOut() int {
	if say(fmt.Sprintf("Content-Type: text/plain\nX-Pid: %d\n\nhi", os.Getpid())) != 0 {
		return 1
	}
	_ = os.Stdout.Close()
	time.Sleep(time.Minute)
	return 0
}
