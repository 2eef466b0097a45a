// Command echo is examples/basic's login, home and logout flow on
// github.com/labstack/echo/v4: echo.WrapMiddleware(vault.RequireData) guards
// the protected routes, and handlers read the payload with
// vault.Data(c.Request().Context()).
//
//	go run ./echo
//	curl -L -c cookies.txt -b cookies.txt 'http://localhost:8000/login?name=John'
//
// It listens on ADDR (default ":8000") and takes its keys from AUTHIX_KEYS
// when set; otherwise tokens do not survive a restart.
package main

import (
	"log"
	"net/http"
	"os"
	"time"

	"github.com/authix-go/authix"
	"github.com/labstack/echo/v4"
)

// User is the payload each token carries.
type User struct {
	Name string `json:"name"`
}

func main() {
	vault, err := newVault()
	if err != nil {
		log.Fatal(err)
	}
	addr := os.Getenv("ADDR")
	if addr == "" {
		addr = ":8000"
	}
	srv := &http.Server{Addr: addr, Handler: routes(vault), ReadHeaderTimeout: 10 * time.Second}
	log.Printf("listening on %s", addr)
	log.Fatal(srv.ListenAndServe())
}

// newVault makes the vault, with the keys in AUTHIX_KEYS when set.
func newVault() (*authix.Vault[User], error) {
	if keys := os.Getenv("AUTHIX_KEYS"); keys != "" {
		return authix.New[User](authix.WithKeys(keys))
	}
	return authix.New[User]()
}

// routes builds the service: /login is open, /home and /logout need a
// token.
func routes(vault *authix.Vault[User]) http.Handler {
	e := echo.New()
	e.HideBanner = true
	e.GET("/login", func(c echo.Context) error {
		name := c.QueryParam("name")
		if name == "" {
			return c.JSON(http.StatusBadRequest, map[string]string{"detail": "name is required"})
		}
		if err := vault.SetAccessToken(c.Response(), User{Name: name}); err != nil {
			log.Printf("login: %v", err)
			return c.JSON(http.StatusInternalServerError, map[string]string{"detail": "cannot log in"})
		}
		return c.Redirect(http.StatusFound, "/home")
	})

	// The middleware is given per route. A group, e.Group("/app", auth),
	// works too; echo then also runs it for the group's unknown paths.
	auth := echo.WrapMiddleware(vault.RequireData)
	e.GET("/home", func(c echo.Context) error {
		user, _ := vault.Data(c.Request().Context())
		return c.JSON(http.StatusOK, map[string]string{"hello": user.Name})
	}, auth)
	e.GET("/logout", func(c echo.Context) error {
		token, _ := vault.ExtractAccessToken(c.Request())
		if err := vault.DisableAccessToken(c.Request().Context(), token); err != nil {
			log.Printf("logout: %v", err)
			return c.JSON(http.StatusInternalServerError, map[string]string{"detail": "cannot log out"})
		}
		vault.RemoveAccessToken(c.Response())
		return c.JSON(http.StatusOK, map[string]bool{"ok": true})
	}, auth)
	return e
}
