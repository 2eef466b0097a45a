// Package pgtest starts real PostgreSQL clusters, and PgBouncers in front
// of them, for tests, in the manner of net/http/httptest and redistest. It
// is for tests and benchmarks only.
//
// Start runs initdb into a new temporary directory (about a second) and
// starts postgres on it, listening on a free 127.0.0.1 port and on a unix
// socket in that directory, with trust authentication for the user
// postgres and fsync off: data survives a killed server, not a lost
// machine. Both run as the postgres OS user when the test runs as root, as
// in CI (PostgreSQL refuses to run as root), and as the test's own user
// otherwise. The binaries are found under /usr/lib/postgresql/*/bin (the
// newest version), or on PATH. When they are missing the test is skipped
// with a hint to install them (apt-get install postgresql pgbouncer); with
// the environment variable AUTHIX_REQUIRE_POSTGRES=1 it fails instead, so
// that CI cannot pass by skipping.
//
// A cluster takes about a second to make: a package with many tests may
// share one and give each test a database of its own (NewDatabase).
package pgtest

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// hangGuard bounds every wait for a server; it is no performance target,
// only a way for a test that would hang to fail.
const hangGuard = 60 * time.Second

// requireEnv makes a missing PostgreSQL or PgBouncer fatal instead of a
// skip.
const requireEnv = "AUTHIX_REQUIRE_POSTGRES"

// Server is a PostgreSQL cluster owned by one test or benchmark: a data
// directory and the postgres process serving it, killed and removed when
// the test ends. It can be stopped, killed and started again on the same
// port and data. Kill may be called from any goroutine; Start and Stop end
// the test with tb.Fatal on failure, so they belong on the test's own
// goroutine.
type Server struct {
	tb   testing.TB
	as   account
	bin  string // the directory of postgres and initdb
	dir  string // owned by the server's account: data/ and the socket
	port int

	mu   sync.Mutex
	cmd  *exec.Cmd
	done chan struct{} // closed when cmd has exited

	dbs atomic.Int64 // databases made by NewDatabase
}

// Start makes a new cluster for tb and starts it, returning once it accepts
// connections; it is killed, and its directory removed, when tb ends.
// Without PostgreSQL it skips tb, or fails it when
// AUTHIX_REQUIRE_POSTGRES=1.
func Start(tb testing.TB) *Server {
	tb.Helper()
	bin := postgresBin(tb)
	as := serverAccount(tb)
	s := &Server{tb: tb, as: as, bin: bin, dir: as.tempDir(tb, "pgtest-")}
	tb.Cleanup(s.Kill)
	s.initdb()
	for try := 1; ; try++ {
		s.port = FreePort(tb)
		err := s.start()
		if err == nil {
			return s
		}
		// Another process may take the free port before postgres binds it.
		if try == 3 || !strings.Contains(err.Error(), "Address already in use") {
			tb.Fatal(err)
		}
	}
}

// postgresBin returns the directory of the newest PostgreSQL's binaries, or
// skips tb (fails it under AUTHIX_REQUIRE_POSTGRES=1).
func postgresBin(tb testing.TB) string {
	tb.Helper()
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	best, bestVersion := "", -1
	for _, d := range dirs {
		v, err := strconv.Atoi(filepath.Base(filepath.Dir(d)))
		if err == nil && v > bestVersion && executable(filepath.Join(d, "initdb")) && executable(filepath.Join(d, "postgres")) {
			best, bestVersion = d, v
		}
	}
	if best != "" {
		return best
	}
	if p, err := exec.LookPath("initdb"); err == nil && executable(filepath.Join(filepath.Dir(p), "postgres")) {
		return filepath.Dir(p)
	}
	missing(tb, "PostgreSQL (initdb and postgres) not found under /usr/lib/postgresql/*/bin nor on PATH")
	return ""
}

// missing skips tb for want of a server program, or fails it under
// AUTHIX_REQUIRE_POSTGRES=1.
func missing(tb testing.TB, what string) {
	tb.Helper()
	msg := what + "; install them (apt-get install postgresql pgbouncer) to run the PostgreSQL tests"
	if os.Getenv(requireEnv) == "1" {
		tb.Fatal(msg + "; " + requireEnv + "=1 makes this fatal")
	}
	tb.Skip(msg)
}

func executable(path string) bool {
	fi, err := os.Stat(path)
	return err == nil && !fi.IsDir() && fi.Mode()&0o111 != 0
}

// FreePort returns a loopback TCP port that was free a moment ago.
func FreePort(tb testing.TB) int {
	tb.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatalf("find a free port: %v", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// initdb makes the cluster in dir/data: user postgres, trust
// authentication, UTF-8 in the C locale.
func (s *Server) initdb() {
	s.tb.Helper()
	cmd := s.as.command(s.dir, filepath.Join(s.bin, "initdb"),
		"-D", s.dataDir(), "-U", "postgres", "--auth=trust", "--encoding=UTF8", "--locale=C", "--no-sync", "--no-instructions")
	if out, err := cmd.CombinedOutput(); err != nil {
		s.tb.Fatalf("initdb: %v\n%s", err, out)
	}
}

func (s *Server) dataDir() string { return filepath.Join(s.dir, "data") }

// Port returns the server's TCP port on 127.0.0.1.
func (s *Server) Port() int { return s.port }

// Addr returns the server's host:port.
func (s *Server) Addr() string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(s.port)) }

// SocketDir returns the directory of the server's unix socket, which
// libpq and pgx take as the host.
func (s *Server) SocketDir() string { return s.dir }

// URL returns a connection URL for the database postgres as the user
// postgres over TCP, in the form a DATABASE_URL setting takes.
func (s *Server) URL() string { return s.databaseURL("postgres") }

func (s *Server) databaseURL(db string) string {
	u := url.URL{Scheme: "postgres", User: url.User("postgres"), Host: s.Addr(), Path: "/" + db, RawQuery: "sslmode=disable"}
	return u.String()
}

// Start starts the stopped or killed server again on its port and data
// directory, and returns once it accepts connections (after crash recovery,
// following Kill). Starting a running server fails the test.
func (s *Server) Start() {
	s.tb.Helper()
	if err := s.start(); err != nil {
		s.tb.Fatal(err)
	}
}

func (s *Server) start() error {
	s.tb.Helper()
	s.mu.Lock()
	running := s.cmd != nil
	s.mu.Unlock()
	if running {
		return fmt.Errorf("postgres on %s is already running", s.Addr())
	}
	deadline := time.Now().Add(hangGuard)
	for {
		err := s.launch()
		if err == nil || !strings.Contains(err.Error(), "pre-existing shared memory block") || time.Now().After(deadline) {
			return err
		}
		// A backend of a killed server has not exited yet; it will, now
		// that its postmaster is gone.
		time.Sleep(50 * time.Millisecond)
	}
}

// launch starts postgres once and waits until it accepts a connection or
// exits.
func (s *Server) launch() error {
	logf, err := os.OpenFile(filepath.Join(s.dir, "postgres.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return fmt.Errorf("open the postgres log: %w", err)
	}
	cmd := s.as.command(s.dir, filepath.Join(s.bin, "postgres"),
		"-D", s.dataDir(),
		"-p", strconv.Itoa(s.port),
		"-k", s.dir,
		"-c", "listen_addresses=127.0.0.1",
		"-c", "fsync=off",
		"-c", "full_page_writes=off",
		"-c", "log_min_messages=warning",
	)
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		logf.Close()
		return fmt.Errorf("start postgres: %w", err)
	}
	done := make(chan struct{})
	go func() {
		_ = cmd.Wait()
		logf.Close()
		close(done)
	}()
	s.mu.Lock()
	s.cmd, s.done = cmd, done
	s.mu.Unlock()

	deadline := time.Now().Add(hangGuard)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		conn, err := pgx.Connect(ctx, s.URL())
		cancel()
		if err == nil {
			_ = conn.Close(context.Background())
			return nil
		}
		select {
		case <-done:
			s.mu.Lock()
			s.cmd = nil
			s.mu.Unlock()
			return fmt.Errorf("postgres on %s exited during start; log:\n%s", s.Addr(), s.Log())
		default:
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("postgres on %s accepts no connection after %v (%v); log:\n%s", s.Addr(), hangGuard, err, s.Log())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Stop shuts the server down cleanly (a fast shutdown: open transactions
// are rolled back, clients disconnected, a checkpoint written) and waits
// until it has exited. Stopping a stopped server does nothing.
func (s *Server) Stop() {
	s.tb.Helper()
	cmd, done := s.take()
	if cmd == nil {
		return
	}
	_ = cmd.Process.Signal(syscall.SIGINT)
	select {
	case <-done:
	case <-time.After(hangGuard):
		_ = cmd.Process.Kill()
		<-done
		s.tb.Fatalf("postgres on %s did not shut down within %v; log:\n%s", s.Addr(), hangGuard, s.Log())
	}
}

// Kill ends the server as a crash does: SIGKILL to postgres and to every
// process it started, and waits until they have exited. The next Start
// recovers from the write-ahead log. Killing a stopped server does nothing.
func (s *Server) Kill() {
	cmd, done := s.take()
	if cmd == nil {
		return
	}
	pid := cmd.Process.Pid
	kids := children(pid)
	_ = cmd.Process.Signal(syscall.SIGKILL)
	<-done
	// Each backend leads a process group of its own, so the group of
	// postgres does not hold them: kill those it had, and wait until they
	// are gone, as a new server refuses to start while one of them still
	// holds the old shared memory.
	for _, k := range append(kids, children(pid)...) {
		_ = syscall.Kill(k, syscall.SIGKILL)
	}
	deadline := time.Now().Add(hangGuard)
	for _, k := range kids {
		for alive(k) && time.Now().Before(deadline) {
			time.Sleep(5 * time.Millisecond)
		}
	}
}

// take returns the running process and marks the server stopped.
func (s *Server) take() (*exec.Cmd, chan struct{}) {
	s.mu.Lock()
	defer s.mu.Unlock()
	cmd, done := s.cmd, s.done
	s.cmd = nil
	return cmd, done
}

// Log returns what the server has logged, for a failure message.
func (s *Server) Log() string {
	b, _ := os.ReadFile(filepath.Join(s.dir, "postgres.log"))
	return string(b)
}

// Connect returns a connection to the database postgres, closed when tb
// ends.
func (s *Server) Connect(tb testing.TB) *pgx.Conn {
	tb.Helper()
	return connect(tb, s.URL())
}

func connect(tb testing.TB, url string) *pgx.Conn {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), hangGuard)
	defer cancel()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		tb.Fatalf("connect to %s: %v", url, err)
	}
	tb.Cleanup(func() { _ = conn.Close(context.Background()) })
	return conn
}

// NewDatabase creates an empty database for tb, named after it, and
// returns its URL, so that tests sharing one Server do not share tables.
func (s *Server) NewDatabase(tb testing.TB) string {
	tb.Helper()
	sum := sha256.Sum256([]byte(tb.Name()))
	name := fmt.Sprintf("t%d_%s", s.dbs.Add(1), hex.EncodeToString(sum[:6]))
	ctx, cancel := context.WithTimeout(context.Background(), hangGuard)
	defer cancel()
	conn, err := pgx.Connect(ctx, s.URL())
	if err != nil {
		tb.Fatalf("connect to %s: %v", s.URL(), err)
	}
	defer conn.Close(context.Background())
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize()); err != nil {
		tb.Fatalf("create database %s: %v", name, err)
	}
	return s.databaseURL(name)
}
