package server

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/hashicorp/go-hclog"
)

// readFromRecorder is a ResponseRecorder that, like net/http's own response writer, has
// ReadFrom: that is where net/http uses sendfile.
type readFromRecorder struct {
	*httptest.ResponseRecorder
	readFromCalls int
}

func (r *readFromRecorder) ReadFrom(src io.Reader) (int64, error) {
	r.readFromCalls++
	return io.Copy(r.ResponseRecorder, src)
}

// TestLargeStaticFileReachesReadFrom: a file too big for the cache is copied through the
// writer's ReadFrom (sendfile under net/http), and the access log still counts its bytes.
func TestLargeStaticFileReachesReadFrom(t *testing.T) {
	root := t.TempDir()
	content := bytes.Repeat([]byte("0123456789abcdef"), (maxCachedFile+1)/16+1)
	if err := os.WriteFile(filepath.Join(root, "big.bin"), content, 0o644); err != nil {
		t.Fatal(err)
	}
	var logs bytes.Buffer
	srv, err := New(Config{Root: root, Executor: fakeExecutor{}}, hclog.New(&hclog.LoggerOptions{Output: &logs, Level: hclog.Info}))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Close() })
	rec := &readFromRecorder{ResponseRecorder: httptest.NewRecorder()}
	srv.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/big.bin", nil))
	if rec.Code != 200 || !bytes.Equal(rec.Body.Bytes(), content) {
		t.Fatalf("status %d, %d bytes; want 200 and the file's %d", rec.Code, rec.Body.Len(), len(content))
	}
	if rec.readFromCalls == 0 {
		t.Error("the file was written in pieces, not passed to ReadFrom")
	}
	if want := `"GET /big.bin HTTP/1.1" 200 ` + strconv.Itoa(len(content)); !strings.Contains(logs.String(), want) {
		t.Errorf("access log lacks %q:\n%s", want, logs.String())
	}
}

// TestCachedRangeIsWrittenNotReadFrom: a Range request answered from the in-memory cache goes
// through Write (one write with the header), not ReadFrom.
func TestCachedRangeIsWrittenNotReadFrom(t *testing.T) {
	root := t.TempDir()
	if err := os.WriteFile(filepath.Join(root, "small.txt"), []byte("0123456789"), 0o644); err != nil {
		t.Fatal(err)
	}
	srv, err := New(Config{Root: root, Executor: fakeExecutor{}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Close() })
	for range 2 { // the second request is answered from the cache
		rec := &readFromRecorder{ResponseRecorder: httptest.NewRecorder()}
		req := httptest.NewRequest(http.MethodGet, "/small.txt", nil)
		req.Header.Set("Range", "bytes=2-4")
		srv.ServeHTTP(rec, req)
		if rec.Code != http.StatusPartialContent || rec.Body.String() != "234" {
			t.Fatalf("%d %q, want 206 \"234\"", rec.Code, rec.Body)
		}
		if rec.readFromCalls != 0 {
			t.Error("an in-memory range went through ReadFrom")
		}
	}
}
