// Package authix gives net/http services stateless, encrypted access tokens
// that carry a typed payload: log a user in, put their struct in a cookie,
// and read it back, authenticated, on every request, without a session
// database. It is a Go port of the Python library fastapi-authix, with the
// same token format (Fernet), cookie name and defaults.
//
//	vault, err := authix.New[User](authix.WithKeys(os.Getenv("AUTHIX_KEYS")))
//	if err != nil {
//		log.Fatal(err)
//	}
//	mux.HandleFunc("POST /login", func(w http.ResponseWriter, r *http.Request) {
//		// ... check the credentials, then:
//		if err := vault.SetAccessToken(w, User{ID: 1, Name: "John"}); err != nil {
//			http.Error(w, "cannot log in", http.StatusInternalServerError)
//			return
//		}
//		http.Redirect(w, r, "/home", http.StatusSeeOther)
//	})
//	mux.Handle("GET /home", vault.RequireData(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
//		user, _ := vault.Data(r.Context())
//		fmt.Fprintf(w, "hello %s\n", user.Name)
//	})))
//
// RequireData answers 401 for a missing, invalid, expired or revoked token,
// with one body for all, and 403 for a cookie request from another origin.
// Every error wraps one of the exported Err* values, for errors.Is.
// Everything exported is safe for concurrent use.
//
// # Payloads
//
// A payload is a JSON object: T is a struct, a map such as
// map[string]string (fastapi-authix's dict mode), a pointer to either, or
// an interface such as any (its auto mode: the first payload's type is
// recorded, later payloads must have it, and tokens read before any was
// sealed come back as map[string]any). JSON is read by json/v2's rules
// (github.com/go-json-experiment/json): keys match exactly, a repeated key
// is refused, unknown keys are ignored, numbers in an interface stay exact
// as json.Number, and invalid UTF-8 is refused when sealing and when
// reading. Sealing writes the bytes encoding/json's Marshal writes.
//
// # Lifetimes
//
// Every token seals its expiry as the payload's leading "_authix" member,
// and a reader holds it to that expiry, never past what the reader grants a
// token of its kind from its issue time (its TTL, or for a remembered
// token its remember-me lifetime). Tokens without the member, such as
// fastapi-authix's, live for the reader's TTL. A token dated more than 60
// seconds ahead is refused.
//
// # Sessions
//
// Under WithSliding a login starts a session: an id and an absolute end,
// sealed in every token of it. RequireData renews a cookie token past its
// renewal age; RenewAccessToken does it for header and Bearer clients, and
// exchanges each token once at most. Logout revokes the session until its
// end, so every token of it is refused, whichever replica renewed it.
// Under WithSubject, a login seals the subject's cut-off then in force and
// renewals keep it, so LogoutEverywhere refuses every earlier session
// however replicas lag or their clocks disagree.
//
// # Cross-origin requests
//
// A cookie-authenticated POST, PUT, PATCH or DELETE from another origin
// is refused (ErrCrossOrigin) by http.CrossOriginProtection, which reads
// Sec-Fetch-Site, then Origin against Host; an Origin with userinfo is
// refused too. Logout is checked whatever its method. Header and Bearer
// tokens skip the check, since browsers do not attach them on their own.
package authix
