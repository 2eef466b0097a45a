package pgstore_test

import (
	"io"
	"net"
	"strings"
	"sync"
	"testing"
)

// link is a TCP proxy to a PostgreSQL server that a test can cut: the
// connections through it are closed and new ones refused until restore,
// as when a network partition separates one replica from the database
// while the others still reach it.
type link struct {
	target string
	ln     net.Listener

	mu    sync.Mutex
	down  bool
	conns map[net.Conn]struct{}
}

// newLink starts a link to target (host:port), closed when t ends.
func newLink(t testing.TB, target string) *link {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	l := &link{target: target, ln: ln, conns: map[net.Conn]struct{}{}}
	go l.serve()
	t.Cleanup(func() {
		ln.Close()
		l.cut()
	})
	return l
}

// url returns a connection URL through the link that is the same as u
// otherwise.
func (l *link) url(u string) string {
	_, port, _ := net.SplitHostPort(l.ln.Addr().String())
	return strings.Replace(u, l.target, "127.0.0.1:"+port, 1)
}

// cut closes every connection through the link and refuses new ones.
func (l *link) cut() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.down = true
	for c := range l.conns {
		c.Close()
	}
	clear(l.conns)
}

// restore lets connections through again.
func (l *link) restore() {
	l.mu.Lock()
	l.down = false
	l.mu.Unlock()
}

func (l *link) serve() {
	for {
		c, err := l.ln.Accept()
		if err != nil {
			return
		}
		l.mu.Lock()
		down := l.down
		if !down {
			l.conns[c] = struct{}{}
		}
		l.mu.Unlock()
		if down {
			c.Close()
			continue
		}
		go l.pipe(c)
	}
}

func (l *link) pipe(c net.Conn) {
	s, err := net.Dial("tcp", l.target)
	if err != nil {
		c.Close()
		return
	}
	l.mu.Lock()
	if l.down {
		l.mu.Unlock()
		c.Close()
		s.Close()
		return
	}
	l.conns[s] = struct{}{}
	l.mu.Unlock()
	go func() { _, _ = io.Copy(s, c); s.Close(); c.Close() }()
	_, _ = io.Copy(c, s)
	s.Close()
	c.Close()
}
