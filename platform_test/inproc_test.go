package platform_test

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/cgihttpd/cgihttpd/internal/testutil"
	"github.com/cgihttpd/cgihttpd/server"
)

// inprocServer serves root with every .go script in-process and returns its URL and log.
func inprocServer(t *testing.T, root string, mode string, timeout time.Duration, mutate ...func(*server.Config)) (string, *testutil.SyncBuffer) {
	t.Helper()
	logs := &testutil.SyncBuffer{}
	cfg := server.Config{Root: root, ExecutorMode: mode, Timeout: timeout, Env: []string{"GORACE=atexit_sleep_ms=0"}}
	for _, m := range mutate {
		m(&cfg)
	}
	srv, err := server.New(cfg, hclog.New(&hclog.LoggerOptions{Output: logs, Level: hclog.Debug}))
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(srv)
	t.Cleanup(func() {
		ts.Close()
		_ = srv.Close()
		if t.Failed() {
			t.Logf("server log:\n%s", logs.String())
		}
	})
	return ts.URL, logs
}

func writeScripts(t *testing.T, scripts map[string]string) string {
	t.Helper()
	root := testutil.WorldDir(t)
	mkdirAll(t, filepath.Join(root, "cgi-bin"))
	for name, src := range scripts {
		if err := os.WriteFile(filepath.Join(root, "cgi-bin", name), []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return root
}

func fetch(t *testing.T, client *http.Client, method, u, body string) (*reply, string) {
	t.Helper()
	req, err := http.NewRequest(method, u, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	return testutil.Do(t, client, req)
}

const goHeader = "package main\n\nimport (\n\t\"fmt\"\n\t\"os\"\n\t\"time\"\n)\n\nvar _ = time.Second\nvar _ = os.Args\n\n"

// TestInProcessHostileScripts: each misbehaving script gets a clear answer and a log line,
// and the server goes on answering.
func TestInProcessHostileScripts(t *testing.T) {
	testutil.CheckLeaks(t)
	main := func(body string) string { return goHeader + "func main() {\n" + body + "\n}\n" }
	type hostileCase struct {
		name, src string
		status    int
		log       string
	}
	cases := []hostileCase{
		{"endless loop", main(`fmt.Print("Content-Type: text/plain\n\n"); for {}`), 200, "script stopped during its body"},
		{"endless loop before headers", main(`for {}`), 504, "timed out"},
		{"sleeps an hour", main(`time.Sleep(time.Hour)`), 504, "timed out"},
		{"exit 3", main(`os.Exit(3)`), 502, "exit status 3"},
		{"panic", main(`panic("boom")`), 502, "panic: boom"},
		{"panic after headers", main(`fmt.Print("Content-Type: text/plain\n\nsome"); var m map[string]int; m["x"] = 1`), 200, "exit status 2"},
		{"goroutine", main(`go func() { panic(1) }(); time.Sleep(time.Second)`), 500, "go statements are not allowed"},
		{"callback goroutine", main(`time.AfterFunc(time.Millisecond, func() { panic(1) })`), 500, "time.AfterFunc is not allowed"},
		{"start process", main(`os.StartProcess("/bin/id", nil, nil)`), 500, "os.StartProcess is not allowed"},
		{"server stdout by fd", main(`f := os.NewFile(1, ""); f.WriteString("leak")`), 500, "os.NewFile is not allowed"},
		{"chdir", main(`os.Chdir("/")`), 500, "os.Chdir is not allowed"},
		{"os/exec", "package main\n\nimport \"os/exec\"\n\nfunc main() { exec.Command(\"id\").Run() }\n", 500, `os/exec\" is not allowed`},
		{"unsafe", "package main\n\nimport \"unsafe\"\n\nfunc main() { _ = unsafe.Sizeof(1) }\n", 500, `unsafe\" is not allowed`},
		{"syscall", "package main\n\nimport \"syscall\"\n\nfunc main() { syscall.Getpid() }\n", 500, `syscall\" is not allowed`},
		{"log.Fatal", "package main\n\nimport \"log\"\n\nfunc main() { log.Fatal(\"fatal words\") }\n", 502, "exit status 1"},
		{"syntax error", "package main\n\nfunc main() {\n", 500, "does not parse"},
		{"not package main", "package lib\n\nfunc main() {}\n", 500, "want package main"},
		{"no main", "package main\n\nfunc notmain() {}\n", 500, "no func main"},
		{"range over int", main(`for i := range 10 { fmt.Println(i) }`), 500, "does not compile"},
		{"32 MiB of output", main(`fmt.Print("Content-Type: application/octet-stream\n\n"); b := make([]byte, 1<<20); for i := 0; i < 32; i++ { os.Stdout.Write(b) }`), 200, ""},
		// Scripts that never name os.Stdout print straight to the response, without a pipe.
		{"10 MiB printed", main(`fmt.Print("Content-Type: application/octet-stream\n\n"); b := string(make([]byte, 1<<20)); for i := 0; i < 10; i++ { fmt.Print(b) }`), 200, ""},
		{"endless printing", main(`fmt.Print("Content-Type: text/plain\n\n"); for { fmt.Print("x") }`), 200, "script stopped during its body"},
		{"reserved name", main(`cgihttpdPark := 1; _ = cgihttpdPark`), 500, "names starting with cgihttpd are reserved"},
	}
	if runtime.GOOS != "windows" && os.Geteuid() == 0 {
		// Stuck in a Go call, where yaegi cannot stop it: its worker is killed after the kill
		// grace. Inside the server (Windows, or not root) its goroutine would be left behind.
		cases = append(cases, hostileCase{"stuck in a Go call", "package main\n\nimport \"sync\"\n\nfunc main() { var mu sync.Mutex; mu.Lock(); mu.Lock() }\n", 504, "timed out"})
	}
	scripts := map[string]string{"ok.go": main(`fmt.Print("Content-Type: text/plain\n\nstill here\n")`)}
	for i, c := range cases {
		scripts[fmt.Sprintf("s%d.go", i)] = c.src
	}
	root := writeScripts(t, scripts)
	// The scripts that never end take the whole timeout; the large outputs must fit in it
	// on a busy machine, under -race.
	timeout := 4 * time.Second
	if runtime.GOOS == "windows" {
		timeout = 8 * time.Second // 32 MiB through Windows pipes, or Wine's, take seconds
	}
	base, logs := inprocServer(t, root, "inproc", timeout)
	client := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{}}
	defer client.CloseIdleConnections()
	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			req, _ := http.NewRequest("GET", fmt.Sprintf("%s/cgi-bin/s%d.go", base, i), nil)
			resp, err := client.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			n, _ := io.Copy(io.Discard, resp.Body) // a cut body is the expected end for some
			_ = resp.Body.Close()
			if resp.StatusCode != c.status {
				t.Errorf("status = %d, want %d", resp.StatusCode, c.status)
			}
			if want := map[string]int64{"32 MiB of output": 32 << 20, "10 MiB printed": 10 << 20}[c.name]; want != 0 && n != want {
				t.Errorf("body = %d bytes, want %d", n, want)
			}
			if c.log != "" && !waitFor(func() bool { return strings.Contains(logs.String(), c.log) }) {
				t.Errorf("log lacks %q", c.log)
			}
			if resp, body := fetch(t, client, "GET", base+"/cgi-bin/ok.go", ""); resp.StatusCode != 200 || body != "still here\n" {
				t.Fatalf("server no longer answers: %d %q", resp.StatusCode, body)
			}
		})
	}
}

// TestInProcessIsolation: concurrent requests each see their own environment and body, and
// nothing reaches the server's own stdout.
func TestInProcessIsolation(t *testing.T) {
	testutil.CheckLeaks(t)
	root := writeScripts(t, map[string]string{"whoami.go": `package main

import (
	"fmt"
	"io"
	"os"
)

func main() {
	body, _ := io.ReadAll(os.Stdin)
	fmt.Print("Content-Type: text/plain\n\n")
	fmt.Fprintf(os.Stdout, "query=%s\n", os.Getenv("QUERY_STRING"))
	os.Stdout.WriteString("body=" + string(body) + "\n")
	println("println works too")
}
`})
	// Anything a script wrote to the server's real stdout would land in this pipe.
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	realStdout := os.Stdout
	os.Stdout = w
	leaked := make(chan []byte, 1)
	go func() { b, _ := io.ReadAll(r); leaked <- b }()
	defer func() {
		os.Stdout = realStdout
		_ = w.Close()
		if b := <-leaked; len(b) > 0 {
			t.Errorf("scripts wrote to the server's stdout: %q", b)
		}
		_ = r.Close()
	}()

	base, _ := inprocServer(t, root, "auto", 10*time.Second)
	client := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 50}}
	defer client.CloseIdleConnections()
	var wg sync.WaitGroup
	errs := make(chan error, 50)
	for i := 0; i < 50; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			q := fmt.Sprintf("n=%d", i)
			body := fmt.Sprintf("payload-%d", i)
			req, _ := http.NewRequest("POST", base+"/cgi-bin/whoami.go?"+q, strings.NewReader(body))
			resp, err := client.Do(req)
			if err != nil {
				errs <- err
				return
			}
			b, _ := io.ReadAll(resp.Body)
			_ = resp.Body.Close()
			want := "query=" + q + "\nbody=" + body + "\nprintln works too\n"
			if string(b) != want {
				errs <- fmt.Errorf("request %d got %q, want %q", i, b, want)
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

// TestInProcessFreshStatePerRequest: package variables start anew for every request, as in
// a process per request, and an edited script is picked up at once.
func TestInProcessFreshStatePerRequest(t *testing.T) {
	testutil.CheckLeaks(t)
	counter := "package main\n\nimport \"fmt\"\n\nvar n int\n\nfunc main() {\n\tn++\n\tfmt.Printf(\"Content-Type: text/plain\\n\\nn=%d\\n\", n)\n}\n"
	root := writeScripts(t, map[string]string{"counter.go": counter})
	base, _ := inprocServer(t, root, "auto", 10*time.Second)
	client := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{}}
	defer client.CloseIdleConnections()
	for i := 0; i < 3; i++ {
		if _, body := fetch(t, client, "GET", base+"/cgi-bin/counter.go", ""); body != "n=1\n" {
			t.Fatalf("request %d: %q, want n=1 (state carried over)", i, body)
		}
	}
	edited := strings.Replace(counter, "n=%d", "edited n=%d", 1)
	if err := os.WriteFile(filepath.Join(root, "cgi-bin", "counter.go"), []byte(edited), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, body := fetch(t, client, "GET", base+"/cgi-bin/counter.go", ""); body != "edited n=1\n" {
		t.Errorf("after editing: %q", body)
	}
}

// TestInProcessSameSizeEditInOneTick: an edit that keeps the script's size and mtime (two
// saves within one timestamp tick) still reaches the next request.
func TestInProcessSameSizeEditInOneTick(t *testing.T) {
	testutil.CheckLeaks(t)
	script := func(word string) string {
		return "package main\n\nimport \"fmt\"\n\nfunc main() {\n\tfmt.Print(\"Content-Type: text/plain\\n\\n" + word + "\")\n}\n"
	}
	root := writeScripts(t, map[string]string{"word.go": script("first")})
	file := filepath.Join(root, "cgi-bin", "word.go")
	tick := time.Now().Truncate(time.Second)
	if err := os.Chtimes(file, tick, tick); err != nil {
		t.Fatal(err)
	}
	base, _ := inprocServer(t, root, "auto", 10*time.Second)
	client := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{}}
	defer client.CloseIdleConnections()
	for range 3 {
		if _, body := fetch(t, client, "GET", base+"/cgi-bin/word.go", ""); body != "first" {
			t.Fatalf("before the edit: %q", body)
		}
	}
	if err := os.WriteFile(file, []byte(script("other")), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Chtimes(file, tick, tick); err != nil {
		t.Fatal(err)
	}
	if _, body := fetch(t, client, "GET", base+"/cgi-bin/word.go", ""); body != "other" {
		t.Errorf("after a same-size edit in the same tick: %q", body)
	}
}

// TestInProcessMatchesNative: the same Go program, interpreted in-process and compiled and
// run as a process, gives byte-identical responses.
func TestInProcessMatchesNative(t *testing.T) {
	if len(nativeFactories()) == 0 {
		t.Skip("no native executor on this platform")
	}
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Skip("needs the go command to compile the scripts natively")
	}
	testutil.CheckLeaks(t)
	programs := map[string]string{
		"child.go":     goChild,
		"guestbook.go": filepath.Join("..", "examples", "site", "cgi-bin", "guestbook.go"),
	}
	// One tree holds the sources, the other the compiled programs under the same names, so
	// that both servers see the same URLs and environment.
	srcRoot, binRoot := testutil.WorldDir(t), testutil.WorldDir(t)
	for _, r := range []string{srcRoot, binRoot} {
		mkdirAll(t, filepath.Join(r, "cgi-bin"))
	}
	build := testutil.WorldDir(t)
	for name, src := range programs {
		b, err := os.ReadFile(src)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(srcRoot, "cgi-bin", name), b, 0o644); err != nil {
			t.Fatal(err)
		}
		dir := filepath.Join(build, strings.TrimSuffix(name, ".go"))
		mkdirAll(t, dir)
		if err := os.WriteFile(filepath.Join(dir, "main.go"), b, 0o644); err != nil {
			t.Fatal(err)
		}
		out := filepath.Join(binRoot, "cgi-bin", name)
		cmd := exec.Command(goTool, "build", "-o", out, "main.go")
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "GO111MODULE=off", "CGO_ENABLED=0")
		if msg, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("go build %s: %v\n%s", name, err, msg)
		}
	}
	for _, mode := range []string{"status", "lowerstatus", "setcookie", "crlf", "lying-length", "redirect-client", "redirect-301", "echo", "nph-raw"} {
		for _, r := range []string{srcRoot, binRoot} {
			if err := copyFile(filepath.Join(r, "cgi-bin", "child.go"), filepath.Join(r, "cgi-bin", mode+".go")); err != nil {
				t.Fatal(err)
			}
		}
	}
	// Framing (a length, or chunks) is the server's choice by timing; flushing every write
	// makes it the same for both, so that whole responses compare.
	flushEach := func(c *server.Config) { c.FlushDelay = -1 }
	inproc, _ := inprocServer(t, srcRoot, "inproc", 10*time.Second, flushEach)
	native, _ := inprocServer(t, binRoot, "native", 10*time.Second, flushEach)
	requests := []struct{ method, path, body string }{
		{"GET", "/cgi-bin/status.go", ""}, {"GET", "/cgi-bin/lowerstatus.go", ""}, {"GET", "/cgi-bin/setcookie.go", ""},
		{"GET", "/cgi-bin/crlf.go", ""}, {"GET", "/cgi-bin/lying-length.go", ""}, {"GET", "/cgi-bin/redirect-client.go", ""},
		{"GET", "/cgi-bin/redirect-301.go", ""}, {"POST", "/cgi-bin/echo.go", "a=1&b=%3Cx%3E"}, {"GET", "/cgi-bin/nph-raw.go", ""},
		{"GET", "/cgi-bin/guestbook.go", ""}, {"HEAD", "/cgi-bin/guestbook.go", ""},
		{"POST", "/cgi-bin/guestbook.go", url.Values{"name": {"<Ada>"}, "message": {"hi & bye"}}.Encode()},
		{"POST", "/cgi-bin/guestbook.go", "name=&message="}, {"PUT", "/cgi-bin/guestbook.go", "x"},
	}
	for _, rq := range requests {
		a := rawExchange(t, inproc, rq.method, rq.path, rq.body)
		b := rawExchange(t, native, rq.method, rq.path, rq.body)
		if !bytes.Equal(a, b) {
			t.Errorf("%s %s differs:\nin-process:\n%s\nnative:\n%s", rq.method, rq.path, a, b)
		}
	}
}

// rawExchange returns the response to one request as bytes, without the Date header.
func rawExchange(t *testing.T, base, method, path, body string) []byte {
	t.Helper()
	u, _ := url.Parse(base)
	req := fmt.Sprintf("%s %s HTTP/1.1\r\nHost: test\r\nConnection: close\r\n", method, path)
	if body != "" {
		req += fmt.Sprintf("Content-Type: application/x-www-form-urlencoded\r\nContent-Length: %d\r\n", len(body))
	}
	resp, b := rawRequest(t, u.Host, req+"\r\n"+body)
	resp.Header.Del("Date")
	var out bytes.Buffer
	fmt.Fprintf(&out, "%s\r\n", resp.Status)
	_ = resp.Header.Write(&out)
	out.WriteString("\r\n" + b)
	return out.Bytes()
}

func copyFile(from, to string) error {
	b, err := os.ReadFile(from)
	if err != nil {
		return err
	}
	return os.WriteFile(to, b, 0o755)
}
