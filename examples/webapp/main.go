// Command webapp is a starter web application on authix: an HTML login form
// with "remember me", pages for logged-in users and for admins, logout and
// "log out everywhere", a page listing the user's devices (sessions) where
// they can end them, a change-password page that asks for the password again
// when it was last entered over ten minutes ago, and a small JSON API with
// Bearer tokens. Copy this directory to start a service, then replace the
// demo user table.
//
//	export AUTHIX_KEYS=$(go run ./cmd/authix keygen)
//	go run ./examples/webapp
//
// Environment:
//
//   - ADDR: where to listen, default ":8000".
//   - AUTHIX_KEYS: required; comma-separated Fernet keys (URL-safe base64),
//     the first seals and all open. Tokens survive restarts with them.
//   - DATABASE_URL: optional; revocations (logouts) and devices are kept in
//     that PostgreSQL (a postgres:// URL, the form pgx reads), so every
//     replica sees them; the tables are made at start (pgstore.Migrate).
//     DATABASE_POLL_INTERVAL (such as "500ms") makes each replica read the
//     revocation log every interval instead of listening: for PgBouncer in
//     transaction pooling mode, where DATABASE_URL also needs
//     default_query_exec_mode=exec.
//   - REDIS_URL: optional, instead of DATABASE_URL; revocations are kept in
//     that Redis, in the form redis.ParseURL reads. With neither, they are
//     kept in memory and a restart forgets them.
//
// The process stops gracefully on SIGINT or SIGTERM.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
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

const (
	defaultAddr = ":8000"
	// rememberMe is how long a "remember me" login lasts.
	rememberMe = 14 * 24 * time.Hour
	// sessionLifetime bounds a session that stays active: the token is
	// renewed while the user keeps using the site (one hour idle timeout),
	// and they log in again after a working day.
	sessionLifetime = 10 * time.Hour
	// renewAfter is how old a cookie's token gets before a request renews
	// it, reloading the user: a demoted admin loses admin, and a deleted
	// user their session, within five minutes of using the site, even on a
	// two-week remembered login. Each renewal costs one user lookup.
	renewAfter = 5 * time.Minute
	// stepUpAge is how recently the user must have entered their password
	// to change it: past it, the login page asks for it again.
	stepUpAge = 10 * time.Minute
	// minPassword is the shortest new password the app takes.
	minPassword = 8
	// shutdownTimeout bounds how long requests in flight may take to finish
	// after SIGINT or SIGTERM.
	shutdownTimeout = 10 * time.Second
)

var errNoKeys = errors.New("AUTHIX_KEYS is empty: make a key with `go run ./cmd/authix keygen` (from the " +
	"repository root) and export it, so that tokens survive a restart and every replica shares them")

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	go func() {
		<-ctx.Done()
		stop() // a second signal kills the process at once
	}()
	slog.SetDefault(slog.New(slog.NewTextHandler(os.Stderr, nil)))
	if err := run(ctx, os.Getenv, slog.Default()); err != nil {
		slog.Error("webapp", "err", err)
		os.Exit(1)
	}
}

// run serves until ctx is cancelled, then shuts the server down and closes
// the revocation store, if any. getenv reads the configuration.
func run(ctx context.Context, getenv func(string) string, logger *slog.Logger) error {
	addr := getenv("ADDR")
	if addr == "" {
		addr = defaultAddr
	}
	keys := getenv("AUTHIX_KEYS")
	if strings.Trim(keys, ", \t\r\n") == "" {
		return errNoKeys
	}
	store, closeStore, err := openStore(ctx, getenv, logger)
	if err != nil {
		return err
	}
	defer closeStore()
	var extra []authix.Option
	if e2eClock != nil {
		extra = append(extra, authix.WithClock(e2eClock.Now))
		logger.Warn("built for the browser tests (-tags authix_e2e): POST /_e2e/clock moves the clock; never serve users with it")
	}
	a, err := newApp(keys, store, logger, extra...)
	if err != nil {
		return err
	}
	if !a.everywhere {
		logger.Warn("log out everywhere and the change-password page are unavailable: the revocation store cannot revoke subjects")
	}
	if !a.devices {
		logger.Warn("the devices page is unavailable: the revocation store does not keep devices")
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	logger.Info("listening", "addr", ln.Addr().String())

	handler := a.routes()
	if e2eClock != nil {
		mux := http.NewServeMux()
		mux.Handle("/", handler)
		mux.Handle("POST /_e2e/clock", e2eClock)
		handler = mux
	}
	srv := &http.Server{
		Handler:           handler,
		ReadHeaderTimeout: 10 * time.Second,
		ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelError),
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	select {
	case err := <-served: // Serve failed on its own
		return err
	case <-ctx.Done():
	}
	logger.Info("shutting down: waiting for requests in flight")
	sctx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	<-served // http.ErrServerClosed once Shutdown began
	return nil
}

// openStore returns the revocation store the environment names
// (DATABASE_URL, REDIS_URL or neither: nil, authix's memory store) and a
// function that closes it and its client.
func openStore(ctx context.Context, getenv func(string) string, logger *slog.Logger) (authix.RevocationStore, func(), error) {
	dbURL, redisURL, poll := getenv("DATABASE_URL"), getenv("REDIS_URL"), getenv("DATABASE_POLL_INTERVAL")
	switch {
	case dbURL != "" && redisURL != "":
		return nil, nil, errors.New("both DATABASE_URL and REDIS_URL are set: set one")
	case poll != "" && dbURL == "":
		return nil, nil, errors.New("DATABASE_POLL_INTERVAL is set but DATABASE_URL is not")
	case dbURL != "":
		u, err := url.Parse(dbURL)
		if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
			return nil, nil, errors.New("DATABASE_URL is not a postgres:// URL") // the error would quote the password
		}
		var opts []pgstore.Option
		if poll != "" {
			d, err := time.ParseDuration(poll)
			if err != nil {
				return nil, nil, fmt.Errorf("DATABASE_POLL_INTERVAL: %w", err)
			}
			opts = append(opts, pgstore.WithPolling(d))
		}
		pool, err := pgxpool.New(ctx, dbURL)
		if err != nil {
			return nil, nil, fmt.Errorf("DATABASE_URL %s: %w", u.Redacted(), err)
		}
		if err := pgstore.Migrate(ctx, pool, opts...); err != nil {
			pool.Close()
			return nil, nil, fmt.Errorf("postgres at %s: %w", u.Redacted(), err)
		}
		ps, err := pgstore.New(pool, opts...)
		if err != nil {
			pool.Close()
			return nil, nil, fmt.Errorf("postgres at %s: %w", u.Redacted(), err)
		}
		logger.Info("revocations in postgres", "url", u.Redacted(), "polling", poll)
		return ps, func() {
			_ = ps.Close() // before the pool it uses
			pool.Close()
		}, nil
	case redisURL != "":
		u, err := url.Parse(redisURL)
		if err != nil {
			return nil, nil, errors.New("REDIS_URL is not a URL") // the error would quote the password
		}
		ropts, err := redis.ParseURL(redisURL)
		if err != nil {
			return nil, nil, fmt.Errorf("REDIS_URL %s: %w", u.Redacted(), err)
		}
		client := redis.NewClient(ropts)
		rs, err := redisstore.New(client)
		if err != nil {
			_ = client.Close()
			return nil, nil, fmt.Errorf("redis at %s: %w", u.Redacted(), err)
		}
		logger.Info("revocations in redis", "url", u.Redacted())
		return rs, func() {
			_ = rs.Close() // before the client it uses
			_ = client.Close()
		}, nil
	}
	logger.Info("revocations in memory: a restart forgets logouts (set DATABASE_URL or REDIS_URL to keep them)")
	return nil, func() {}, nil
}

// e2eClock is nil, except in the binary e2e's browser tests build with
// -tags authix_e2e (e2e_clock.go): the vault's clock, and the handler
// through which a test moves it forward.
var e2eClock interface {
	Now() time.Time
	http.Handler
}

// app holds what the handlers share.
type app struct {
	vault      *authix.Vault[User]
	users      *userTable
	everywhere bool // the store can revoke subjects: LogoutEverywhere works
	devices    bool // the store keeps devices too: the devices page works
	log        *slog.Logger
}

// newApp makes the vault: keys from AUTHIX_KEYS, revocations in store (nil:
// in memory), sliding sessions, "remember me", Bearer tokens for the API.
// extra options go last, such as a test's WithClock.
func newApp(keys string, store authix.RevocationStore, logger *slog.Logger, extra ...authix.Option) (*app, error) {
	a := &app{users: demoUsers(), everywhere: true, devices: true, log: logger}
	opts := []authix.Option{
		authix.WithKeys(keys),
		authix.WithSliding(renewAfter),
		authix.WithRenewal(a.reload), // the token's roles are the table's
		authix.WithSessionLifetime(sessionLifetime),
		authix.WithRememberMe(rememberMe),
		authix.WithBearer(), // the API's clients send "Authorization: Bearer <token>"
		authix.WithLogger(logger),
		authix.WithErrorHandler(reject), // HTML pages, JSON under /api/
	}
	if store != nil {
		opts = append(opts, authix.WithRevocationStore(store))
		_, a.everywhere = store.(authix.SubjectStore)
		_, a.devices = store.(authix.DeviceStore)
	}
	a.devices = a.devices && a.everywhere // devices are listed by subject
	if a.everywhere {
		opts = append(opts, authix.WithSubject(func(u User) string { return u.ID }))
	}
	var err error
	if a.vault, err = authix.New[User](append(opts, extra...)...); err != nil {
		return nil, fmt.Errorf("AUTHIX_KEYS: %w", err)
	}
	return a, nil
}

// reload returns the user u names as the table has them now, or fails,
// ending the session, when they are gone.
func (a *app) reload(_ context.Context, u User) (User, error) {
	fresh, ok := a.users.byID(u.ID)
	if !ok {
		return User{}, errUserGone
	}
	return fresh, nil
}

var errUserGone = errors.New("the user is no longer in the user table")

func (a *app) routes() http.Handler {
	v := a.vault
	isAdmin := v.Require(func(u User) bool { return u.Admin })
	mux := http.NewServeMux()
	mux.Handle("GET /{$}", v.OptionalData(http.HandlerFunc(a.home)))
	// A logged-in user sent here by RequireConfirmed gets the confirm form.
	mux.Handle("GET /login", v.OptionalData(http.HandlerFunc(a.loginForm)))
	// Login CSRF: another site must not log the browser in as its attacker.
	mux.Handle("POST /login", v.CrossOriginProtection().Handler(http.HandlerFunc(a.login)))
	mux.Handle("GET /account", v.RedirectToLogin("/login")(http.HandlerFunc(a.account)))
	mux.Handle("GET /admin", v.RedirectToLogin("/login")(isAdmin(http.HandlerFunc(a.admin))))
	mux.HandleFunc("POST /logout", a.logout)
	if a.everywhere {
		mux.Handle("POST /logout-everywhere", v.RequireData(http.HandlerFunc(a.logoutEverywhere)))
		// Step-up: the password entered within stepUpAge, else the login
		// page asks for it again and comes back.
		confirmed := v.RequireConfirmed(stepUpAge, "/login")
		mux.Handle("GET /password", v.RedirectToLogin("/login")(confirmed(http.HandlerFunc(a.passwordForm))))
		mux.Handle("POST /password", v.RedirectToLogin("/login")(confirmed(http.HandlerFunc(a.changePassword))))
	}
	if a.devices {
		mux.Handle("GET /devices", v.RedirectToLogin("/login")(http.HandlerFunc(a.devicesPage)))
		// Cookie POSTs: RequireData refuses them from other sites.
		mux.Handle("POST /devices/end", v.RequireData(http.HandlerFunc(a.endDevice)))
		mux.Handle("POST /devices/end-others", v.RequireData(http.HandlerFunc(a.endOtherDevices)))
	}
	mux.HandleFunc("POST /api/login", a.apiLogin)
	mux.Handle("GET /api/me", v.RequireData(http.HandlerFunc(a.apiMe)))
	return securityHeaders(mux)
}

func (a *app) home(w http.ResponseWriter, r *http.Request) {
	u, ok := a.vault.Data(r.Context())
	a.render(w, http.StatusOK, "home", map[string]any{"User": u, "LoggedIn": ok})
}

// loginForm shows the login form, or for a logged-in user sent back with a
// "next" page (RequireConfirmed), the form that asks for their password
// again.
func (a *app) loginForm(w http.ResponseWriter, r *http.Request) {
	next := authix.SafeNext(r.FormValue("next"))
	if u, ok := a.vault.Data(r.Context()); ok && r.FormValue("next") != "" {
		a.render(w, http.StatusOK, "confirm", map[string]any{"Next": next, "User": u})
		return
	}
	a.render(w, http.StatusOK, "login", map[string]any{"Next": next})
}

func (a *app) login(w http.ResponseWriter, r *http.Request) {
	next := authix.SafeNext(r.PostFormValue("next"))
	if r.PostFormValue("confirm") != "" {
		a.confirm(w, r, next)
		return
	}
	u, ok := a.users.checkPassword(r.PostFormValue("username"), r.PostFormValue("password"))
	if !ok {
		a.render(w, http.StatusUnauthorized, "login", map[string]any{"Next": next, "Error": "Wrong username or password."})
		return
	}
	// The devices page names this session by the browser and system only.
	label := authix.DeviceLabel(deviceLabel(r.UserAgent()))
	if err := a.vault.SetAccessToken(w, u, authix.RememberMe(r.PostFormValue("remember") == "on"), label); err != nil {
		a.fail(w, r, "login", err)
		return
	}
	http.Redirect(w, r, next, http.StatusSeeOther)
}

func (a *app) account(w http.ResponseWriter, r *http.Request) {
	info, _ := a.vault.Info(r.Context())
	a.render(w, http.StatusOK, "account", map[string]any{
		"User": a.vault.MustData(r.Context()), "Info": info, "Everywhere": a.everywhere, "Devices": a.devices,
	})
}

func (a *app) admin(w http.ResponseWriter, r *http.Request) {
	a.render(w, http.StatusOK, "admin", map[string]any{"User": a.vault.MustData(r.Context())})
}

func (a *app) logout(w http.ResponseWriter, r *http.Request) {
	if err := a.vault.Logout(w, r); errors.Is(err, authix.ErrCrossOrigin) {
		reject(w, r, err) // a forged cross-site logout changes nothing
		return
	} else if err != nil {
		a.log.Error("logout", "err", err) // the cookie is cleared all the same
	}
	http.Redirect(w, r, "/", http.StatusSeeOther)
}

// logoutEverywhere ends every session of the user, on every device, then
// this one's cookie.
func (a *app) logoutEverywhere(w http.ResponseWriter, r *http.Request) {
	u := a.vault.MustData(r.Context())
	if err := a.vault.LogoutEverywhere(r.Context(), u.ID); err != nil {
		a.fail(w, r, "logout everywhere", err)
		return
	}
	if err := a.vault.Logout(w, r); err != nil {
		a.log.Error("logout", "err", err)
	}
	http.Redirect(w, r, "/", http.StatusSeeOther)
}

// apiLogin takes {"username","password"} and answers with a Bearer token.
func (a *app) apiLogin(w http.ResponseWriter, r *http.Request) {
	var creds struct{ Username, Password string }
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 4096)).Decode(&creds); err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]string{"detail": "want a JSON object with username and password"})
		return
	}
	u, ok := a.users.checkPassword(creds.Username, creds.Password)
	if !ok {
		writeJSON(w, http.StatusUnauthorized, map[string]string{"detail": "Wrong username or password"})
		return
	}
	token, info, err := a.vault.IssueAccessToken(u, authix.DeviceLabel("API: "+deviceLabel(r.UserAgent())))
	if err != nil {
		a.log.Error("api login", "err", err)
		writeJSON(w, http.StatusInternalServerError, map[string]string{"detail": "cannot log in"})
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusOK, map[string]any{"access_token": token, "token_type": "Bearer", "expires_at": info.ExpiresAt})
}

func (a *app) apiMe(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, a.vault.MustData(r.Context()))
}
