package main

// Issue 19 ("Logout that holds, part two") through two replicas on a real
// redis-server: the regression tests of the root package's holds_test.go
// where they involve replicas. Each one failed on fd7fc32.

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/authix-go/authix"
	"github.com/authix-go/authix/redisstore"
	"github.com/authix-go/authix/redisstore/redistest"
)

// userName names a User's subject for WithSubject.
func userName(u User) string { return u.Name }

// A thief's session renewed on replica B while B is cut off from Redis,
// after a LogoutEverywhere on replica A, is refused on both once B is back;
// a login on A in the same instant as the logout is accepted on both.
func TestLogoutEverywhereHoldsAfterLaggingRenewal(t *testing.T) {
	srv := redistest.Start(t)
	clk := newFakeClock()
	opts := []authix.Option{authix.WithKeys(authix.GenerateKey()), authix.WithClock(clk.Now),
		authix.WithSubject(userName), authix.WithSliding(0)}
	a, storeA := newReplica(t, replicaClient(t, srv), []redisstore.Option{redisstore.WithClock(clk.Now)}, opts...)
	link := newRedisLink(t, srv.Addr())
	// While cut off, B keeps answering from its mirror: its last
	// confirmation stays trusted for an hour.
	b, storeB := newReplica(t, link.client(t), []redisstore.Option{redisstore.WithClock(clk.Now),
		redisstore.WithStalenessBound(time.Hour)}, opts...)
	ctx := context.Background()

	thief := login(t, a, User{Name: "John"}) // a sliding session of John's
	clk.Advance(31 * time.Minute)
	link.cut() // B cannot learn of what follows
	if err := a.LogoutEverywhere(ctx, "John"); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Authenticate(homeRequest(thief)); !errors.Is(err, authix.ErrRevokedToken) {
		t.Fatalf("the thief's token on A after LogoutEverywhere: %v; want ErrRevokedToken", err)
	}
	again := login(t, a, User{Name: "John"}) // in the same instant as the logout
	if _, err := a.Authenticate(homeRequest(again)); err != nil {
		t.Errorf("a login on A right after the logout, on A: %v", err)
	}

	// The thief's next request reaches B, past its renewal age.
	clk.Advance(time.Second)
	status, renewed := visit(b, thief)
	if status != http.StatusOK || renewed == "" {
		t.Fatalf("B, cut off from Redis: status %d, token cookie %q; want 200 and a renewal", status, renewed)
	}

	link.restore()
	_, id := onlySubjectKey(t, replicaClient(t, srv))
	want, err := storeA.SubjectCutoff(ctx, id)
	if err != nil || want.IsZero() {
		t.Fatalf("A's cut-off for John: %v, %v", want, err)
	}
	for deadline := time.Now().Add(propagationWait); ; time.Sleep(time.Millisecond) {
		got, err := storeB.SubjectCutoff(ctx, id)
		if err == nil && got.Equal(want) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("B's cut-off for John %v after its link came back: %v, %v", want, got, err)
		}
	}
	for name, v := range map[string]*authix.Vault[User]{"A": a, "B": b} {
		if _, err := v.Authenticate(homeRequest(renewed)); !errors.Is(err, authix.ErrRevokedToken) {
			t.Errorf("the token B renewed while cut off, on %s: %v; want ErrRevokedToken", name, err)
		}
		if _, err := v.Authenticate(homeRequest(again)); err != nil {
			t.Errorf("the login on A right after the logout, on %s: %v", name, err)
		}
	}
}

// redisLink is a TCP proxy on loopback in front of a Redis server, so that
// a replica whose client dials it can be cut off from Redis while it runs,
// and reconnected.
type redisLink struct {
	ln     net.Listener
	target string
	wg     sync.WaitGroup

	mu    sync.Mutex
	down  bool
	conns map[net.Conn]struct{}
}

// newRedisLink starts a proxy to target, stopped when t ends.
func newRedisLink(t *testing.T, target string) *redisLink {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	l := &redisLink{ln: ln, target: target, conns: make(map[net.Conn]struct{})}
	l.wg.Add(1)
	go l.serve()
	t.Cleanup(func() {
		_ = ln.Close()
		l.cut()
		l.wg.Wait()
	})
	return l
}

// client returns a client with go-redis's default options that reaches
// Redis through the link, closed when t ends.
func (l *redisLink) client(t *testing.T) *redis.Client {
	t.Helper()
	c := redis.NewClient(&redis.Options{Addr: l.ln.Addr().String()})
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// cut closes every connection through the link and, until restore, closes
// each new one as soon as it is accepted. Nothing reaches either side once
// cut returns.
func (l *redisLink) cut() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.down = true
	for c := range l.conns {
		_ = c.Close()
		delete(l.conns, c)
	}
}

// restore lets new connections through again.
func (l *redisLink) restore() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.down = false
}

func (l *redisLink) serve() {
	defer l.wg.Done()
	for {
		down, err := l.ln.Accept()
		if err != nil {
			return // closed
		}
		up, err := net.Dial("tcp", l.target)
		if err != nil {
			_ = down.Close()
			continue
		}
		l.mu.Lock()
		if l.down {
			l.mu.Unlock()
			_ = down.Close()
			_ = up.Close()
			continue
		}
		l.conns[down], l.conns[up] = struct{}{}, struct{}{}
		l.mu.Unlock()
		l.wg.Add(2)
		go l.pipe(down, up)
		go l.pipe(up, down)
	}
}

// pipe copies from src to dst until either fails, then closes both.
func (l *redisLink) pipe(dst, src net.Conn) {
	defer l.wg.Done()
	_, _ = io.Copy(dst, src)
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, c := range []net.Conn{dst, src} {
		_ = c.Close()
		delete(l.conns, c)
	}
}
