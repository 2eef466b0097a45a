package main

import (
	"bufio"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// testRedis is a redis-server process owned by one test or benchmark: a free
// loopback port, its data in a temporary directory with the append-only file
// on, killed when the test ends.
type testRedis struct {
	// Addr is host:port of the server.
	Addr string
	// URL is the server's REDIS_URL, database 0.
	URL string
}

// startRedis starts redis-server from PATH and returns once it answers
// PING. Without redis-server the test is skipped, or fails when
// AUTHIX_REQUIRE_REDIS=1.
func startRedis(tb testing.TB) *testRedis {
	tb.Helper()
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		const msg = "redis-server not found on PATH; install it (apt-get install redis-server) to run the Redis tests"
		if os.Getenv("AUTHIX_REQUIRE_REDIS") == "1" {
			tb.Fatal(msg + "; AUTHIX_REQUIRE_REDIS=1 makes this fatal")
		}
		tb.Skip(msg)
	}
	dir := tb.TempDir()
	port := freePort(tb)
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	cmd := exec.Command(bin,
		"--port", strconv.Itoa(port),
		"--bind", "127.0.0.1",
		"--dir", dir,
		"--appendonly", "yes",
		"--save", "",
		"--daemonize", "no",
		"--logfile", "redis.log")
	cmd.Dir = dir
	if err := cmd.Start(); err != nil {
		tb.Fatalf("start redis-server: %v", err)
	}
	done := make(chan struct{})
	go func() {
		_ = cmd.Wait()
		close(done)
	}()
	tb.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-done
	})
	logOf := func() string {
		b, _ := os.ReadFile(filepath.Join(dir, "redis.log"))
		return string(b)
	}
	deadline := time.Now().Add(10 * time.Second)
	for ping(addr) != nil {
		select {
		case <-done:
			tb.Fatalf("redis-server on %s exited during start; log:\n%s", addr, logOf())
		default:
		}
		if time.Now().After(deadline) {
			tb.Fatalf("redis-server on %s does not answer PING; log:\n%s", addr, logOf())
		}
		time.Sleep(20 * time.Millisecond)
	}
	return &testRedis{Addr: addr, URL: "redis://" + addr + "/0"}
}

// Client returns a new client for the server, closed when tb ends. Each
// client has its own connections, as a separate replica would.
func (r *testRedis) Client(tb testing.TB) *redis.Client {
	tb.Helper()
	c := redis.NewClient(&redis.Options{Addr: r.Addr})
	tb.Cleanup(func() { _ = c.Close() })
	return c
}

// freePort returns a loopback TCP port that was free a moment ago.
func freePort(tb testing.TB) int {
	tb.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatalf("find a free port: %v", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// ping sends one PING over a fresh connection.
func ping(addr string) error {
	c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond)
	if err != nil {
		return err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(500 * time.Millisecond))
	if _, err := c.Write([]byte("PING\r\n")); err != nil {
		return err
	}
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		return err
	}
	if !strings.HasPrefix(line, "+PONG") {
		return fmt.Errorf("unexpected reply %q", line)
	}
	return nil
}
