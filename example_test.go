package authix_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"strings"
	"time"

	"github.com/authix-go/authix"
)

// With no options, New gives Fernet tokens under a random key, valid for
// an hour, in a hardened "access-token" cookie. In production, take the keys
// from configuration so tokens survive restarts and are shared by replicas:
// authix.WithKeys(os.Getenv("AUTHIX_KEYS")).
func ExampleNew() {
	type User struct {
		ID   int    `json:"id"`
		Name string `json:"name"`
	}

	vault, err := authix.New[User]()
	if err != nil {
		log.Fatal(err)
	}
	rec := httptest.NewRecorder()
	if err := vault.SetAccessToken(rec, User{ID: 1, Name: "John"}); err != nil {
		log.Fatal(err)
	}
	c := rec.Result().Cookies()[0]
	fmt.Println("cookie:", c.Name)
	fmt.Println("HttpOnly:", c.HttpOnly, "Secure:", c.Secure, "SameSite=Lax:", c.SameSite == http.SameSiteLaxMode)
	fmt.Println("browser-session cookie:", c.MaxAge == 0)

	// "Remember me": a persistent cookie for the remember-me lifetime.
	rec = httptest.NewRecorder()
	if err := vault.SetAccessToken(rec, User{ID: 1, Name: "John"}, authix.RememberMe(true)); err != nil {
		log.Fatal(err)
	}
	fmt.Println("remembered for:", time.Duration(rec.Result().Cookies()[0].MaxAge)*time.Second)

	configured, err := authix.New[User](
		authix.WithKeys(authix.GenerateKey()), // os.Getenv("AUTHIX_KEYS")
		authix.WithTTL(15*time.Minute),
	)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(configured)

	_, err = authix.New[User](authix.WithKeys(""))
	fmt.Println("empty keys refused:", errors.Is(err, authix.ErrInvalidOption))
	// Output:
	// cookie: access-token
	// HttpOnly: true Secure: true SameSite=Lax: true
	// browser-session cookie: true
	// remembered for: 720h0m0s
	// authix.Vault[authix_test.User]{ttl: 15m0s, remember-me: 720h0m0s, sources: cookie "access-token"}
	// empty keys refused: true
}

// CreateAccessToken seals a payload into a token, which DecodeAccessToken
// opens into the same type. A token changed in any way does not open.
func ExampleVault_CreateAccessToken() {
	type User struct {
		ID      int    `json:"id"`
		Name    string `json:"name"`
		IsAdmin bool   `json:"is_admin"`
	}

	vault, err := authix.New[User](authix.WithKeys(authix.GenerateKey()))
	if err != nil {
		log.Fatal(err)
	}
	token, err := vault.CreateAccessToken(User{ID: 1, Name: "John", IsAdmin: true})
	if err != nil {
		log.Fatal(err)
	}

	user, err := vault.DecodeAccessToken(token)
	fmt.Printf("%+v %v\n", user, err)

	forged := token[:len(token)/2] + exampleFlip(token[len(token)/2]) + token[len(token)/2+1:]
	_, err = vault.DecodeAccessToken(forged)
	fmt.Println("forged token:", errors.Is(err, authix.ErrInvalidToken))
	// Output:
	// {ID:1 Name:John IsAdmin:true} <nil>
	// forged token: true
}

func exampleFlip(c byte) string {
	if c == 'A' {
		return "B"
	}
	return "A"
}

// RequireData lets a request through only with a valid token, and puts its
// payload in the request context; otherwise the handler does not run and
// the client gets 401.
func ExampleVault_RequireData() {
	type User struct {
		Name string `json:"name"`
	}

	vault, err := authix.New[User]()
	if err != nil {
		log.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /login", func(w http.ResponseWriter, r *http.Request) {
		if err := vault.SetAccessToken(w, User{Name: r.URL.Query().Get("name")}); err != nil {
			http.Error(w, "cannot log in", http.StatusInternalServerError)
			return
		}
		http.Redirect(w, r, "/home", http.StatusFound)
	})
	mux.Handle("GET /home", vault.RequireData(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		user, _ := vault.Data(r.Context())
		fmt.Fprintf(w, "hello %s", user.Name)
	})))

	serve := func(r *http.Request) *http.Response {
		rec := httptest.NewRecorder()
		mux.ServeHTTP(rec, r)
		return rec.Result()
	}

	resp := serve(httptest.NewRequest("GET", "/home", nil))
	fmt.Println("without a token:", resp.StatusCode)

	login := serve(httptest.NewRequest("GET", "/login?name=John", nil))
	fmt.Println("login:", login.StatusCode, login.Header.Get("Location"))

	home := httptest.NewRequest("GET", "/home", nil)
	for _, c := range login.Cookies() {
		home.AddCookie(c)
	}
	resp = serve(home)
	body, _ := io.ReadAll(resp.Body)
	fmt.Println("with the cookie:", resp.StatusCode, string(body))
	// Output:
	// without a token: 401
	// login: 302 /home
	// with the cookie: 200 hello John
}

// Logging out takes both calls: DisableAccessToken revokes the token until
// it would have expired, so a copy of it is refused too, and
// RemoveAccessToken deletes the cookie from the browser.
func ExampleVault_DisableAccessToken() {
	type User struct {
		Name string `json:"name"`
	}

	vault, err := authix.New[User]()
	if err != nil {
		log.Fatal(err)
	}
	token, err := vault.CreateAccessToken(User{Name: "John"})
	if err != nil {
		log.Fatal(err)
	}
	request := func() *http.Request {
		r := httptest.NewRequest("GET", "/home", nil)
		r.AddCookie(&http.Cookie{Name: authix.DefaultCookieName, Value: token})
		return r
	}

	user, err := vault.Authenticate(request())
	fmt.Println("before logout:", user.Name, err)

	ctx := context.Background()
	if err := vault.DisableAccessToken(ctx, token); err != nil {
		log.Fatal(err)
	}
	rec := httptest.NewRecorder()
	vault.RemoveAccessToken(rec)
	fmt.Println("cookie deleted:", rec.Result().Cookies()[0].MaxAge < 0)

	disabled, err := vault.IsTokenDisabled(ctx, token)
	fmt.Println("disabled:", disabled, err)
	_, err = vault.Authenticate(request())
	fmt.Println("after logout:", errors.Is(err, authix.ErrRevokedToken))
	// Output:
	// before logout: John <nil>
	// cookie deleted: true
	// disabled: true <nil>
	// after logout: true
}

// Keys rotate without logging anyone out: put the new key first. The first
// key seals new tokens; every key opens, so tokens sealed under the old key
// stay valid until they expire. Then drop the old key.
func ExampleNewFernet() {
	oldKey, newKey := authix.GenerateKey(), authix.GenerateKey()
	now := time.Now()

	before, err := authix.NewFernet(time.Hour, oldKey)
	if err != nil {
		log.Fatal(err)
	}
	oldToken, _, err := before.Seal(nil, []byte(`{"name":"John"}`), now)
	if err != nil {
		log.Fatal(err)
	}

	// AUTHIX_KEYS="new,old"
	rotated, err := authix.NewFernet(time.Hour, newKey+","+oldKey)
	if err != nil {
		log.Fatal(err)
	}
	plain, info, err := rotated.Open(nil, string(oldToken), now)
	fmt.Printf("old token: %s, opened by key %d of 2, %v\n", plain, info.KeyIndex+1, err)

	newToken, _, err := rotated.Seal(nil, []byte(`{"name":"Jane"}`), now)
	if err != nil {
		log.Fatal(err)
	}
	plain, info, err = rotated.Open(nil, string(newToken), now)
	fmt.Printf("new token: %s, opened by key %d of 2, %v\n", plain, info.KeyIndex+1, err)

	_, _, err = before.Open(nil, string(newToken), now)
	fmt.Println("old key alone opens the new token:", err == nil)

	_, info, err = rotated.Open(nil, string(oldToken), now.Add(2*time.Hour))
	fmt.Println("expired:", errors.Is(err, authix.ErrExpiredToken), info.ExpiresAt.Equal(info.IssuedAt.Add(time.Hour)))

	// A vault takes the cipher as it is.
	vault, err := authix.New[map[string]string](authix.WithCipher(rotated))
	if err != nil {
		log.Fatal(err)
	}
	m, err := vault.DecodeAccessToken(string(oldToken))
	fmt.Println(m, err)
	// Output:
	// old token: {"name":"John"}, opened by key 2 of 2, <nil>
	// new token: {"name":"Jane"}, opened by key 1 of 2, <nil>
	// old key alone opens the new token: false
	// expired: true true
	// map[name:John] <nil>
}

// WithHeader also reads tokens from a request header, for API clients that
// do not keep cookies. Browsers never attach such a header on their own, so
// header tokens skip the cross-origin check that cookie tokens get.
func ExampleWithHeader() {
	type Client struct {
		App string `json:"app"`
	}

	vault, err := authix.New[Client](authix.WithHeader(authix.DefaultHeader)) // "X-API-Key"
	if err != nil {
		log.Fatal(err)
	}
	token, err := vault.CreateAccessToken(Client{App: "billing"})
	if err != nil {
		log.Fatal(err)
	}
	handler := vault.RequireData(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		client, _ := vault.Data(r.Context())
		fmt.Fprint(w, client.App)
	}))
	serve := func(r *http.Request) string {
		rec := httptest.NewRecorder()
		handler.ServeHTTP(rec, r)
		if rec.Code != http.StatusOK {
			return fmt.Sprint(rec.Code)
		}
		return fmt.Sprint(rec.Code, " ", rec.Body)
	}

	r := httptest.NewRequest("GET", "/report", nil)
	r.Header.Set("X-API-Key", token)
	fmt.Println("header:", serve(r))

	// A POST that another site's page started.
	r = httptest.NewRequest("POST", "/report", nil)
	r.Header.Set("Sec-Fetch-Site", "cross-site")
	r.Header.Set("X-API-Key", token)
	fmt.Println("cross-site POST, header:", serve(r))

	r = httptest.NewRequest("POST", "/report", nil)
	r.Header.Set("Sec-Fetch-Site", "cross-site")
	r.AddCookie(&http.Cookie{Name: authix.DefaultCookieName, Value: token})
	fmt.Println("cross-site POST, cookie:", serve(r))
	// Output:
	// header: 200 billing
	// cross-site POST, header: 200 billing
	// cross-site POST, cookie: 403
}

// New[any] is fastapi-authix's auto mode: the first payload's type is
// recorded, tokens then decode into that type, and a payload of another
// type is refused. A token decoded before anything was sealed comes back as
// a map[string]any.
func ExampleNew_auto() {
	type User struct {
		Name string `json:"name"`
	}
	type Admin struct {
		Name  string `json:"name"`
		Level int    `json:"level"`
	}

	key := authix.GenerateKey()
	vault, err := authix.New[any](authix.WithKeys(key))
	if err != nil {
		log.Fatal(err)
	}

	// A token from another service with the same key, before this vault
	// has sealed anything.
	other, err := authix.New[map[string]any](authix.WithKeys(key))
	if err != nil {
		log.Fatal(err)
	}
	foreign, err := other.CreateAccessToken(map[string]any{"name": "John", "level": 2})
	if err != nil {
		log.Fatal(err)
	}
	v, err := vault.DecodeAccessToken(foreign)
	fmt.Printf("%T %v %v\n", v, v, err)

	token, err := vault.CreateAccessToken(User{Name: "Jane"})
	if err != nil {
		log.Fatal(err)
	}
	v, err = vault.DecodeAccessToken(token)
	fmt.Printf("%T %+v %v\n", v, v, err)

	_, err = vault.CreateAccessToken(Admin{Name: "Root", Level: 9})
	fmt.Println("another type:", errors.Is(err, authix.ErrPayloadType))
	// Output:
	// map[string]interface {} map[level:2 name:John] <nil>
	// authix_test.User {Name:Jane} <nil>
	// another type: true
}

// Versioned is a payload that decides its own JSON: a schema version
// around the user, so that bumping the version retires every token sealed
// before a change of the payload type.
type Versioned struct {
	Name string
}

// schemaVersion is the payload version this build seals and accepts.
var schemaVersion = 1

type versionedEnvelope struct {
	V    int             `json:"v"`
	Data json.RawMessage `json:"data"`
}

// MarshalJSON wraps the payload in its version.
func (u Versioned) MarshalJSON() ([]byte, error) {
	data, err := json.Marshal(struct {
		Name string `json:"name"`
	}{u.Name})
	if err != nil {
		return nil, err
	}
	return json.Marshal(versionedEnvelope{V: schemaVersion, Data: data})
}

// UnmarshalJSON refuses a payload of another version.
func (u *Versioned) UnmarshalJSON(b []byte) error {
	var e versionedEnvelope
	if err := json.Unmarshal(b, &e); err != nil {
		return err
	}
	if e.V != schemaVersion {
		return fmt.Errorf("payload version %d, want %d", e.V, schemaVersion)
	}
	var data struct {
		Name string `json:"name"`
	}
	err := json.Unmarshal(e.Data, &data)
	u.Name = data.Name
	return err
}

// A payload type with JSON methods of its own decides how it looks in the
// token, here a versioned envelope (see Versioned in this file); it must
// still be a JSON object.
func Example_payloadMethods() {
	key := authix.GenerateKey()
	at := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	v, err := authix.New[Versioned](authix.WithKeys(key), authix.WithClock(func() time.Time { return at }))
	if err != nil {
		log.Fatal(err)
	}
	token, err := v.CreateAccessToken(Versioned{Name: "John"})
	if err != nil {
		log.Fatal(err)
	}
	user, err := v.DecodeAccessToken(token)
	fmt.Println(user.Name, err)

	// What the token carries, as a cipher with the same key sees it: the
	// payload's object, led by the expiry the vault sealed into it.
	f, err := authix.NewFernet(time.Hour, key)
	if err != nil {
		log.Fatal(err)
	}
	plain, _, err := f.Open(nil, token, at)
	fmt.Println(string(plain), err)

	schemaVersion = 2
	defer func() { schemaVersion = 1 }()
	_, err = v.DecodeAccessToken(token)
	fmt.Println("version 1 token after the bump:", errors.Is(err, authix.ErrInvalidToken))
	// Output:
	// John <nil>
	// {"_authix":{"exp":1767229200},"v":1,"data":{"name":"John"}} <nil>
	// version 1 token after the bump: true
}

// GenerateKey makes a key in the format AUTHIX_KEYS, WithKeys, NewFernet and
// Python's cryptography Fernet(key) take; `authix keygen` prints one.
func ExampleGenerateKey() {
	key := authix.GenerateKey()
	fmt.Println(len(key), strings.HasSuffix(key, "="))

	_, err := authix.New[map[string]string](authix.WithKeys(key))
	fmt.Println(err)
	// Output:
	// 44 true
	// <nil>
}
