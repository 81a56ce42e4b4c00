package server

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	htpasswd "github.com/tg123/go-htpasswd"
)

// TestAuthRateLimit: a client that keeps failing gets 429 (even with the right password),
// others are unaffected, and the client is let in again once its minute is over.
func TestAuthRateLimit(t *testing.T) {
	file := writePasswd(t, passwdLine(t, "alice", "s3cret"))
	s, _ := authSite(t, AuthConfig{File: file, MaxFailures: 3}, false)
	now := time.Now()
	s.auth.limit.now = func() time.Time { return now }
	const attacker, other = "192.0.2.66", "198.51.100.7"
	for i := range 3 {
		if rec := request(s, attacker, "/app/page.txt", "alice", "guess"+strconv.Itoa(i)); rec.Code != http.StatusUnauthorized {
			t.Fatalf("failure %d: %d, want 401", i+1, rec.Code)
		}
	}
	// Asking without credentials is not a failure, and does not get past the limit either.
	for _, creds := range [][2]string{{"alice", "s3cret"}, {"alice", "guess"}, {"", ""}} {
		rec := request(s, attacker, "/app/page.txt", creds[0], creds[1])
		if rec.Code != http.StatusTooManyRequests || rec.Header().Get("Retry-After") != "60" || strings.Contains(rec.Body.String(), "APP-PAGE") {
			t.Errorf("limited client with %q: %d Retry-After %q", creds, rec.Code, rec.Header().Get("Retry-After"))
		}
	}
	// The same /64 is the same client; another address is not.
	if rec := request(s, "2001:db8::1", "/app/page.txt", "alice", "x"); rec.Code != http.StatusUnauthorized {
		t.Errorf("v6 first failure: %d", rec.Code)
	}
	for _, a := range []string{"2001:db8::2", "2001:db8::3"} {
		request(s, a, "/app/page.txt", "alice", "x")
	}
	if rec := request(s, "2001:db8::ffff:1", "/app/page.txt", "alice", "s3cret"); rec.Code != http.StatusTooManyRequests {
		t.Errorf("another address of the failing /64: %d, want 429", rec.Code)
	}
	if rec := request(s, other, "/app/page.txt", "alice", "s3cret"); rec.Code != http.StatusOK {
		t.Errorf("another client: %d, want 200", rec.Code)
	}
	if rec := request(s, "2001:db8:0:1::1", "/app/page.txt", "alice", "s3cret"); rec.Code != http.StatusOK {
		t.Errorf("the next /64: %d, want 200", rec.Code)
	}
	now = now.Add(authWindow - time.Second)
	if rec := request(s, attacker, "/app/page.txt", "alice", "s3cret"); rec.Code != http.StatusTooManyRequests || rec.Header().Get("Retry-After") != "1" {
		t.Errorf("a second before the minute ends: %d Retry-After %q", rec.Code, rec.Header().Get("Retry-After"))
	}
	now = now.Add(time.Second)
	if rec := request(s, attacker, "/app/page.txt", "alice", "s3cret"); rec.Code != http.StatusOK {
		t.Errorf("after the minute: %d, want 200", rec.Code)
	}
}

// TestAuthNoLimit: a negative MaxFailures counts nothing.
func TestAuthNoLimit(t *testing.T) {
	file := writePasswd(t, passwdLine(t, "alice", "s3cret"))
	s, _ := authSite(t, AuthConfig{File: file, MaxFailures: -1}, false)
	for range defaultAuthFailures + 2 {
		request(s, "192.0.2.3", "/app/page.txt", "alice", "wrong")
	}
	if rec := request(s, "192.0.2.3", "/app/page.txt", "alice", "s3cret"); rec.Code != http.StatusOK {
		t.Errorf("no limit: %d", rec.Code)
	}
}

// TestFailureLimiterBounded: the clients tracked at once are bounded; expired ones make room.
func TestFailureLimiterBounded(t *testing.T) {
	l := newFailureLimiter(1, time.Minute)
	now := time.Now()
	l.now = func() time.Time { return now }
	for i := range maxAuthClients {
		k, _ := clientKey("10." + strconv.Itoa(i>>16&255) + "." + strconv.Itoa(i>>8&255) + "." + strconv.Itoa(i&255))
		if !l.fail(k) {
			t.Fatalf("client %d not tracked", i)
		}
	}
	extra, _ := clientKey("192.0.2.1")
	if l.fail(extra) {
		t.Error("a client past the bound was tracked")
	}
	now = now.Add(time.Minute)
	if !l.fail(extra) || len(l.clients) != 1 {
		t.Errorf("expired clients not dropped: %d tracked", len(l.clients))
	}
}

// slowPassword is a verifier that takes its time and records how many run at once.
type slowPassword struct {
	mu        sync.Mutex
	now, peak int
}

func (p *slowPassword) MatchesPassword(string) bool {
	p.mu.Lock()
	p.now++
	p.peak = max(p.peak, p.now)
	p.mu.Unlock()
	time.Sleep(20 * time.Millisecond)
	p.mu.Lock()
	p.now--
	p.mu.Unlock()
	return false
}

// TestAuthHashingBounded: however many requests with credentials arrive at once, at most
// cap(hashing) password checks run together; a request whose client leaves while waiting
// gets no check at all.
func TestAuthHashingBounded(t *testing.T) {
	file := writePasswd(t, passwdLine(t, "alice", "s3cret"))
	s, _ := authSite(t, AuthConfig{File: file, MaxFailures: -1}, false)
	slow := &slowPassword{}
	table := *s.auth.file.table.Load()
	table.users = map[string]htpasswd.EncodedPasswd{"alice": slow}
	table.decoy = slow
	s.auth.file.table.Store(&table)
	s.auth.file.poll = time.Hour
	var wg sync.WaitGroup
	for i := range 16 {
		wg.Go(func() {
			if rec := request(s, "192.0.2."+strconv.Itoa(i+1), "/app/page.txt", "alice", "x"); rec.Code != http.StatusUnauthorized {
				t.Errorf("request %d: %d, want 401", i, rec.Code)
			}
		})
	}
	wg.Wait()
	if slow.peak < 1 || slow.peak > cap(s.auth.hashing) {
		t.Errorf("%d checks ran at once, want 1 to %d", slow.peak, cap(s.auth.hashing))
	}
	// Every token taken: a request whose client is gone gives up without checking.
	for range cap(s.auth.hashing) {
		s.auth.hashing <- struct{}{}
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	r := httptest.NewRequestWithContext(ctx, http.MethodGet, "/app/page.txt", nil)
	r.SetBasicAuth("alice", "s3cret")
	if _, outcome, _ := s.auth.check(r, "192.0.2.1"); outcome != authGone {
		t.Errorf("outcome %d, want authGone", outcome)
	}
	for range cap(s.auth.hashing) {
		<-s.auth.hashing
	}
}
