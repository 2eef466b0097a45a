package authix_test

import (
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"sync"
)

// recordingJar is a cookie jar that remembers the last URL it stored
// cookies for, so a test can read them back.
type recordingJar struct {
	*cookiejar.Jar
	mu   sync.Mutex
	last *url.URL
}

func newJar() *recordingJar {
	j, _ := cookiejar.New(nil)
	return &recordingJar{Jar: j}
}

func (j *recordingJar) SetCookies(u *url.URL, cookies []*http.Cookie) {
	j.mu.Lock()
	j.last = u
	j.mu.Unlock()
	j.Jar.SetCookies(u, cookies)
}

func (j *recordingJar) value(name string) string {
	j.mu.Lock()
	u := j.last
	j.mu.Unlock()
	if u == nil {
		return ""
	}
	for _, c := range j.Cookies(u) {
		if c.Name == name {
			return c.Value
		}
	}
	return ""
}
