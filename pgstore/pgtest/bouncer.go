package pgtest

import (
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// Bouncer is a PgBouncer in transaction pooling mode in front of a Server,
// owned by one test: each transaction of a client may run on a different
// server connection, so session state (named prepared statements, SET,
// advisory locks, LISTEN) does not carry from one transaction to the next.
// PgBouncer 1.18, Debian 12's, keeps no prepared statements at all: a pgx
// client needs a QueryExecMode that prepares none by name, such as
// QueryExecModeExec. Kill may be called from any goroutine; Start belongs
// on the test's own goroutine.
type Bouncer struct {
	tb   testing.TB
	port int
	dir  string
	bin  string
	as   account

	mu   sync.Mutex
	cmd  *exec.Cmd
	done chan struct{}
}

// StartBouncer starts a PgBouncer for tb in front of srv, listening on a
// free 127.0.0.1 port, pooling per transaction at most 4 server connections
// per database, and returns once it accepts connections; it is killed when
// tb ends. After a failed connection to the server it tries again within a
// second (server_login_retry; PgBouncer's default is 15 s), so that a test
// that restarts the server need not wait long. The user postgres may use
// its admin console (the database
// pgbouncer). It runs as the account srv runs as. Without pgbouncer (on PATH or
// in /usr/sbin) it skips tb, or fails it when AUTHIX_REQUIRE_POSTGRES=1.
func StartBouncer(tb testing.TB, srv *Server) *Bouncer {
	tb.Helper()
	bin, err := exec.LookPath("pgbouncer")
	if err != nil {
		if bin = "/usr/sbin/pgbouncer"; !executable(bin) {
			missing(tb, "pgbouncer not found on PATH nor in /usr/sbin")
		}
	}
	b := &Bouncer{tb: tb, port: FreePort(tb), dir: srv.as.tempDir(tb, "pgbouncer-")}
	tb.Cleanup(b.Kill)
	ini := fmt.Sprintf(`[databases]
* = host=127.0.0.1 port=%d

[pgbouncer]
listen_addr = 127.0.0.1
listen_port = %d
unix_socket_dir =
auth_type = trust
auth_file = %s
admin_users = postgres
pool_mode = transaction
default_pool_size = 4
max_client_conn = 100
ignore_startup_parameters = extra_float_digits
server_login_retry = 1
`, srv.Port(), b.port, filepath.Join(b.dir, "userlist.txt"))
	for name, body := range map[string]string{"pgbouncer.ini": ini, "userlist.txt": `"postgres" ""` + "\n"} {
		if err := os.WriteFile(filepath.Join(b.dir, name), []byte(body), 0o644); err != nil {
			tb.Fatalf("write %s: %v", name, err)
		}
	}
	b.bin, b.as = bin, srv.as
	b.launch()
	return b
}

// Start starts a killed bouncer again, on the same port and configuration,
// and returns once it accepts connections. Starting a running bouncer
// fails the test.
func (b *Bouncer) Start() {
	b.tb.Helper()
	b.mu.Lock()
	running := b.cmd != nil
	b.mu.Unlock()
	if running {
		b.tb.Fatalf("pgbouncer on %s is already running", b.Addr())
	}
	b.launch()
}

// launch starts pgbouncer and waits until it accepts connections.
func (b *Bouncer) launch() {
	tb := b.tb
	tb.Helper()
	logf, err := os.OpenFile(filepath.Join(b.dir, "pgbouncer.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		tb.Fatalf("open the pgbouncer log: %v", err)
	}
	cmd := b.as.command(b.dir, b.bin, filepath.Join(b.dir, "pgbouncer.ini"))
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		logf.Close()
		tb.Fatalf("start pgbouncer: %v", err)
	}
	done := make(chan struct{})
	go func() {
		_ = cmd.Wait()
		logf.Close()
		close(done)
	}()
	b.mu.Lock()
	b.cmd, b.done = cmd, done
	b.mu.Unlock()

	deadline := time.Now().Add(hangGuard)
	for {
		c, err := net.DialTimeout("tcp", b.Addr(), time.Second)
		if err == nil {
			c.Close()
			return
		}
		select {
		case <-done:
			tb.Fatalf("pgbouncer on %s exited during start; log:\n%s", b.Addr(), b.Log())
		default:
		}
		if time.Now().After(deadline) {
			tb.Fatalf("pgbouncer on %s accepts no connection after %v; log:\n%s", b.Addr(), hangGuard, b.Log())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Addr returns the bouncer's host:port.
func (b *Bouncer) Addr() string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(b.port)) }

// URL returns a connection URL for the database postgres as the user
// postgres through the bouncer.
func (b *Bouncer) URL() string { return b.DatabaseURL("postgres") }

// DatabaseURL returns a connection URL for the database db as the user
// postgres through the bouncer.
func (b *Bouncer) DatabaseURL(db string) string {
	u := url.URL{Scheme: "postgres", User: url.User("postgres"), Host: b.Addr(), Path: "/" + db, RawQuery: "sslmode=disable"}
	return u.String()
}

// Connect returns a connection to the database postgres through the
// bouncer, closed when tb ends, that prepares no statement by name
// (QueryExecModeExec).
func (b *Bouncer) Connect(tb testing.TB) *pgx.Conn {
	tb.Helper()
	return connect(tb, b.URL()+"&default_query_exec_mode=exec")
}

// Kill stops the bouncer with SIGKILL and waits for it to exit; its clients
// lose their connections. Killing a stopped bouncer does nothing.
func (b *Bouncer) Kill() {
	b.mu.Lock()
	cmd, done := b.cmd, b.done
	b.cmd = nil
	b.mu.Unlock()
	if cmd == nil {
		return
	}
	_ = cmd.Process.Signal(syscall.SIGKILL)
	<-done
}

// Log returns what the bouncer has logged, for a failure message.
func (b *Bouncer) Log() string {
	data, _ := os.ReadFile(filepath.Join(b.dir, "pgbouncer.log"))
	return string(data)
}
