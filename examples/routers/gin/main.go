// Command gin is examples/basic's login, home and logout flow on
// github.com/gin-gonic/gin. Gin middleware is a gin.HandlerFunc rather than
// a func(http.Handler) http.Handler, so the example carries a five-line
// adapter, requireData, built on vault.Authenticate, vault.Reject and
// vault.WithData.
//
//	go run ./gin
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
	"github.com/gin-gonic/gin"
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

// requireData is vault.RequireData for gin: with a valid token it puts the
// payload into the request context, where vault.Data finds it, and calls the
// next handler; otherwise it answers as RequireData does (401, or 403 for a
// cross-origin request) and stops the chain.
func requireData(vault *authix.Vault[User]) gin.HandlerFunc {
	return func(c *gin.Context) {
		user, err := vault.Authenticate(c.Request)
		if err != nil {
			vault.Reject(c.Writer, c.Request, err)
			c.Abort()
			return
		}
		c.Request = c.Request.WithContext(vault.WithData(c.Request.Context(), user))
		c.Next()
	}
}

// routes builds the service: /login is open, the group with /home and
// /logout needs a token.
func routes(vault *authix.Vault[User]) http.Handler {
	r := gin.New()
	r.Use(gin.Recovery())
	r.GET("/login", func(c *gin.Context) {
		name := c.Query("name")
		if name == "" {
			c.JSON(http.StatusBadRequest, gin.H{"detail": "name is required"})
			return
		}
		if err := vault.SetAccessToken(c.Writer, User{Name: name}); err != nil {
			log.Printf("login: %v", err)
			c.JSON(http.StatusInternalServerError, gin.H{"detail": "cannot log in"})
			return
		}
		c.Redirect(http.StatusFound, "/home")
	})

	private := r.Group("/", requireData(vault))
	private.GET("/home", func(c *gin.Context) {
		user, _ := vault.Data(c.Request.Context())
		c.JSON(http.StatusOK, gin.H{"hello": user.Name})
	})
	private.GET("/logout", func(c *gin.Context) {
		token, _ := vault.ExtractAccessToken(c.Request)
		if err := vault.DisableAccessToken(c.Request.Context(), token); err != nil {
			log.Printf("logout: %v", err)
			c.JSON(http.StatusInternalServerError, gin.H{"detail": "cannot log out"})
			return
		}
		vault.RemoveAccessToken(c.Writer)
		c.JSON(http.StatusOK, gin.H{"ok": true})
	})
	return r
}
