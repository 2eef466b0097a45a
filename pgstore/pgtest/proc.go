package pgtest

import (
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
)

// account is the OS user the servers run as: postgres when the test runs as
// root, since PostgreSQL and PgBouncer refuse to run as root, and the
// test's own user otherwise (as is zero then).
type account struct {
	as       bool
	uid, gid uint32
}

// serverAccount returns the account to run servers as, or skips tb (fails
// it under AUTHIX_REQUIRE_POSTGRES=1) when the test runs as root and there
// is no postgres user.
func serverAccount(tb testing.TB) account {
	tb.Helper()
	if os.Geteuid() != 0 {
		return account{}
	}
	u, err := user.Lookup("postgres")
	if err != nil {
		missing(tb, "the test runs as root and there is no postgres user to run PostgreSQL as (the postgresql package makes one)")
	}
	uid, err1 := strconv.ParseUint(u.Uid, 10, 32)
	gid, err2 := strconv.ParseUint(u.Gid, 10, 32)
	if err1 != nil || err2 != nil {
		tb.Fatalf("the postgres user has uid %q, gid %q", u.Uid, u.Gid)
	}
	return account{as: true, uid: uint32(uid), gid: uint32(gid)}
}

// tempDir makes a directory for a server, owned by the account and
// removed when tb ends. It is not under tb.TempDir, whose parent only root
// may enter.
func (a account) tempDir(tb testing.TB, prefix string) string {
	tb.Helper()
	dir, err := os.MkdirTemp("", prefix)
	if err != nil {
		tb.Fatalf("make a directory for the server: %v", err)
	}
	tb.Cleanup(func() { _ = os.RemoveAll(dir) })
	if a.as {
		if err := os.Chown(dir, int(a.uid), int(a.gid)); err != nil {
			tb.Fatalf("give %s to the postgres user: %v", dir, err)
		}
	}
	return dir
}

// command returns a command that runs name as the account, in dir, in a
// process group of its own, with a small fixed environment. Running as
// another user drops root's supplementary groups too.
func (a account) command(dir, name string, args ...string) *exec.Cmd {
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	cmd.Env = []string{"PATH=/usr/bin:/bin", "HOME=" + dir, "LC_ALL=C", "TZ=UTC"}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if a.as {
		cmd.SysProcAttr.Credential = &syscall.Credential{Uid: a.uid, Gid: a.gid}
	}
	return cmd
}

// children returns the processes whose parent is pid, from /proc.
func children(pid int) []int {
	paths, _ := filepath.Glob("/proc/[0-9]*/stat")
	var kids []int
	for _, p := range paths {
		if st, ok := readStat(p); ok && st.ppid == pid {
			kids = append(kids, st.pid)
		}
	}
	return kids
}

// alive reports whether pid is a process that has not exited; a zombie has
// exited, and let go of its memory.
func alive(pid int) bool {
	st, ok := readStat("/proc/" + strconv.Itoa(pid) + "/stat")
	return ok && st.state != "Z" && st.state != "X"
}

type procStat struct {
	pid, ppid int
	state     string
}

// readStat reads /proc/N/stat: "pid (comm) state ppid …", where comm may
// hold spaces and parentheses.
func readStat(path string) (procStat, bool) {
	b, err := os.ReadFile(path)
	if err != nil {
		return procStat{}, false
	}
	s := string(b)
	open, end := strings.IndexByte(s, '('), strings.LastIndexByte(s, ')')
	if open < 0 || end < open {
		return procStat{}, false
	}
	f := strings.Fields(s[end+1:])
	if len(f) < 2 {
		return procStat{}, false
	}
	pid, err1 := strconv.Atoi(strings.TrimSpace(s[:open]))
	ppid, err2 := strconv.Atoi(f[1])
	if err1 != nil || err2 != nil {
		return procStat{}, false
	}
	return procStat{pid: pid, ppid: ppid, state: f[0]}, true
}
