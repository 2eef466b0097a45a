// Package authix gives net/http services stateless, encrypted access tokens
// that carry a typed payload: log a user in, put their struct in a cookie,
// and read it back, authenticated, on every request, without a session
// database. It is a Go port of the Python library fastapi-authix, with the
// same token format (Fernet), cookie name and defaults.
//
// A Vault does the work. Zero configuration gives Fernet tokens under a
// random per-process key, valid for one hour, in an HttpOnly, Secure,
// SameSite=Lax cookie named "access-token":
//
//	type User struct {
//		ID   int    `json:"id"`
//		Name string `json:"name"`
//	}
//
//	vault, err := authix.New[User](authix.WithKeys(os.Getenv("AUTHIX_KEYS")))
//	if err != nil {
//		log.Fatal(err)
//	}
//	mux := http.NewServeMux()
//	mux.HandleFunc("GET /login", func(w http.ResponseWriter, r *http.Request) {
//		// ... check the credentials, then:
//		if err := vault.SetAccessToken(w, User{ID: 1, Name: "John"}); err != nil {
//			http.Error(w, "cannot log in", http.StatusInternalServerError)
//			return
//		}
//		http.Redirect(w, r, "/home", http.StatusFound)
//	})
//	mux.Handle("GET /home", vault.RequireData(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
//		user, _ := vault.Data(r.Context())
//		fmt.Fprintf(w, "hello %s\n", user.Name)
//	})))
//
// RequireData answers 401 for a missing, invalid, expired or revoked token
// (the same body for all, so clients learn nothing about which check failed)
// and 403 for a cookie-authenticated unsafe request from another origin.
// DisableAccessToken revokes a token until it would have expired, and
// RemoveAccessToken deletes the cookie: together they log a user out.
//
// Every error wraps one of the exported Err* values, for errors.Is.
// Everything exported is safe for concurrent use.
package authix
