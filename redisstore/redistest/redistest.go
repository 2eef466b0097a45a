// Package redistest starts real redis-server processes for tests, in the
// manner of net/http/httptest. It is for tests and benchmarks only.
//
// Each server runs the redis-server found on PATH, listens on a free
// 127.0.0.1 port, keeps its data in a temporary directory with the
// append-only file on, and is killed when the test ends. When redis-server is
// not on PATH the test is skipped with a hint to install it (apt-get install
// redis-server); with the environment variable AUTHIX_REQUIRE_REDIS=1 it
// fails instead, so that CI cannot pass by skipping.
package redistest

import (
	"bufio"
	"fmt"
	"io"
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

// Server is a redis-server process owned by one test or benchmark. It can be
// killed, paused and started again on the same port and data directory. Kill
// may be called from any goroutine; Start, Pause and Resume end the test with
// tb.Fatal on failure, so they belong on the test's own goroutine.
type Server struct {
	tb   testing.TB
	bin  string
	port int
	dir  string
	args []string
	addr string

	mu   sync.Mutex
	cmd  *exec.Cmd
	done chan struct{} // closed when cmd has exited
}

// Start starts a redis-server for tb on a free loopback port and returns once
// it answers PING; the server is killed when tb ends. Without redis-server on
// PATH it skips tb, or fails it when AUTHIX_REQUIRE_REDIS=1.
func Start(tb testing.TB) *Server {
	tb.Helper()
	return start(tb, FreePort(tb))
}

// start starts a redis-server on port with any extra arguments.
func start(tb testing.TB, port int, extraArgs ...string) *Server {
	tb.Helper()
	s := &Server{tb: tb, bin: serverPath(tb), dir: tb.TempDir(), args: extraArgs, port: port}
	s.addr = net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	tb.Cleanup(s.Kill)
	s.Start()
	return s
}

// serverPath returns the redis-server binary, or skips tb; with
// AUTHIX_REQUIRE_REDIS=1 a missing binary fails tb instead.
func serverPath(tb testing.TB) string {
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

// FreePort returns a loopback TCP port that was free a moment ago, for a
// test that needs an address where nothing listens.
func FreePort(tb testing.TB) int {
	tb.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatalf("find a free port: %v", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// Addr returns the server's host:port.
func (s *Server) Addr() string { return s.addr }

// URL returns the server's address as a go-redis URL for database 0, the
// form of a REDIS_URL setting.
func (s *Server) URL() string { return "redis://" + s.addr + "/0" }

// Start starts the stopped server again on its port and data directory, so
// the append-only file restores its keys, and waits until it answers PING.
// Starting a running server fails the test.
func (s *Server) Start() {
	s.tb.Helper()
	s.mu.Lock()
	running := s.cmd != nil
	s.mu.Unlock()
	if running {
		s.tb.Fatalf("redis-server on %s is already running", s.addr)
	}
	args := append([]string{
		"--port", strconv.Itoa(s.port),
		"--bind", "127.0.0.1",
		"--dir", s.dir,
		"--appendonly", "yes",
		"--save", "",
		"--daemonize", "no",
		"--logfile", "redis.log",
	}, s.args...)
	cmd := exec.Command(s.bin, args...)
	cmd.Dir = s.dir
	if err := cmd.Start(); err != nil {
		s.tb.Fatalf("start redis-server: %v", err)
	}
	done := make(chan struct{})
	go func() {
		_ = cmd.Wait()
		close(done)
	}()
	s.mu.Lock()
	s.cmd, s.done = cmd, done
	s.mu.Unlock()

	deadline := time.Now().Add(10 * time.Second)
	for {
		if ping(s.addr) == nil {
			return
		}
		select {
		case <-done:
			s.tb.Fatalf("redis-server on %s exited during start; log:\n%s", s.addr, s.log())
		default:
		}
		if time.Now().After(deadline) {
			s.tb.Fatalf("redis-server on %s does not answer PING; log:\n%s", s.addr, s.log())
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
// stopped server does nothing.
func (s *Server) Kill() {
	s.mu.Lock()
	cmd, done := s.cmd, s.done
	s.cmd = nil
	s.mu.Unlock()
	if cmd == nil {
		return
	}
	_ = cmd.Process.Signal(syscall.SIGKILL)
	<-done
}

// StartEmpty starts the stopped server again on its port without the data
// it had: the append-only file and any snapshot are removed first, as a
// restart of a Redis without persistence would lose them.
func (s *Server) StartEmpty() {
	s.tb.Helper()
	for _, name := range []string{"appendonlydir", "appendonly.aof", "dump.rdb"} {
		if err := os.RemoveAll(filepath.Join(s.dir, name)); err != nil {
			s.tb.Fatalf("remove %s: %v", name, err)
		}
	}
	s.Start()
}

// Pause freezes the server with SIGSTOP: connections stay open and nothing
// is answered until Resume.
func (s *Server) Pause() { s.signal(syscall.SIGSTOP) }

// Resume continues a paused server with SIGCONT.
func (s *Server) Resume() { s.signal(syscall.SIGCONT) }

func (s *Server) signal(sig syscall.Signal) {
	s.tb.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd == nil {
		s.tb.Fatalf("redis-server on %s is not running", s.addr)
	}
	if err := s.cmd.Process.Signal(sig); err != nil {
		s.tb.Fatalf("signal redis-server: %v", err)
	}
}

// log returns the server's log file.
func (s *Server) log() string {
	b, _ := os.ReadFile(filepath.Join(s.dir, "redis.log"))
	return string(b)
}

// Client returns a new client for the server, closed when tb ends. It has
// short timeouts, so that outages show up quickly: DialTimeout 250ms,
// ReadTimeout and WriteTimeout 500ms, MaxRetries 1. Each opt then changes
// the options before the client is made.
func (s *Server) Client(tb testing.TB, opt ...func(*redis.Options)) *redis.Client {
	tb.Helper()
	o := &redis.Options{
		Addr:         s.addr,
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

// StartCluster starts n redis-server processes in cluster mode, assigns all
// slots to them with redis-cli (no replicas), and returns their addresses
// once every node reports cluster_state:ok; the nodes are killed when tb
// ends. Without redis-server it behaves as Start does; without redis-cli,
// which comes with the same Debian package, it skips tb, whatever
// AUTHIX_REQUIRE_REDIS says.
func StartCluster(tb testing.TB, n int) []string {
	tb.Helper()
	cli, err := exec.LookPath("redis-cli")
	if err != nil {
		tb.Skip("redis-cli not found on PATH; it comes with apt-get install redis-server")
	}
	addrs := make([]string, n)
	for i := range addrs {
		srv := start(tb, clusterPort(tb),
			"--cluster-enabled", "yes",
			"--cluster-config-file", "nodes.conf",
			"--cluster-node-timeout", "2000")
		addrs[i] = srv.addr
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

// Link is a TCP proxy on loopback in front of a server, so that a client
// that dials it can be cut off from the server while it runs, and let
// through again. It is closed when the test ends.
type Link struct {
	ln     net.Listener
	target string
	wg     sync.WaitGroup

	mu    sync.Mutex
	down  bool
	conns map[net.Conn]struct{}
}

// NewLink starts a proxy to the server at target (host:port).
func NewLink(tb testing.TB, target string) *Link {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatalf("listen: %v", err)
	}
	l := &Link{ln: ln, target: target, conns: make(map[net.Conn]struct{})}
	l.wg.Add(1)
	go l.serve()
	tb.Cleanup(func() {
		_ = ln.Close()
		l.Cut()
		l.wg.Wait()
	})
	return l
}

// Addr returns the address to dial instead of the server's.
func (l *Link) Addr() string { return l.ln.Addr().String() }

// Cut closes every connection through the link and, until Restore, each new
// one as soon as it is accepted. Nothing reaches either side once Cut
// returns.
func (l *Link) Cut() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.down = true
	for c := range l.conns {
		_ = c.Close()
		delete(l.conns, c)
	}
}

// Restore lets new connections through again.
func (l *Link) Restore() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.down = false
}

func (l *Link) serve() {
	defer l.wg.Done()
	for {
		down, err := l.ln.Accept()
		if err != nil {
			return // closed
		}
		l.mu.Lock()
		cut := l.down
		l.mu.Unlock()
		if cut {
			_ = down.Close()
			continue
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
func (l *Link) pipe(dst, src net.Conn) {
	defer l.wg.Done()
	_, _ = io.Copy(dst, src)
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, c := range []net.Conn{dst, src} {
		_ = c.Close()
		delete(l.conns, c)
	}
}
