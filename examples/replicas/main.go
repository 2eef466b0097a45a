// Command replicas is the login, home and logout flow of examples/basic for a
// service that runs as several processes: the replicas share their keys
// through AUTHIX_KEYS and their revocations through Redis or PostgreSQL, so
// a token logged out on one replica is refused by all of them, and a
// logout everywhere ends the user's sessions on all of them.
//
//	export AUTHIX_KEYS=$(go run ./cmd/authix keygen)
//	ADDR=:8001 go run ./examples/replicas &
//	ADDR=:8002 go run ./examples/replicas &
//
// Environment:
//
//   - ADDR: where to listen, default ":8000".
//   - AUTHIX_KEYS: required; comma-separated Fernet keys (URL-safe base64),
//     the first seals and all open. Every replica needs the same keys.
//   - DATABASE_URL: the PostgreSQL that holds the revocations, as a URL
//     (postgres://[user:password@]host:port/db?options, the form pgx
//     reads); the tables are made at start (pgstore.Migrate). When it is
//     not set, revocations live in Redis.
//   - DATABASE_POLL_INTERVAL: with DATABASE_URL, read the revocation log
//     every interval (such as "500ms") instead of listening for
//     notifications: for PgBouncer in transaction pooling mode, where
//     DATABASE_URL also needs default_query_exec_mode=exec.
//   - REDIS_URL: the Redis that holds the revocations when DATABASE_URL is
//     not set, default "redis://localhost:6379/0", in the form
//     redis.ParseURL reads (redis://[user:password@]host:port/db, rediss://
//     for TLS, and options such as ?dial_timeout=1s).
//
// Revocations are kept by redisstore or pgstore: each replica answers
// revocation checks from a local mirror that follows a log in the shared
// store, so a request costs no round trip. The process stops gracefully
// on SIGINT or SIGTERM.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/redis/go-redis/v9"

	"github.com/authix-go/authix"
	"github.com/authix-go/authix/pgstore"
	"github.com/authix-go/authix/redisstore"
)

// Defaults for the environment variables.
const (
	defaultAddr     = ":8000"
	defaultRedisURL = "redis://localhost:6379/0"
	// shutdownTimeout bounds how long requests in flight may take to finish
	// after SIGINT or SIGTERM.
	shutdownTimeout = 10 * time.Second
)

// errNoKeys is returned by run when AUTHIX_KEYS is empty.
var errNoKeys = errors.New("AUTHIX_KEYS is empty: replicas must share their keys, or a token sealed by one " +
	"is refused by the others. Make a key with `go run ./cmd/authix keygen` (from the repository root) " +
	"and start every replica with the same AUTHIX_KEYS")

// User is the payload each token carries.
type User struct {
	Name string `json:"name"`
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	go func() {
		<-ctx.Done()
		stop() // a second signal kills the process at once
	}()
	logger := log.New(os.Stderr, "replicas: ", log.LstdFlags)
	if err := run(ctx, os.Getenv, logger); err != nil {
		logger.Print(err)
		os.Exit(1)
	}
}

// run serves until ctx is cancelled, then shuts the server down and closes
// the revocation store and its client, in that order. getenv reads the
// configuration.
func run(ctx context.Context, getenv func(string) string, logger *log.Logger) error {
	addr := getenv("ADDR")
	if addr == "" {
		addr = defaultAddr
	}
	keys := getenv("AUTHIX_KEYS")
	if strings.Trim(keys, ", \t\r\n") == "" {
		return errNoKeys
	}
	// Checked before the store is dialled, so a bad key is reported as
	// such even when the store is down too.
	if _, err := authix.New[User](authix.WithKeys(keys)); err != nil {
		return fmt.Errorf("AUTHIX_KEYS: %w", err)
	}
	open := openRedis
	if getenv("DATABASE_URL") != "" {
		open = openPostgres
	}
	shared, err := open(ctx, getenv)
	if err != nil {
		return err
	}
	closeStore := shared.close
	vault, err := authix.New[User](
		authix.WithKeys(keys),
		authix.WithRevocationStore(shared.store),
		authix.WithSubject(userName), // LogoutEverywhere
		authix.WithErrorHandler(rejectAndLog(logger)),
	)
	if err != nil {
		closeStore()
		return fmt.Errorf("AUTHIX_KEYS: %w", err)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		closeStore()
		return err
	}
	logger.Printf("keys: %d from AUTHIX_KEYS, the first one seals", countKeys(keys))
	for _, line := range shared.log {
		logger.Print(line)
	}
	logger.Printf("listening on %s", ln.Addr())

	srv := &http.Server{
		Handler:           routes(vault, logger),
		ReadHeaderTimeout: 10 * time.Second,
		ErrorLog:          logger,
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()

	select {
	case err := <-served: // Serve failed on its own
		closeStore()
		return err
	case <-ctx.Done():
	}
	logger.Print("shutting down: waiting for requests in flight")
	sctx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
	defer cancel()
	err = srv.Shutdown(sctx)
	if err != nil {
		err = fmt.Errorf("shutdown: %w", err)
	}
	<-served // http.ErrServerClosed once Shutdown began
	closeStore()
	logger.Print("stopped")
	return err
}

// sharedStore is the revocation store the replicas share, opened.
type sharedStore struct {
	store authix.RevocationStore
	close func() // closes the store, then its client
	log   []string
}

// openRedis opens a redisstore.Store on REDIS_URL.
func openRedis(_ context.Context, getenv func(string) string) (sharedStore, error) {
	var none sharedStore
	if getenv("DATABASE_POLL_INTERVAL") != "" {
		return none, errors.New("DATABASE_POLL_INTERVAL is set but DATABASE_URL is not: set both for PostgreSQL, or neither for Redis")
	}
	redisURL := getenv("REDIS_URL")
	if redisURL == "" {
		redisURL = defaultRedisURL
	}
	if _, err := url.Parse(redisURL); err != nil {
		// url.Error quotes the whole URL, password included: keep its cause only.
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return none, fmt.Errorf("REDIS_URL is not a URL: %w", err)
	}
	ropts, err := redis.ParseURL(redisURL)
	if err != nil {
		return none, fmt.Errorf("REDIS_URL %s: %w", redact(redisURL), err)
	}
	client := redis.NewClient(ropts)
	store, err := redisstore.New(client)
	if err != nil {
		_ = client.Close()
		return none, fmt.Errorf("redis at %s: %w (start one with redis-server, or set REDIS_URL)", redact(redisURL), err)
	}
	return sharedStore{
		store: store,
		close: func() {
			_ = store.Close() // before the client it uses
			_ = client.Close()
		},
		log: []string{
			fmt.Sprintf("redis: %s (db %d), keys %q, channel %q, %d live revocations loaded",
				redact(redisURL), ropts.DB, redisstore.DefaultKeyPrefix+"*", redisstore.DefaultKeyPrefix+"events", store.Len()),
			fmt.Sprintf("revocations: answered from the local mirror; Redis is asked directly once the mirror "+
				"is unconfirmed for %v, and requests are refused if it cannot answer", redisstore.DefaultStalenessBound),
		},
	}, nil
}

// openPostgres makes pgstore's tables on DATABASE_URL if they are missing,
// and opens a pgstore.Store on them.
func openPostgres(ctx context.Context, getenv func(string) string) (sharedStore, error) {
	var none sharedStore
	if getenv("REDIS_URL") != "" {
		return none, errors.New("both DATABASE_URL and REDIS_URL are set: set one, for the store the replicas share")
	}
	raw := getenv("DATABASE_URL")
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
		// url.Error would quote the whole URL, password included.
		return none, errors.New("DATABASE_URL is not a postgres:// URL")
	}
	var opts []pgstore.Option
	mode := "LISTEN"
	if p := getenv("DATABASE_POLL_INTERVAL"); p != "" {
		d, err := time.ParseDuration(p)
		if err != nil {
			return none, fmt.Errorf("DATABASE_POLL_INTERVAL: %w", err)
		}
		opts = append(opts, pgstore.WithPolling(d))
		mode = "polling every " + d.String()
	}
	pool, err := pgxpool.New(ctx, raw)
	if err != nil {
		return none, fmt.Errorf("DATABASE_URL %s: %w", u.Redacted(), err)
	}
	if err := pgstore.Migrate(ctx, pool, opts...); err != nil {
		pool.Close()
		return none, fmt.Errorf("postgres at %s: %w", u.Redacted(), err)
	}
	store, err := pgstore.New(pool, opts...)
	if err != nil {
		pool.Close()
		return none, fmt.Errorf("postgres at %s: %w", u.Redacted(), err)
	}
	return sharedStore{
		store: store,
		close: func() {
			_ = store.Close() // before the pool it uses
			pool.Close()
		},
		log: []string{
			fmt.Sprintf("postgres: %s, tables %q, %s, %d live revocations loaded",
				u.Redacted(), pgstore.DefaultTablePrefix+"*", mode, store.Len()),
			fmt.Sprintf("revocations: answered from the local mirror; PostgreSQL is asked directly once the mirror "+
				"is unconfirmed for %v, and requests are refused if it cannot answer", pgstore.DefaultStalenessBound),
		},
	}, nil
}

// userName names a User's subject for WithSubject: LogoutEverywhere("John")
// ends every session of John's.
func userName(u User) string { return u.Name }

func routes(vault *authix.Vault[User], logger *log.Logger) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /login", func(w http.ResponseWriter, r *http.Request) {
		name := r.URL.Query().Get("name")
		if name == "" {
			writeJSON(w, http.StatusBadRequest, map[string]string{"detail": "name is required"})
			return
		}
		if err := vault.SetAccessToken(w, User{Name: name}); err != nil {
			logger.Printf("login: %v", err)
			writeJSON(w, http.StatusInternalServerError, map[string]string{"detail": "cannot log in"})
			return
		}
		http.Redirect(w, r, "/home", http.StatusFound)
	})
	mux.Handle("GET /home", vault.RequireData(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		user, _ := vault.Data(r.Context())
		writeJSON(w, http.StatusOK, map[string]string{"hello": user.Name})
	})))
	// GET, as in fastapi-authix's documentation. A real service should log
	// out with POST: SameSite=Lax cookies ride along on top-level GET
	// navigations from other sites, so any site can log a user out here.
	mux.Handle("GET /logout", vault.RequireData(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		token, _ := vault.ExtractAccessToken(r)
		// Fails when the store did not take the revocation or could not log
		// it for the other replicas: the user is told, never logged out on
		// one replica only without knowing.
		if err := vault.DisableAccessToken(r.Context(), token); err != nil {
			logger.Printf("logout: %v", err)
			writeJSON(w, http.StatusInternalServerError, map[string]string{"detail": "cannot log out"})
			return
		}
		vault.RemoveAccessToken(w)
		writeJSON(w, http.StatusOK, map[string]bool{"ok": true})
	})))
	// POST: ends every session of the user, on every replica.
	mux.Handle("POST /logout-everywhere", vault.RequireData(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		user, _ := vault.Data(r.Context())
		if err := vault.LogoutEverywhere(r.Context(), user.Name); err != nil {
			logger.Printf("logout everywhere: %v", err)
			writeJSON(w, http.StatusInternalServerError, map[string]string{"detail": "cannot log out everywhere"})
			return
		}
		vault.RemoveAccessToken(w)
		writeJSON(w, http.StatusOK, map[string]bool{"ok": true})
	})))
	return mux
}

// rejectAndLog answers as authix.DefaultErrorHandler does, and logs the
// rejections that come from the revocation store rather than from the
// token: with the store unreachable past the staleness bound, every request
// with a token is refused, and the log says why.
func rejectAndLog(logger *log.Logger) func(http.ResponseWriter, *http.Request, error) {
	return func(w http.ResponseWriter, r *http.Request, err error) {
		if errors.Is(err, authix.ErrRevocationStore) {
			logger.Printf("%s %s refused: %v", r.Method, r.URL.Path, err)
		}
		authix.DefaultErrorHandler(w, r, err)
	}
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// countKeys counts the comma-separated keys in s, as WithKeys splits them.
func countKeys(s string) int {
	n := 0
	for k := range strings.SplitSeq(s, ",") {
		if strings.TrimSpace(k) != "" {
			n++
		}
	}
	return n
}

// redact returns raw with any password replaced by "xxxxx", so that it can be
// logged. A URL that does not parse is not echoed at all.
func redact(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(unparsable URL)"
	}
	return u.Redacted()
}
