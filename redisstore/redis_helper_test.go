package redisstore_test

import (
	"bufio"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// redisServer is a redis-server process owned by one test. It listens on a
// free loopback port, keeps its data in a temporary directory with the
// append-only file on, and is killed when the test ends. It can be killed,
// paused and started again on the same port and data directory.
type redisServer struct {
	tb   testing.TB
	bin  string
	port int
	dir  string
	args []string
	// Addr is host:port of the server.
	Addr string

	mu   sync.Mutex
	cmd  *exec.Cmd
	done chan struct{} // closed when cmd has exited
}

// redisServerPath returns the redis-server binary or skips the test; with
// AUTHIX_REQUIRE_REDIS=1 a missing binary fails the test instead.
func redisServerPath(tb testing.TB) string {
	tb.Helper()
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		const msg = "redis-server not found on PATH; install it (apt-get install redis-server) to run the Redis tests"
		if os.Getenv("AUTHIX_REQUIRE_REDIS") == "1" {
			tb.Fatal(msg + "; AUTHIX_REQUIRE_REDIS=1 makes this fatal")
		}
		tb.Skip(msg)
	}
	return bin
}

// startRedis starts a redis-server for tb with any extra arguments and
// returns once it answers PING.
func startRedis(tb testing.TB, extraArgs ...string) *redisServer {
	tb.Helper()
	return startRedisOn(tb, freePort(tb), extraArgs...)
}

func startRedisOn(tb testing.TB, port int, extraArgs ...string) *redisServer {
	tb.Helper()
	r := &redisServer{tb: tb, bin: redisServerPath(tb), dir: tb.TempDir(), args: extraArgs, port: port}
	r.Addr = net.JoinHostPort("127.0.0.1", strconv.Itoa(r.port))
	tb.Cleanup(r.Kill)
	r.Start()
	return r
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

// Start starts the server (again) on its port and data directory and waits
// until it answers PING.
func (r *redisServer) Start() {
	r.tb.Helper()
	args := append([]string{
		"--port", strconv.Itoa(r.port),
		"--bind", "127.0.0.1",
		"--dir", r.dir,
		"--appendonly", "yes",
		"--save", "",
		"--daemonize", "no",
		"--logfile", "redis.log",
	}, r.args...)
	cmd := exec.Command(r.bin, args...)
	cmd.Dir = r.dir
	if err := cmd.Start(); err != nil {
		r.tb.Fatalf("start redis-server: %v", err)
	}
	done := make(chan struct{})
	go func() {
		_ = cmd.Wait()
		close(done)
	}()
	r.mu.Lock()
	r.cmd, r.done = cmd, done
	r.mu.Unlock()

	deadline := time.Now().Add(10 * time.Second)
	for {
		if ping(r.Addr) == nil {
			return
		}
		select {
		case <-done:
			r.tb.Fatalf("redis-server on %s exited during start; log:\n%s", r.Addr, r.log())
		default:
		}
		if time.Now().After(deadline) {
			r.tb.Fatalf("redis-server on %s does not answer PING; log:\n%s", r.Addr, r.log())
		}
		time.Sleep(20 * time.Millisecond)
	}
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

// Kill stops the server with SIGKILL and waits for it to exit. Killing a
// stopped server is a no-op.
func (r *redisServer) Kill() {
	r.mu.Lock()
	cmd, done := r.cmd, r.done
	r.cmd = nil
	r.mu.Unlock()
	if cmd == nil {
		return
	}
	_ = cmd.Process.Signal(syscall.SIGKILL)
	<-done
}

// Pause freezes the server with SIGSTOP: connections stay open, nothing is
// answered. Resume undoes it.
func (r *redisServer) Pause() { r.signal(syscall.SIGSTOP) }

// Resume continues a paused server with SIGCONT.
func (r *redisServer) Resume() { r.signal(syscall.SIGCONT) }

func (r *redisServer) signal(sig syscall.Signal) {
	r.tb.Helper()
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.cmd == nil {
		r.tb.Fatalf("redis-server on %s is not running", r.Addr)
	}
	if err := r.cmd.Process.Signal(sig); err != nil {
		r.tb.Fatalf("signal redis-server: %v", err)
	}
}

func (r *redisServer) log() string {
	b, _ := os.ReadFile(filepath.Join(r.dir, "redis.log"))
	return string(b)
}

// Client returns a client for the server with short timeouts, so that
// outages show up quickly; it is closed when the test ends.
func (r *redisServer) Client(tb testing.TB, opt ...func(*redis.Options)) *redis.Client {
	tb.Helper()
	o := &redis.Options{
		Addr:         r.Addr,
		DialTimeout:  250 * time.Millisecond,
		ReadTimeout:  500 * time.Millisecond,
		WriteTimeout: 500 * time.Millisecond,
		MaxRetries:   1,
	}
	for _, f := range opt {
		f(o)
	}
	c := redis.NewClient(o)
	tb.Cleanup(func() { _ = c.Close() })
	return c
}

// startRedisCluster starts n redis-server processes in cluster mode, assigns
// all slots to them with redis-cli, and returns their addresses once the
// cluster reports state ok.
func startRedisCluster(tb testing.TB, n int) []string {
	tb.Helper()
	cli, err := exec.LookPath("redis-cli")
	if err != nil {
		tb.Skip("redis-cli not found on PATH; it comes with apt-get install redis-server")
	}
	addrs := make([]string, n)
	for i := range addrs {
		srv := startRedisOn(tb, clusterPort(tb),
			"--cluster-enabled", "yes",
			"--cluster-config-file", "nodes.conf",
			"--cluster-node-timeout", "2000")
		addrs[i] = srv.Addr
	}
	args := append([]string{"--cluster", "create"}, addrs...)
	args = append(args, "--cluster-replicas", "0", "--cluster-yes")
	if out, err := exec.Command(cli, args...).CombinedOutput(); err != nil {
		tb.Fatalf("redis-cli --cluster create: %v\n%s", err, out)
	}
	deadline := time.Now().Add(15 * time.Second)
	for _, addr := range addrs {
		for {
			out, err := exec.Command(cli, "-h", "127.0.0.1", "-p", addr[strings.LastIndexByte(addr, ':')+1:], "cluster", "info").Output()
			if err == nil && strings.Contains(string(out), "cluster_state:ok") {
				break
			}
			if time.Now().After(deadline) {
				tb.Fatalf("cluster node %s not ok: %v\n%s", addr, err, out)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	return addrs
}

// clusterPort returns a free port p whose cluster bus port p+10000 is free
// too.
func clusterPort(tb testing.TB) int {
	tb.Helper()
	for p := 20000 + os.Getpid()%5000; p < 30000; p++ {
		l1, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(p)))
		if err != nil {
			continue
		}
		l2, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(p+10000)))
		l1.Close()
		if err != nil {
			continue
		}
		l2.Close()
		return p
	}
	tb.Fatal("no free port pair for a cluster node")
	return 0
}
