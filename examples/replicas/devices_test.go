package main

// "Your devices" through two replicas on a real redis-server (issue 23).

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/authix-go/authix"
	"github.com/authix-go/authix/redisstore"
	"github.com/authix-go/authix/redisstore/redistest"
)

// onPage serves tok through v.RequireData and runs f in the handler.
func onPage(t *testing.T, v *authix.Vault[User], tok string, f func(ctx context.Context) error) {
	t.Helper()
	rec := httptest.NewRecorder()
	var err error
	v.RequireData(http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) { err = f(r.Context()) })).ServeHTTP(rec, homeRequest(tok))
	if rec.Code != http.StatusOK || err != nil {
		t.Fatalf("status %d, %v", rec.Code, err)
	}
}

func devicesOf(t *testing.T, v *authix.Vault[User], tok string) []authix.Device {
	t.Helper()
	var list []authix.Device
	onPage(t, v, tok, func(ctx context.Context) (err error) {
		list, err = v.Devices(ctx)
		return err
	})
	return list
}

// writes counts the write commands Redis has run.
func writes(t *testing.T, c *redis.Client) int {
	t.Helper()
	info, err := c.Info(context.Background(), "commandstats").Result()
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, line := range strings.Split(info, "\n") {
		for _, cmd := range []string{"evalsha", "eval", "set", "hset", "hdel", "del", "xadd", "publish", "pexpire"} {
			if rest, ok := strings.CutPrefix(line, "cmdstat_"+cmd+":calls="); ok {
				calls, _ := strconv.Atoi(rest[:strings.IndexByte(rest, ',')])
				n += calls
			}
		}
	}
	return n
}

func TestDevicesAcrossReplicas(t *testing.T) {
	srv := redistest.Start(t)
	clk := newFakeClock()
	opts := []authix.Option{authix.WithKeys(authix.GenerateKey()), authix.WithClock(clk.Now),
		authix.WithSubject(userName), authix.WithSliding(0)}
	storeOpts := []redisstore.Option{redisstore.WithClock(clk.Now)}
	a, _ := newReplica(t, replicaClient(t, srv), storeOpts, opts...)
	b, _ := newReplica(t, replicaClient(t, srv), storeOpts, opts...)
	john := User{Name: "John"}
	laptop := login(t, a, john, authix.DeviceLabel("laptop"))
	phone := login(t, b, john, authix.DeviceLabel("phone"))
	tablet := login(t, a, john, authix.DeviceLabel("tablet"))

	for name, v := range map[string]*authix.Vault[User]{"A": a, "B": b} {
		if list := devicesOf(t, v, laptop); len(list) != 3 {
			t.Fatalf("replica %s lists %d sessions, want 3: %+v", name, len(list), list)
		}
	}

	t.Run("requests between renewals write nothing; a renewal updates last active", func(t *testing.T) {
		stats := replicaClient(t, srv)
		before := writes(t, stats)
		for range 10 {
			clk.Advance(time.Minute)
			if status, renewed := visit(b, laptop); status != http.StatusOK || renewed != "" {
				t.Fatalf("a request before the renewal age: %d, renewed %v", status, renewed != "")
			}
		}
		if after := writes(t, stats); after != before {
			t.Errorf("%d write commands for 10 requests between renewals, want none", after-before)
		}
		clk.Advance(25 * time.Minute)
		status, renewed := visit(b, laptop)
		if status != http.StatusOK || renewed == "" {
			t.Fatalf("past the renewal age: %d, renewed %v", status, renewed != "")
		}
		laptop = renewed
		if writes(t, stats) == before {
			t.Error("the renewal wrote nothing either: the count sees no writes")
		}
		for _, d := range devicesOf(t, a, laptop) {
			if want := clk.Now().Truncate(time.Second); d.Current && !d.LastActive.Equal(want) {
				t.Errorf("last active %v after the renewal at %v", d.LastActive, want)
			}
		}
	})

	t.Run("ending one refuses its tokens on both replicas and leaves the others", func(t *testing.T) {
		var id string
		for _, d := range devicesOf(t, a, laptop) {
			if d.Label == "tablet" {
				id = d.ID
			}
		}
		onPage(t, a, laptop, func(ctx context.Context) error { return a.EndDevice(ctx, id) })
		deadline := time.Now().Add(propagationWait)
		awaitRevoked(t, a, tablet, deadline, "the ended session on A")
		awaitRevoked(t, b, tablet, deadline, "the ended session on B")
		for _, tok := range []string{laptop, phone} {
			for _, v := range []*authix.Vault[User]{a, b} {
				if _, err := v.Authenticate(homeRequest(tok)); err != nil {
					t.Errorf("another session: %v", err)
				}
			}
		}
		if n := len(devicesOf(t, b, laptop)); n != 2 {
			t.Errorf("%d sessions listed after ending one, want 2", n)
		}
	})

	t.Run("all but this one", func(t *testing.T) {
		onPage(t, b, phone, b.EndOtherDevices)
		awaitRevoked(t, a, laptop, time.Now().Add(propagationWait), "the laptop on A")
		list := devicesOf(t, a, phone)
		if len(list) != 1 || !list[0].Current || list[0].Label != "phone" {
			t.Errorf("after ending the others: %+v", list)
		}
	})

	t.Run("bounded per subject, gone after the absolute lifetime", func(t *testing.T) {
		jane := User{Name: "Jane"}
		var last string
		for i := range authix.MaxDevices + 8 {
			clk.Advance(time.Second)
			last = login(t, a, jane, authix.DeviceLabel(fmt.Sprint("device ", i)))
		}
		if n := len(devicesOf(t, b, last)); n != authix.MaxDevices {
			t.Errorf("%d sessions listed, want the bound %d", n, authix.MaxDevices)
		}
		clk.Advance(12 * time.Hour)
		fresh := login(t, b, jane, authix.DeviceLabel("later"))
		if list := devicesOf(t, a, fresh); len(list) != 1 {
			t.Errorf("after the absolute lifetime: %d sessions listed, want only the new one", len(list))
		}
	})
}
