package bench

import (
	"encoding/json"
	"strconv"
	"testing"
	"time"

	"github.com/authix-go/authix"
	"github.com/fernet/fernet-go"
	"github.com/go-chi/jwtauth/v5"
	"github.com/golang-jwt/jwt/v5"
	"github.com/gorilla/securecookie"
)

// User is the payload every library carries.
type User struct {
	ID      int    `json:"id"`
	IsAdmin bool   `json:"is_admin"`
	Name    string `json:"name"`
}

// plaintext is User{1, true, "John"} as every library's JSON encodes it.
const plaintext = `{"id":1,"is_admin":true,"name":"John"}`

var user = User{ID: 1, IsAdmin: true, Name: "John"}

// ttl is the validity every token gets, as authix's default.
const ttl = time.Hour

// cookieName is the cookie authix, the plain chain and securecookie use.
const cookieName = "access-token"

// userClaims carries the payload as golang-jwt claims, with an expiry so
// that parsing does the same time check the other libraries do.
type userClaims struct {
	User
	jwt.RegisteredClaims
}

// peers holds one configured instance of every library, all keyed from the
// same random secret where the formats allow.
type peers struct {
	vault     *authix.Vault[User]
	sliding   *authix.Vault[User] // the same keys, with WithSliding
	subject   *authix.Vault[User] // the same keys, with WithSubject
	sessions  *authix.Vault[User] // the same keys, WithSliding and WithSubject: every session feature
	fernet    *authix.Fernet
	fernetKey *fernet.Key
	fernetKs  []*fernet.Key
	sc        *securecookie.SecureCookie
	jwtKey    []byte
	jwtAuth   *jwtauth.JWTAuth
}

func newPeers(tb testing.TB) *peers {
	tb.Helper()
	var k fernet.Key
	if err := k.Generate(); err != nil {
		tb.Fatal(err)
	}
	enc := k.Encode()
	vault, err := authix.New[User](authix.WithKeys(enc))
	if err != nil {
		tb.Fatal(err)
	}
	sliding, err := authix.New[User](authix.WithKeys(enc), authix.WithSliding(0))
	if err != nil {
		tb.Fatal(err)
	}
	userID := func(u User) string { return strconv.Itoa(u.ID) }
	subject, err := authix.New[User](authix.WithKeys(enc), authix.WithSubject(userID))
	if err != nil {
		tb.Fatal(err)
	}
	sessions, err := authix.New[User](authix.WithKeys(enc), authix.WithSliding(0), authix.WithSubject(userID))
	if err != nil {
		tb.Fatal(err)
	}
	f, err := authix.NewFernet(ttl, enc)
	if err != nil {
		tb.Fatal(err)
	}
	// Same primitives as Fernet: HMAC-SHA256 (its default) and AES-128, and
	// JSON rather than its default gob, so that all carry the same bytes.
	sc := securecookie.New(k[:], k[16:])
	sc.SetSerializer(securecookie.JSONEncoder{})
	sc.MaxAge(int(ttl / time.Second))
	return &peers{
		vault:     vault,
		sliding:   sliding,
		subject:   subject,
		sessions:  sessions,
		fernet:    f,
		fernetKey: &k,
		fernetKs:  []*fernet.Key{&k},
		sc:        sc,
		jwtKey:    k[:],
		jwtAuth:   jwtauth.New("HS256", k[:], nil),
	}
}

// tokens are one token per library, all for user, sealed now.
type tokens struct {
	authix       string
	sliding      string // a fresh token of a sliding session
	subject      string // a fresh token under WithSubject
	sessions     string // a fresh token of a sliding session under WithSubject
	fernetGo     []byte
	securecookie string
	golangJWT    string
	jwtauth      string
}

func (p *peers) tokens(tb testing.TB) tokens {
	tb.Helper()
	var t tokens
	var err error
	if t.authix, err = p.vault.CreateAccessToken(user); err != nil {
		tb.Fatal(err)
	}
	if t.sliding, err = p.sliding.CreateAccessToken(user); err != nil {
		tb.Fatal(err)
	}
	if t.subject, err = p.subject.CreateAccessToken(user); err != nil {
		tb.Fatal(err)
	}
	if t.sessions, err = p.sessions.CreateAccessToken(user); err != nil {
		tb.Fatal(err)
	}
	if t.fernetGo, err = fernet.EncryptAndSign([]byte(plaintext), p.fernetKey); err != nil {
		tb.Fatal(err)
	}
	if t.securecookie, err = p.sc.Encode(cookieName, user); err != nil {
		tb.Fatal(err)
	}
	if t.golangJWT, err = p.signJWT(); err != nil {
		tb.Fatal(err)
	}
	claims := map[string]any{"id": user.ID, "is_admin": user.IsAdmin, "name": user.Name}
	jwtauth.SetExpiryIn(claims, ttl)
	if _, t.jwtauth, err = p.jwtAuth.Encode(claims); err != nil {
		tb.Fatal(err)
	}
	return t
}

func (p *peers) signJWT() (string, error) {
	c := userClaims{User: user, RegisteredClaims: jwt.RegisteredClaims{
		ExpiresAt: jwt.NewNumericDate(time.Now().Add(ttl)),
	}}
	return jwt.NewWithClaims(jwt.SigningMethodHS256, c).SignedString(p.jwtKey)
}

var jwtParser = jwt.NewParser(jwt.WithValidMethods([]string{jwt.SigningMethodHS256.Alg()}))

func (p *peers) parseJWT(tok string, c *userClaims) error {
	_, err := jwtParser.ParseWithClaims(tok, c, func(*jwt.Token) (any, error) { return p.jwtKey, nil })
	return err
}

// decodeFernetGo is the fernet-go path: verify, decrypt, then JSON.
func (p *peers) decodeFernetGo(tok []byte) (User, bool) {
	var u User
	msg := fernet.VerifyAndDecrypt(tok, ttl, p.fernetKs)
	if msg == nil || json.Unmarshal(msg, &u) != nil {
		return User{}, false
	}
	return u, true
}
