// Command chi is examples/basic's login, home and logout flow on
// github.com/go-chi/chi/v5: the protected routes sit in a group that uses
// r.Use(vault.RequireData).
//
//	go run ./chi
//	curl -L -c cookies.txt -b cookies.txt 'http://localhost:8000/login?name=John'
//
// It listens on ADDR (default ":8000") and takes its keys from AUTHIX_KEYS
// when set; otherwise tokens do not survive a restart.
package main

import (
	"encoding/json"
	"log"
	"net/http"
	"os"
	"time"

	"github.com/authix-go/authix"
	"github.com/go-chi/chi/v5"
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

// routes builds the service: /login is open, the group with /home and
// /logout needs a token.
func routes(vault *authix.Vault[User]) http.Handler {
	r := chi.NewRouter()
	r.Get("/login", func(w http.ResponseWriter, r *http.Request) {
		name := r.URL.Query().Get("name")
		if name == "" {
			writeJSON(w, http.StatusBadRequest, map[string]string{"detail": "name is required"})
			return
		}
		if err := vault.SetAccessToken(w, User{Name: name}); err != nil {
			log.Printf("login: %v", err)
			writeJSON(w, http.StatusInternalServerError, map[string]string{"detail": "cannot log in"})
			return
		}
		http.Redirect(w, r, "/home", http.StatusFound)
	})
	r.Group(func(r chi.Router) {
		r.Use(vault.RequireData)
		r.Get("/home", func(w http.ResponseWriter, r *http.Request) {
			user, _ := vault.Data(r.Context())
			writeJSON(w, http.StatusOK, map[string]string{"hello": user.Name})
		})
		r.Get("/logout", func(w http.ResponseWriter, r *http.Request) {
			token, _ := vault.ExtractAccessToken(r)
			if err := vault.DisableAccessToken(r.Context(), token); err != nil {
				log.Printf("logout: %v", err)
				writeJSON(w, http.StatusInternalServerError, map[string]string{"detail": "cannot log out"})
				return
			}
			vault.RemoveAccessToken(w)
			writeJSON(w, http.StatusOK, map[string]bool{"ok": true})
		})
	})
	return r
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
