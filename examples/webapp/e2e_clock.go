//go:build authix_e2e

package main

import (
	"fmt"
	"net/http"
	"sync/atomic"
	"time"
)

// This file is built only into the binary that e2e's browser tests run
// (go build -tags authix_e2e): the vault's clock moves forward on
// POST /_e2e/clock?advance=11m, so that a test passes the step-up age
// without waiting for it. Never build a binary that serves users with the
// tag: anyone could move its clock.

func init() { e2eClock = new(movableClock) }

// movableClock is the real time plus what the test added.
type movableClock struct{ ahead atomic.Int64 }

func (c *movableClock) Now() time.Time { return time.Now().Add(time.Duration(c.ahead.Load())) }

func (c *movableClock) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	d, err := time.ParseDuration(r.FormValue("advance"))
	if err != nil || d < 0 {
		http.Error(w, "want ?advance=DURATION, such as 11m", http.StatusBadRequest)
		return
	}
	c.ahead.Add(int64(d))
	fmt.Fprintln(w, c.Now().UTC().Format(time.RFC3339))
}
