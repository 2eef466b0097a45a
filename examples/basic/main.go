// Command basic is the login, home and logout flow of fastapi-authix's
// documentation, on net/http alone. Copy this directory to start a service.
//
//	go run ./examples/basic
//	curl -L -c cookies.txt -b cookies.txt http://localhost:8000/login?name=John
//
// It listens on ADDR (default ":8000") and takes its keys from AUTHIX_KEYS
// (comma-separated, URL-safe base64; see GenerateKey) when set; otherwise it
// uses a random key, and tokens do not survive a restart.
package main

import (
	"encoding/json"
	"log"
	"net/http"
	"os"
	"time"

	"github.com/authix-go/authix"
)

// User is the payload each token carries.
type User struct {
	Name string `json:"name"`
}

func main() {
	addr := os.Getenv("ADDR")
	if addr == "" {
		addr = ":8000"
	}
	var opts []authix.Option
	if keys := os.Getenv("AUTHIX_KEYS"); keys != "" {
		opts = append(opts, authix.WithKeys(keys))
		log.Print("keys: from AUTHIX_KEYS")
	} else {
		log.Print("keys: one random key; tokens will not survive a restart (set AUTHIX_KEYS to keep them)")
	}
	vault, err := authix.New[User](opts...)
	if err != nil {
		log.Fatal(err)
	}
	srv := &http.Server{
		Addr:              addr,
		Handler:           routes(vault),
		ReadHeaderTimeout: 10 * time.Second,
	}
	log.Printf("listening on %s", addr)
	log.Fatal(srv.ListenAndServe())
}

func routes(vault *authix.Vault[User]) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /login", func(w http.ResponseWriter, r *http.Request) {
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
	mux.Handle("GET /home", vault.RequireData(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		user, _ := vault.Data(r.Context())
		writeJSON(w, http.StatusOK, map[string]string{"hello": user.Name})
	})))
	// GET, as in fastapi-authix's documentation. A real service should log
	// out with POST: SameSite=Lax cookies ride along on top-level GET
	// navigations from other sites, so any site can log a user out here.
	mux.Handle("GET /logout", vault.RequireData(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		token, _ := vault.ExtractAccessToken(r)
		if err := vault.DisableAccessToken(r.Context(), token); err != nil {
			log.Printf("logout: %v", err)
			writeJSON(w, http.StatusInternalServerError, map[string]string{"detail": "cannot log out"})
			return
		}
		vault.RemoveAccessToken(w)
		writeJSON(w, http.StatusOK, map[string]bool{"ok": true})
	})))
	return mux
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
