package server

import (
	"net/http"
	"os/exec"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"
)

// TestHtpasswdForms: entries made by Apache's htpasswd (Debian's apache2-utils, which CI
// installs) in every form it writes. The accepted forms verify the right password and refuse
// a wrong one; the refused forms verify nothing.
func TestHtpasswdForms(t *testing.T) {
	htpasswd, err := exec.LookPath("htpasswd")
	if err != nil {
		t.Skip("htpasswd not installed (Debian: apache2-utils)")
	}
	forms := []struct {
		name     string
		flags    []string
		accepted bool
	}{
		{"bcrypt", []string{"-B"}, true},
		{"bcrypt-cost-7", []string{"-B", "-C", "7"}, true},
		{"apr1-md5", []string{"-m"}, true},
		{"sha256-crypt", []string{"-2"}, true},
		{"sha512-crypt", []string{"-5"}, true},
		{"sha512-crypt-rounds", []string{"-5", "-r", "12000"}, true},
		{"sha1", []string{"-s"}, false},
		{"crypt", []string{"-d"}, false},
		{"plain", []string{"-p"}, false},
	}
	var lines []string
	made := forms[:0:0]
	for _, f := range forms {
		args := append([]string{"-nb"}, f.flags...)
		out, err := exec.Command(htpasswd, append(args, f.name, "pw-"+f.name)...).Output()
		if err != nil && runtime.GOOS != "linux" {
			// An older htpasswd (macOS) may lack -2 and -5; Debian's, which CI runs, has all.
			t.Logf("htpasswd %s: %v; form left out", f.flags, err)
			continue
		}
		if err != nil {
			t.Fatalf("htpasswd %s: %v", f.flags, err)
		}
		lines = append(lines, strings.TrimSpace(string(out))+"\n")
		made = append(made, f)
	}
	s, _ := authSite(t, AuthConfig{File: writePasswd(t, lines...), MaxFailures: -1}, false)
	for _, f := range made {
		good := request(s, "192.0.2.1", "/app/page.txt", f.name, "pw-"+f.name).Code
		bad := request(s, "192.0.2.1", "/app/page.txt", f.name, "pw-"+f.name+"x").Code
		switch {
		case f.accepted && (good != http.StatusOK || bad != http.StatusUnauthorized):
			t.Errorf("%s (htpasswd %s): right password %d, wrong %d; want 200, 401", f.name, f.flags, good, bad)
		case !f.accepted && (good != http.StatusUnauthorized || bad != http.StatusUnauthorized):
			t.Errorf("%s (htpasswd %s), a refused form: right password %d, wrong %d; want 401, 401", f.name, f.flags, good, bad)
		}
	}
}

// BenchmarkAuthFailure measures the answer to a wrong password and to an unknown user, which
// must take the same time. Each iteration sends one of each, alternating which goes first,
// so that a change in the machine's load falls on both; it reports the median of each and
// their ratio (.ci/auth.sh prints them). The entries are bcrypt at htpasswd -B's default
// cost, the wrong password is for a user who is not the file's first, and no failure limit
// applies.
func BenchmarkAuthFailure(b *testing.B) {
	var lines []string
	for _, user := range []string{"alice", "bob", "carol"} {
		h, err := bcrypt.GenerateFromPassword([]byte("pw-"+user), 5)
		if err != nil {
			b.Fatal(err)
		}
		lines = append(lines, user+":"+string(h)+"\n")
	}
	s, err := New(Config{Root: b.TempDir(), Executor: fakeExecutor{}, Auth: AuthConfig{File: writePasswd(b, lines...), MaxFailures: -1}}, nil)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = s.Close() })
	var wrong, unknown []time.Duration
	timed := func(user string) time.Duration {
		start := time.Now()
		rec := request(s, "192.0.2.1", "/page.txt", user, "not-the-password")
		d := time.Since(start)
		if rec.Code != http.StatusUnauthorized {
			b.Fatalf("%s: %d, want 401", user, rec.Code)
		}
		return d
	}
	for i := 0; b.Loop(); i++ {
		if i%2 == 0 {
			wrong = append(wrong, timed("carol"))
			unknown = append(unknown, timed("mallory"))
		} else {
			unknown = append(unknown, timed("mallory"))
			wrong = append(wrong, timed("carol"))
		}
	}
	mw, mu := median(wrong), median(unknown)
	b.ReportMetric(float64(mw.Nanoseconds()), "wrong-password-median-ns")
	b.ReportMetric(float64(mu.Nanoseconds()), "unknown-user-median-ns")
	b.ReportMetric(float64(mu)/float64(mw), "unknown/wrong")
}

func median(ds []time.Duration) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[len(s)/2]
}
