package e2e

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	goruntime "runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"

	"github.com/cgihttpd/cgihttpd/internal/tlsconf"
)

const (
	// chromiumPath is where Debian's chromium package puts the browser.
	chromiumPath = "/usr/bin/chromium"
	// serverPackage is built through the tool line of go.mod: the replace points it at ../.
	serverPackage = "github.com/cgihttpd/cgihttpd/cmd/cgihttpd"
	// artifactsVar names the directory for screenshots; unset means a new temporary one.
	artifactsVar = "CGIHTTPD_ARTIFACTS"

	// testTimeout bounds the server and the browser together: start, every page, shutdown.
	testTimeout = 120 * time.Second
	// buildTimeout bounds go build, which is slow only with a cold build cache.
	buildTimeout = 5 * time.Minute
	// stopTimeout is how long cgihttpd may take to exit after SIGINT (its grace is 10s).
	stopTimeout = 15 * time.Second
	// leftoverWait is how long a killed process may take to go before it counts as left over.
	leftoverWait = 5 * time.Second
)

// servingRE matches the line cgihttpd prints once it listens:
// "Serving HTTP on 127.0.0.1:PORT (http://127.0.0.1:PORT/) ...", or HTTPS and https://.
var servingRE = regexp.MustCompile(`Serving HTTPS? on \S+ \((https?://[^)]+)\)`)

// TestBrowser serves a copy of examples/site with the real cgihttpd binary and walks it in
// headless Chromium: the index page, the directory listing and its links, the echo form
// (markup shown as text) and the redirect-after-POST form (POST, 303 See Other, GET); once
// over HTTP and once over HTTPS (--tls-cert), where the pages come over HTTP/2 and a script
// sees HTTPS=on.
func TestBrowser(t *testing.T) {
	if _, err := os.Stat(chromiumPath); err != nil {
		bar := strings.Repeat("!", 78)
		t.Skipf("\n%s\n!! SKIPPING the browser test: %s is missing (%v).\n"+
			"!! Install Debian's chromium package (apt-get install chromium), or run .ci/browser.sh,\n"+
			"!! which installs it and runs this test.\n%s", bar, chromiumPath, err, bar)
	}
	artifacts := artifactDir(t)
	site := worldDir(t, "cgihttpd-e2e-site-*")
	if err := copySite(filepath.Join("..", "examples", "site"), site); err != nil {
		t.Fatal(err)
	}
	browserDir := tempDir(t, "cgihttpd-e2e-chromium-*")
	bin := buildServer(t)
	// Registered before the server and the browser, so it runs after both are stopped.
	checkNoLeftovers(t, site, browserDir, bin)

	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	t.Cleanup(cancel)
	base := startServer(ctx, t, bin, site)
	t.Logf("cgihttpd serves %s at %s", site, base)
	// A second server, over HTTPS with a certificate made here; Chromium is told to accept
	// that one key (by its SPKI hash) and no other.
	certFile, keyFile, spki := testCertificate(t, tempDir(t, "cgihttpd-e2e-tls-*"))
	httpsBase := startServer(ctx, t, bin, site, "--tls-cert", certFile, "--tls-key", keyFile)
	t.Logf("cgihttpd serves %s at %s", site, httpsBase)
	tab := startBrowser(ctx, t, browserDir, chromedp.Flag("ignore-certificate-errors-spki-list", spki))
	exceptions := recordExceptions(tab, t)

	for _, srv := range []struct{ scheme, base string }{{"http", base}, {"https", httpsBase}} {
		base := srv.base
		// shot names a screenshot: the plain-HTTP ones keep their names, the others get a prefix.
		shot := func(name string) string {
			if srv.scheme == "http" {
				return name
			}
			return srv.scheme + "-" + name
		}
		t.Run(srv.scheme, func(t *testing.T) {
			t.Run("index", func(t *testing.T) {
				resp := open(tab, t, base+"/")
				checkResponse(t, resp, base+"/", "text/html")
				if got := title(tab, t); got != "cgihttpd example site" {
					t.Errorf("title = %q, want %q", got, "cgihttpd example site")
				}
				text := eval[string](tab, t, `document.querySelector("main").innerText`)
				for _, want := range []string{
					"cgihttpd example site",
					"This site is served by cgihttpd.",
					"Demos",
					"/cgi-bin/hello.sh",
					"/files/",
					"Quick form",
				} {
					if !strings.Contains(text, want) {
						t.Errorf("index text lacks %q:\n%s", want, text)
					}
				}
				// /style.css was served as CSS and applied: the page has one sheet, with rules.
				if !eval[bool](tab, t, `document.styleSheets.length === 1 && document.styleSheets[0].cssRules.length > 0`) {
					t.Errorf("the index page's stylesheet /style.css did not load")
				}
				screenshot(tab, t, artifacts, shot("index.png"))
			})

			t.Run("directory listing", func(t *testing.T) {
				open(tab, t, base+"/")
				// The index links to /files/, a directory without index.html.
				resp := follow(tab, t, chromedp.Click(chromedp.CSS(`main a[href="/files/"]`)))
				checkResponse(t, resp, base+"/files/", "text/html")
				if got, want := title(tab, t), "Directory listing for /files/"; got != want {
					t.Errorf("title = %q, want %q", got, want)
				}
				if got, want := eval[string](tab, t, `document.querySelector("h1").textContent`), "Directory listing for /files/"; got != want {
					t.Errorf("heading = %q, want %q", got, want)
				}
				entries := eval[[]string](tab, t, `Array.from(document.querySelectorAll("li a"), a => a.textContent + " -> " + a.href)`)
				want := []string{
					"../ -> " + base + "/",
					"example.json -> " + base + "/files/example.json",
					"hello.txt -> " + base + "/files/hello.txt",
				}
				if !slices.Equal(entries, want) {
					t.Errorf("listing entries (text -> link):\n got %q\nwant %q", entries, want)
				}
				screenshot(tab, t, artifacts, shot("files-listing.png"))

				// Every link of the listing works: click each on a fresh copy of the listing.
				for _, link := range []struct {
					href, url, mime, text string
				}{
					{"hello.txt", base + "/files/hello.txt", "text/plain", "Hello from a static text file."},
					{"example.json", base + "/files/example.json", "application/json", `"name": "cgihttpd example"`},
					{"../", base + "/", "text/html", "cgihttpd example site"},
				} {
					open(tab, t, base+"/files/")
					resp := follow(tab, t, chromedp.Click(chromedp.CSS(fmt.Sprintf(`li a[href=%q]`, link.href))))
					checkResponse(t, resp, link.url, link.mime)
					if text := bodyText(tab, t); !strings.Contains(text, link.text) {
						t.Errorf("%s: page text lacks %q:\n%s", link.url, link.text, text)
					}
				}
			})

			t.Run("echo form", func(t *testing.T) {
				open(tab, t, base+"/form.html")
				name := "Ada ✓ e2e"
				message := `<b id="injected">bold?</b> & "quotes" 'too' 100% + more`
				fill(tab, t, "f1-name", name)
				fill(tab, t, "f1-message", message)
				resp := follow(tab, t, chromedp.Click(chromedp.CSS(`form[action="/cgi-bin/form.sh"] button[type="submit"]`)))
				checkResponse(t, resp, base+"/cgi-bin/form.sh", "text/html")
				if text := bodyText(tab, t); !strings.Contains(text, "Method: POST.") {
					t.Errorf("form.sh page lacks %q:\n%s", "Method: POST.", text)
				}
				rows := eval[[][]string](tab, t, `Array.from(document.querySelectorAll("table tr"), tr => Array.from(tr.cells, c => c.textContent))`)
				want := [][]string{{"Name", "Value"}, {"name", name}, {"message", message}}
				if !slices.EqualFunc(rows, want, slices.Equal) {
					t.Errorf("form.sh table:\n got %q\nwant %q", rows, want)
				}
				// The markup was escaped: shown as text above, never turned into elements.
				if eval[bool](tab, t, `document.querySelector("#injected") !== null || document.querySelector("td b") !== null`) {
					t.Errorf("form.sh rendered the submitted markup as HTML")
				}
				screenshot(tab, t, artifacts, shot("form-echo.png"))
			})

			t.Run("redirect after POST", func(t *testing.T) {
				open(tab, t, base+"/form.html")
				name := "Zoë <Turing> & Co"
				message := "e2e guestbook entry " + strconv.FormatInt(time.Now().UnixNano(), 36)
				fill(tab, t, "f2-name", name)
				fill(tab, t, "f2-message", message)

				// guestbook-redirect.sh percent-encodes the name into the Location it answers with.
				thanks := base + "/cgi-bin/thanks.sh?name=Zo%C3%AB%20%3CTuring%3E%20%26%20Co"
				documents := recordDocuments(tab, t)
				resp := follow(tab, t, chromedp.Click(chromedp.CSS(`form[action="/cgi-bin/guestbook-redirect.sh"] button[type="submit"]`)))
				reqs := documents()
				checkResponse(t, resp, thanks, "text/html")
				if got := eval[string](tab, t, `location.href`); got != thanks {
					t.Errorf("final URL = %s, want %s", got, thanks)
				}

				// The browser POSTed the typed values, got 303 See Other and followed it with a GET:
				// the redirect-after-POST that Python's CGIHTTPRequestHandler cannot do.
				if len(reqs) != 2 {
					t.Fatalf("document requests = %+v, want the POST and the redirected GET", reqs)
				}
				post, get := reqs[0], reqs[1]
				if post.method != "POST" || post.url != base+"/cgi-bin/guestbook-redirect.sh" {
					t.Errorf("first request = %s %s, want POST %s/cgi-bin/guestbook-redirect.sh", post.method, post.url, base)
				}
				if form, err := url.ParseQuery(post.body); err != nil || form.Get("name") != name || form.Get("message") != message {
					t.Errorf("POST body %q (%v), want name=%q and message=%q", post.body, err, name, message)
				}
				if get.method != "GET" || get.url != thanks || get.redirectStatus != 303 || get.redirectFrom != post.url {
					t.Errorf("second request = %s %s after %d from %s, want GET %s after 303 from %s",
						get.method, get.url, get.redirectStatus, get.redirectFrom, thanks, post.url)
				}

				// What thanks.sh prints: the name from the query string, HTML-escaped.
				if got := title(tab, t); got != "Thank you" {
					t.Errorf("title = %q, want %q", got, "Thank you")
				}
				if got, want := eval[string](tab, t, `document.querySelector("main p").textContent`), "Thanks, "+name+"!"; got != want {
					t.Errorf("greeting = %q, want %q", got, want)
				}
				text := bodyText(tab, t)
				if !strings.Contains(text, "You were redirected here with 303 See Other") {
					t.Errorf("thanks page lacks its note:\n%s", text)
				}
				if strings.Contains(text, message) {
					t.Errorf("thanks page shows the message, which only the POST carried:\n%s", text)
				}
				if eval[bool](tab, t, `document.querySelector("turing") !== null`) {
					t.Errorf("thanks.sh rendered the name's markup as HTML")
				}
				screenshot(tab, t, artifacts, shot("redirect-after-post.png"))

				// Reloading the thanks page GETs it again and re-sends nothing.
				documents = recordDocuments(tab, t)
				resp = follow(tab, t, chromedp.Reload())
				checkResponse(t, resp, thanks, "text/html")
				if reqs := documents(); len(reqs) != 1 || reqs[0].method != "GET" || reqs[0].url != thanks {
					t.Errorf("reload sent %+v, want one GET %s", reqs, thanks)
				}
			})

			if srv.scheme == "https" {
				t.Run("HTTP/2 and the CGI environment", func(t *testing.T) {
					resp := open(tab, t, base+"/cgi-bin/env.sh")
					checkResponse(t, resp, base+"/cgi-bin/env.sh", "text/plain")
					if resp.Protocol != "h2" {
						t.Errorf("protocol %q, want h2", resp.Protocol)
					}
					text := bodyText(tab, t)
					for _, want := range []string{"HTTPS=on", "REQUEST_SCHEME=https", "SERVER_PROTOCOL=HTTP/2.0"} {
						if !strings.Contains(text, want) {
							t.Errorf("env.sh over HTTPS lacks %s:\n%s", want, text)
						}
					}
				})
			}
		})
	}

	if ex := exceptions(); len(ex) > 0 {
		t.Errorf("JavaScript exceptions on the example site's pages:\n%s", strings.Join(ex, "\n"))
	}
}

// artifactDir returns $CGIHTTPD_ARTIFACTS, made if need be, or else a new temporary directory
// that is kept after the test so that its screenshots can be looked at.
func artifactDir(t *testing.T) string {
	t.Helper()
	dir := os.Getenv(artifactsVar)
	if dir == "" {
		d, err := os.MkdirTemp("", "cgihttpd-e2e-artifacts-*")
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("screenshots go to %s (kept; set %s to choose the directory)", d, artifactsVar)
		return d
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatalf("artifacts directory: %v", err)
	}
	t.Logf("screenshots go to %s", dir)
	return dir
}

// tempDir makes a temporary directory that is removed when the test ends.
func tempDir(t *testing.T, pattern string) string {
	t.Helper()
	dir, err := os.MkdirTemp("", pattern)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	return dir
}

// worldDir is tempDir opened to every user: as root, cgihttpd runs scripts as nobody, who
// must be able to enter the document root and every directory above it. (t.TempDir is no
// good here: it and its parent are 0700.)
func worldDir(t *testing.T, pattern string) string {
	t.Helper()
	dir := tempDir(t, pattern)
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for d := filepath.Dir(dir); ; d = filepath.Dir(d) {
		info, err := os.Stat(d)
		if err != nil {
			t.Fatal(err)
		}
		if info.Mode().Perm()&0o001 == 0 {
			t.Fatalf("%s is not searchable by other users, so scripts run as nobody could not reach the site under it; set TMPDIR to a directory that is", d)
		}
		if d == filepath.Dir(d) {
			return dir
		}
	}
}

// copySite copies the example site from src into the existing directory dst, readable by
// every user, and executable by every user where the source is executable by its owner.
func copySite(src, dst string) error {
	return filepath.WalkDir(src, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(src, path)
		if err != nil {
			return err
		}
		target := filepath.Join(dst, rel)
		info, err := d.Info()
		if err != nil {
			return err
		}
		switch {
		case d.IsDir():
			if err := os.MkdirAll(target, 0o755); err != nil {
				return err
			}
			return os.Chmod(target, 0o755) // MkdirAll's mode is cut by the umask
		case info.Mode().IsRegular():
			b, err := os.ReadFile(path)
			if err != nil {
				return err
			}
			mode := os.FileMode(0o644)
			if info.Mode().Perm()&0o100 != 0 {
				mode = 0o755
			}
			if err := os.WriteFile(target, b, mode); err != nil {
				return err
			}
			return os.Chmod(target, mode)
		default:
			return fmt.Errorf("copy site: %s is neither a file nor a directory", path)
		}
	})
}

// buildServer builds cgihttpd from this working tree (the replace in go.mod) and returns the
// path of the binary.
func buildServer(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "cgihttpd")
	ctx, cancel := context.WithTimeout(context.Background(), buildTimeout)
	defer cancel()
	start := time.Now()
	out, err := exec.CommandContext(ctx, "go", "build", "-o", bin, serverPackage).CombinedOutput()
	if err != nil {
		t.Fatalf("go build %s: %v\n%s", serverPackage, err, out)
	}
	t.Logf("built cgihttpd in %v", time.Since(start).Round(time.Millisecond))
	return bin
}

// startServer starts cgihttpd on a port the kernel picks and returns its base URL, without a
// trailing slash. The server gets SIGINT, and if need be SIGKILL, when the test ends.
func startServer(ctx context.Context, t *testing.T, bin, site string, args ...string) string {
	t.Helper()
	out := new(syncBuffer)
	// Port 0: cgihttpd listens on a free port and prints the address, so there is no window in
	// which another program could take a port that the test picked and let go.
	cmd := exec.Command(bin, append(append([]string{"--bind", "127.0.0.1", "--directory", site}, args...), "0")...)
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatalf("start cgihttpd: %v", err)
	}
	done := make(chan struct{})
	var waitErr error
	go func() {
		waitErr = cmd.Wait()
		close(done)
	}()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(os.Interrupt)
		select {
		case <-done:
			if waitErr != nil {
				t.Errorf("cgihttpd ended with %v after SIGINT", waitErr)
			}
		case <-time.After(stopTimeout):
			_ = cmd.Process.Kill()
			<-done
			t.Errorf("cgihttpd still ran %v after SIGINT; killed it", stopTimeout)
		}
		if t.Failed() {
			t.Logf("cgihttpd output:\n%s", out)
		}
	})

	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for {
		if m := servingRE.FindStringSubmatch(out.String()); m != nil {
			return strings.TrimSuffix(m[1], "/")
		}
		select {
		case <-done:
			t.Fatalf("cgihttpd ended before it served: %v\n%s", waitErr, out)
		case <-ctx.Done():
			t.Fatalf("cgihttpd did not print its address: %v\n%s", ctx.Err(), out)
		case <-tick.C:
		}
	}
}

// startBrowser starts headless Chromium with a new profile in the empty directory dir, which
// also serves as its home (Chromium keeps crash reports under ~/.config even with a profile
// elsewhere), and returns the context of its first tab. The browser is closed, and its
// processes waited for, when the test ends.
func startBrowser(ctx context.Context, t *testing.T, dir string, extra ...chromedp.ExecAllocatorOption) context.Context {
	t.Helper()
	logs := new(syncBuffer)
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromiumPath),
		chromedp.UserDataDir(filepath.Join(dir, "profile")),
		chromedp.Env("HOME="+dir, "XDG_CONFIG_HOME="+filepath.Join(dir, "config"), "XDG_CACHE_HOME="+filepath.Join(dir, "cache")),
		chromedp.NoFirstRun,
		// As root, Chromium will not start with its sandbox.
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		// The machine's network is closed: Chromium must not try to reach its own services,
		// or it hangs on refused connections.
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-quic", true),
		chromedp.WindowSize(1024, 768),
		chromedp.CombinedOutput(logs),
	)
	opts = append(opts, extra...)
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(ctx, opts...)
	tab, cancelTab := chromedp.NewContext(allocCtx, chromedp.WithErrorf(logs.printf), chromedp.WithLogf(logs.printf))
	t.Cleanup(func() {
		// Close the browser gracefully (for at most 10s), then make sure its process is gone.
		closeCtx, cancel := context.WithTimeout(tab, 10*time.Second)
		defer cancel()
		if err := chromedp.Cancel(closeCtx); err != nil && !errors.Is(err, context.Canceled) {
			t.Logf("close chromium: %v", err)
		}
		cancelTab()
		cancelAlloc() // waits for the browser process to exit
		if t.Failed() {
			t.Logf("chromium output:\n%s", logs)
		}
	})
	start := time.Now()
	if err := chromedp.Do(tab); err != nil {
		t.Fatalf("start %s: %v\n%s", chromiumPath, err, logs)
	}
	version, err := chromedp.Run(tab, chromedp.Evaluate[string](`navigator.userAgent`))
	if err != nil {
		t.Fatalf("ask chromium its version: %v", err)
	}
	t.Logf("chromium started in %v: %s", time.Since(start).Round(time.Millisecond), version)
	return tab
}

// open navigates tab to u and returns the response for the document.
func open(tab context.Context, t *testing.T, u string) *network.Response {
	t.Helper()
	resp, err := chromedp.Run(tab, chromedp.NavigateResponse(u))
	if err != nil {
		t.Fatalf("open %s: %v", u, err)
	}
	return resp
}

// follow runs action (a click, a reload), waits for the page it loads and returns the response
// for its document.
func follow(tab context.Context, t *testing.T, action chromedp.Action[chromedp.Void]) *network.Response {
	t.Helper()
	resp, err := chromedp.RunResponse(tab, action)
	if err != nil {
		t.Fatalf("wait for the page to load: %v", err)
	}
	if resp == nil {
		t.Fatalf("the page loaded without a response for its document")
	}
	return resp
}

// checkResponse fails the test unless resp is a 200 for u with MIME type mime.
func checkResponse(t *testing.T, resp *network.Response, u, mime string) {
	t.Helper()
	if resp.URL != u || resp.Status != 200 || resp.MimeType != mime {
		t.Errorf("response: %d %s (%s), want 200 %s (%s)", resp.Status, resp.URL, resp.MimeType, u, mime)
	}
}

// fill types value into the empty form field with the given id, as a person would.
func fill(tab context.Context, t *testing.T, id, value string) {
	t.Helper()
	if err := chromedp.Do(tab, chromedp.Clear(chromedp.ID(id)), chromedp.SendKeys(chromedp.ID(id), value)); err != nil {
		t.Fatalf("type into #%s: %v", id, err)
	}
	got, err := chromedp.Run(tab, chromedp.Value(chromedp.ID(id)))
	if err != nil {
		t.Fatalf("read #%s: %v", id, err)
	}
	if got != value {
		t.Fatalf("#%s holds %q after typing %q", id, got, value)
	}
}

// eval evaluates the JavaScript expression expr in the page and decodes its value as a T.
func eval[T any](tab context.Context, t *testing.T, expr string) T {
	t.Helper()
	v, err := chromedp.Run(tab, chromedp.Evaluate[T](expr))
	if err != nil {
		t.Fatalf("evaluate %s: %v", expr, err)
	}
	return v
}

func title(tab context.Context, t *testing.T) string {
	t.Helper()
	s, err := chromedp.Run(tab, chromedp.Title())
	if err != nil {
		t.Fatalf("title: %v", err)
	}
	return s
}

func bodyText(tab context.Context, t *testing.T) string {
	t.Helper()
	return eval[string](tab, t, `document.body.innerText`)
}

// screenshot saves a full-page PNG of the current page as dir/name.
func screenshot(tab context.Context, t *testing.T, dir, name string) {
	t.Helper()
	png, err := chromedp.Run(tab, chromedp.FullScreenshot(100)) // quality 100 means PNG
	if err != nil {
		t.Errorf("screenshot %s: %v", name, err)
		return
	}
	if !bytes.HasPrefix(png, []byte("\x89PNG\r\n\x1a\n")) {
		t.Errorf("screenshot %s is not a PNG", name)
		return
	}
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, png, 0o644); err != nil {
		t.Errorf("save screenshot: %v", err)
		return
	}
	t.Logf("screenshot: %s (%d bytes)", path, len(png))
}

// documentRequest is a request for a page (not for an image or a stylesheet) that the tab made.
type documentRequest struct {
	method, url, body string
	// redirectStatus and redirectFrom tell the redirect that led to this request, if any.
	redirectStatus int64
	redirectFrom   string
}

// recordDocuments records the tab's page requests from now on; the func it returns stops
// recording and returns them. Call it after the navigation has loaded (RunResponse returned):
// the events of a load come before its load event.
func recordDocuments(tab context.Context, t *testing.T) func() []documentRequest {
	t.Helper()
	ctx, cancel := context.WithCancel(tab)
	t.Cleanup(cancel)
	var mu sync.Mutex
	var reqs []documentRequest
	err := chromedp.Listen(ctx, func(ev any) {
		e, ok := ev.(*network.EventRequestWillBeSent)
		if !ok || e.Type != network.ResourceTypeDocument || e.Request == nil {
			return
		}
		r := documentRequest{method: e.Request.Method, url: e.Request.URL}
		for _, p := range e.Request.PostDataEntries {
			r.body += string(p.Bytes)
		}
		if e.RedirectResponse != nil {
			r.redirectStatus, r.redirectFrom = e.RedirectResponse.Status, e.RedirectResponse.URL
		}
		mu.Lock()
		defer mu.Unlock()
		reqs = append(reqs, r)
	})
	if err != nil {
		t.Fatalf("listen to the tab's requests: %v", err)
	}
	return func() []documentRequest {
		cancel()
		mu.Lock()
		defer mu.Unlock()
		return slices.Clone(reqs)
	}
}

// recordExceptions records the uncaught JavaScript exceptions of the tab's pages; the func it
// returns gives them so far. The example site has no script, so there should be none.
func recordExceptions(tab context.Context, t *testing.T) func() []string {
	t.Helper()
	var mu sync.Mutex
	var list []string
	err := chromedp.Listen(tab, func(ev any) {
		e, ok := ev.(*runtime.EventExceptionThrown)
		if !ok || e.ExceptionDetails == nil {
			return
		}
		d := e.ExceptionDetails
		s := fmt.Sprintf("%s:%d: %s", d.URL, d.LineNumber+1, d.Text)
		if d.Exception != nil {
			s += " " + d.Exception.Description
		}
		mu.Lock()
		defer mu.Unlock()
		list = append(list, s)
	})
	if err != nil {
		t.Fatalf("listen to the tab's exceptions: %v", err)
	}
	return func() []string {
		mu.Lock()
		defer mu.Unlock()
		return slices.Clone(list)
	}
}

// checkNoLeftovers fails the test if, once the cleanups registered after it have run, more
// goroutines run than when it was called, or a process still names one of marks (the site,
// the browser's directory, the server binary) on its command line: a script, a browser helper
// or the server that outlived the test. It kills such processes, so that a failed run leaves
// nothing behind either. It reads /proc, so it sees no process where there is none.
func checkNoLeftovers(t *testing.T, marks ...string) {
	t.Helper()
	goroutines := goruntime.NumGoroutine()
	t.Cleanup(func() {
		deadline := time.Now().Add(leftoverWait)
		for {
			n, left := goruntime.NumGoroutine(), processesNaming(marks)
			if n <= goroutines && len(left) == 0 {
				return
			}
			if time.Now().Before(deadline) {
				time.Sleep(50 * time.Millisecond)
				continue
			}
			if n > goroutines {
				buf := make([]byte, 1<<20)
				t.Errorf("leak: %d goroutines, %d before the server and the browser started\n%s",
					n, goroutines, buf[:goruntime.Stack(buf, true)])
			}
			if len(left) > 0 {
				var lines []string
				for pid, cmdline := range left {
					lines = append(lines, fmt.Sprintf("%d: %s", pid, cmdline))
					if p, err := os.FindProcess(pid); err == nil {
						_ = p.Kill()
					}
				}
				slices.Sort(lines)
				t.Errorf("leak: processes left over (killed now):\n%s", strings.Join(lines, "\n"))
			}
			return
		}
	})
}

// processesNaming returns the live processes other than this one whose command line holds
// one of marks, by pid.
func processesNaming(marks []string) map[int]string {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return nil
	}
	found := map[int]string{}
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == os.Getpid() {
			continue
		}
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err != nil || len(b) == 0 { // gone, or a zombie
			continue
		}
		cmdline := strings.TrimSpace(strings.ReplaceAll(string(b), "\x00", " "))
		for _, m := range marks {
			if strings.Contains(cmdline, m) {
				found[pid] = cmdline
				break
			}
		}
	}
	return found
}

// syncBuffer collects the output of a child process, written and read from several goroutines.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// printf appends one formatted line; it has the shape of chromedp's log funcs.
func (b *syncBuffer) printf(format string, args ...any) {
	_, _ = fmt.Fprintf(b, format+"\n", args...)
}

// testCertificate writes a fresh certificate for 127.0.0.1 and localhost and its key to dir,
// and returns their paths and the base64 SHA-256 of its public key (SPKI), the form
// Chromium's --ignore-certificate-errors-spki-list takes.
func testCertificate(t *testing.T, dir string) (certFile, keyFile, spki string) {
	t.Helper()
	cert, _, err := tlsconf.SelfSigned("127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(cert.PrivateKey)
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	writePEM(t, certFile, "CERTIFICATE", cert.Certificate[0])
	writePEM(t, keyFile, "PRIVATE KEY", keyDER)
	sum := sha256.Sum256(cert.Leaf.RawSubjectPublicKeyInfo)
	return certFile, keyFile, base64.StdEncoding.EncodeToString(sum[:])
}
