// Command e2e is the server of the end-to-end benchmark: one process answers
// the same small JSON after reading the user on four routes (bare, sent the
// same request as authix but reading nothing from it; authix RequireData
// with sliding sessions and the subject check on, as a typical app has
// them; a hand-written fernet-go chain; go-chi/jwtauth). It
// prints, one line per route, the header a client must send, then "ready",
// and serves on a loopback address until killed:
//
//	e2e -addr 127.0.0.1:8099
//
// bench/e2e.sh runs it pinned to one core and wrk on the other, in
// interleaved rounds, and prints medians and ratios.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"runtime/pprof"
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/authix-go/authix"
	"github.com/fernet/fernet-go"
	"github.com/go-chi/jwtauth/v5"
)

// User is the payload every route reads.
type User struct {
	ID      int    `json:"id"`
	IsAdmin bool   `json:"is_admin"`
	Name    string `json:"name"`
}

var user = User{ID: 1, IsAdmin: true, Name: "John"}

func main() {
	if err := serve(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		os.Exit(1)
	}
}

// serve prints one line per route, "route header", with the header the
// load generator must send, then serves until killed.
func serve(args []string) error {
	fs := flag.NewFlagSet("e2e", flag.ContinueOnError)
	addr := fs.String("addr", "127.0.0.1:8099", "listen address (loopback only)")
	profile := fs.String("cpuprofile", "", "write a CPU profile of the server to this file, until SIGTERM")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if host, _, err := net.SplitHostPort(*addr); err != nil || !net.ParseIP(host).IsLoopback() {
		return fmt.Errorf("-addr %q: a loopback address is required", *addr)
	}

	var k fernet.Key
	if err := k.Generate(); err != nil {
		return err
	}
	vault, err := authix.New[User](authix.WithKeys(k.Encode()), authix.WithSliding(0),
		authix.WithSubject(func(u User) string { return strconv.Itoa(u.ID) }))
	if err != nil {
		return err
	}
	authixTok, err := vault.CreateAccessToken(user)
	if err != nil {
		return err
	}
	plain, err := json.Marshal(user)
	if err != nil {
		return err
	}
	fernetTok, err := fernet.EncryptAndSign(plain, &k)
	if err != nil {
		return err
	}
	ja := jwtauth.New("HS256", k[:], nil)
	claims := map[string]any{"id": user.ID, "is_admin": user.IsAdmin, "name": user.Name}
	jwtauth.SetExpiryIn(claims, time.Hour)
	_, jwtTok, err := ja.Encode(claims)
	if err != nil {
		return err
	}

	answer := func(w http.ResponseWriter, name string) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"hello":"`+name+`"}`)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /bare", func(w http.ResponseWriter, r *http.Request) { answer(w, user.Name) })
	mux.Handle("GET /authix", vault.RequireData(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		answer(w, vault.MustData(r.Context()).Name)
	})))
	mux.Handle("GET /fernet-go", fernetChain([]*fernet.Key{&k}, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		answer(w, r.Context().Value(userKey{}).(User).Name)
	})))
	mux.Handle("GET /jwtauth", jwtauth.Verifier(ja)(jwtauth.Authenticator(ja)(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, c, _ := jwtauth.FromContext(r.Context())
		name, _ := c["name"].(string)
		answer(w, name)
	}))))

	// bare gets authix's cookie too: the same request, unauthenticated, so
	// that the ratio is the cost of authentication alone.
	fmt.Printf("bare Cookie: %s=%s\n", authix.DefaultCookieName, authixTok)
	fmt.Printf("authix Cookie: %s=%s\n", authix.DefaultCookieName, authixTok)
	fmt.Printf("fernet-go Cookie: %s=%s\n", authix.DefaultCookieName, fernetTok)
	fmt.Printf("jwtauth Authorization: Bearer %s\n", jwtTok)
	srv := &http.Server{Addr: *addr, Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	if *profile != "" {
		f, err := os.Create(*profile)
		if err != nil {
			return err
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		stop := make(chan os.Signal, 1)
		signal.Notify(stop, syscall.SIGTERM, os.Interrupt)
		go func() {
			<-stop
			pprof.StopCPUProfile()
			_ = f.Close()
			_ = srv.Close()
		}()
	}
	fmt.Println("ready")
	if err := srv.ListenAndServe(); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

type userKey struct{}

// fernetChain is what a team writes by hand around fernet-go: the cookie,
// VerifyAndDecrypt, a revocation check, json.Unmarshal, the context.
func fernetChain(keys []*fernet.Key, next http.Handler) http.Handler {
	var revoked sync.Map
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := r.Cookie(authix.DefaultCookieName)
		if err != nil {
			http.Error(w, "unauthorized", http.StatusUnauthorized)
			return
		}
		msg := fernet.VerifyAndDecrypt([]byte(c.Value), time.Hour, keys)
		if _, gone := revoked.Load(c.Value); msg == nil || gone {
			http.Error(w, "unauthorized", http.StatusUnauthorized)
			return
		}
		var u User
		if err := json.Unmarshal(msg, &u); err != nil {
			http.Error(w, "unauthorized", http.StatusUnauthorized)
			return
		}
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), userKey{}, u)))
	})
}
