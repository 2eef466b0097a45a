package pgtest_test

import (
	"context"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/authix-go/authix/pgstore/pgtest"
)

func TestStartAndConnect(t *testing.T) {
	t.Parallel()
	srv := pgtest.Start(t)
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, srv.URL())
	if err != nil {
		t.Fatalf("pgx.Connect(%s): %v", srv.URL(), err)
	}
	defer conn.Close(ctx)

	var version, user string
	var pid int
	if err := conn.QueryRow(ctx, "SELECT version(), current_user, pg_backend_pid()").Scan(&version, &user, &pid); err != nil {
		t.Fatalf("query: %v", err)
	}
	if user != "postgres" || !strings.HasPrefix(version, "PostgreSQL ") {
		t.Errorf("version() = %q, current_user = %q; want PostgreSQL as postgres", version, user)
	}
	t.Logf("%s on %s", version, srv.Addr())

	// The server runs as the postgres OS user when the test runs as root.
	status, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		t.Fatalf("read the backend's status: %v", err)
	}
	if os.Geteuid() == 0 && uidOf(string(status)) == "0" {
		t.Errorf("the backend runs as root:\n%s", status)
	}

	t.Run("unix socket", func(t *testing.T) {
		c, err := pgx.Connect(ctx, "host="+srv.SocketDir()+" port="+strconv.Itoa(srv.Port())+" user=postgres dbname=postgres")
		if err != nil {
			t.Fatalf("connect over the socket in %s: %v", srv.SocketDir(), err)
		}
		defer c.Close(ctx)
		var one int
		if err := c.QueryRow(ctx, "SELECT 1").Scan(&one); err != nil || one != 1 {
			t.Fatalf("SELECT 1 = %d, %v", one, err)
		}
	})
	t.Run("NewDatabase", func(t *testing.T) {
		c, err := pgx.Connect(ctx, srv.NewDatabase(t))
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close(ctx)
		var db string
		if err := c.QueryRow(ctx, "SELECT current_database()").Scan(&db); err != nil || db == "postgres" {
			t.Fatalf("current_database() = %q, %v; want a new database", db, err)
		}
	})
}

// uidOf returns the real uid from /proc/N/status.
func uidOf(status string) string {
	for _, line := range strings.Split(status, "\n") {
		if f := strings.Fields(line); len(f) > 1 && f[0] == "Uid:" {
			return f[1]
		}
	}
	return ""
}

// TestRestartKeepsData: data committed before a clean stop, or before a
// kill, is there once the server is started again on the same directory.
func TestRestartKeepsData(t *testing.T) {
	t.Parallel()
	srv := pgtest.Start(t)
	ctx := context.Background()
	exec := func(sql string) {
		t.Helper()
		conn, err := pgx.Connect(ctx, srv.URL())
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close(ctx)
		if _, err := conn.Exec(ctx, sql); err != nil {
			t.Fatalf("%s: %v", sql, err)
		}
	}
	count := func() int {
		t.Helper()
		conn := srv.Connect(t)
		var n int
		if err := conn.QueryRow(ctx, "SELECT count(*) FROM kept").Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	exec("CREATE TABLE kept (id int PRIMARY KEY)")
	exec("INSERT INTO kept VALUES (1)")
	srv.Stop()
	if _, err := pgx.Connect(ctx, srv.URL()); err == nil {
		t.Fatal("a stopped server accepts connections")
	}
	srv.Start()
	if n := count(); n != 1 {
		t.Fatalf("after a restart the table holds %d rows, want 1", n)
	}

	open := srv.Connect(t)
	exec("INSERT INTO kept VALUES (2)")
	srv.Kill()
	err := open.Ping(ctx)
	if err == nil {
		t.Fatal("a connection to a killed server still answers")
	}
	t.Logf("a connection to the killed server: %v", err)
	srv.Start()
	if n := count(); n != 2 {
		t.Fatalf("after a kill and a start the table holds %d rows, want 2", n)
	}
}

// TestBouncerTransactionMode: a query through the bouncer reaches the
// server, and the bouncer pools per transaction.
func TestBouncerTransactionMode(t *testing.T) {
	t.Parallel()
	srv := pgtest.Start(t)
	b := pgtest.StartBouncer(t, srv)
	ctx := context.Background()
	conn := b.Connect(t)
	var sum int
	if err := conn.QueryRow(ctx, "SELECT $1::int + $2::int", 40, 2).Scan(&sum); err != nil || sum != 42 {
		t.Fatalf("SELECT 40 + 2 through the bouncer = %d, %v", sum, err)
	}

	admin, err := pgx.Connect(ctx, b.DatabaseURL("pgbouncer")+"&default_query_exec_mode=simple_protocol")
	if err != nil {
		t.Fatalf("connect to the bouncer's admin console: %v", err)
	}
	defer admin.Close(ctx)
	rows, err := admin.Query(ctx, "SHOW CONFIG")
	if err != nil {
		t.Fatal(err)
	}
	mode := ""
	for rows.Next() {
		vals, err := rows.Values()
		if err != nil {
			t.Fatal(err)
		}
		if len(vals) > 1 && vals[0] == "pool_mode" {
			mode, _ = vals[1].(string)
		}
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	if mode != "transaction" {
		t.Fatalf("pool_mode = %q, want transaction", mode)
	}
	var version string
	if err := admin.QueryRow(ctx, "SHOW VERSION").Scan(&version); err == nil {
		t.Logf("%s in front of %s", version, srv.Addr())
	}

	b.Kill()
	if err := conn.Ping(ctx); err == nil {
		t.Fatal("a connection through a killed bouncer still answers")
	}
}
