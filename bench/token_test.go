package bench

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/fernet/fernet-go"
	jsonv2 "github.com/go-json-experiment/json"
)

// BenchmarkCreate seals user into a token with each library; json is
// json.Marshal alone, the floor every JSON-carrying token pays.
func BenchmarkCreate(b *testing.B) {
	p := newPeers(b)
	b.Run("authix", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := p.vault.CreateAccessToken(user); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("fernet-go", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			msg, err := json.Marshal(user)
			if err != nil {
				b.Fatal(err)
			}
			if _, err := fernet.EncryptAndSign(msg, p.fernetKey); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("golang-jwt", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := p.signJWT(); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("json", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := json.Marshal(user); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("securecookie", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := p.sc.Encode(cookieName, user); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkDecode reads user back from each library's token; json is
// json.Unmarshal of the plaintext alone, the floor.
func BenchmarkDecode(b *testing.B) {
	p := newPeers(b)
	t := p.tokens(b)
	b.Run("authix", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			u, err := p.vault.DecodeAccessToken(t.authix)
			if err != nil || u != user {
				b.Fatal(u, err)
			}
		}
	})
	b.Run("fernet-go", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if u, ok := p.decodeFernetGo(t.fernetGo); !ok || u != user {
				b.Fatal(u, ok)
			}
		}
	})
	b.Run("golang-jwt", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			var c userClaims
			if err := p.parseJWT(t.golangJWT, &c); err != nil || c.User != user {
				b.Fatal(c.User, err)
			}
		}
	})
	b.Run("json", func(b *testing.B) {
		b.ReportAllocs()
		msg := []byte(plaintext)
		u := new(User)
		for b.Loop() {
			*u = User{}
			if err := json.Unmarshal(msg, u); err != nil || *u != user {
				b.Fatal(*u, err)
			}
		}
	})
	// The payload decode alone: json/v2, which a vault runs for a struct
	// of strings, ints and bools with its defaults (the vault's v1 wire
	// options concern other types), on the plaintext json decodes. u is
	// allocated once, as a vault's context value is, so that only the
	// payload's own strings are left to count.
	b.Run("payload", func(b *testing.B) {
		b.ReportAllocs()
		msg := []byte(plaintext)
		u := new(User)
		for b.Loop() {
			*u = User{}
			if err := jsonv2.Unmarshal(msg, u); err != nil || *u != user {
				b.Fatal(*u, err)
			}
		}
	})
	b.Run("securecookie", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			var u User
			if err := p.sc.Decode(cookieName, t.securecookie, &u); err != nil || u != user {
				b.Fatal(u, err)
			}
		}
	})
}

// BenchmarkOpen is the cryptography alone: check the MAC and the TTL, then
// decrypt, with no JSON. authix's Fernet.Open appends to a reused buffer and
// must not allocate.
func BenchmarkOpen(b *testing.B) {
	p := newPeers(b)
	t := p.tokens(b)
	b.Run("authix", func(b *testing.B) {
		b.ReportAllocs()
		now := time.Now()
		dst := make([]byte, 0, 256)
		first, _, err := p.fernet.Open(nil, t.authix, now)
		if err != nil {
			b.Fatal(err)
		}
		for b.Loop() {
			out, _, err := p.fernet.Open(dst[:0], t.authix, now)
			if err != nil || len(out) != len(first) {
				b.Fatal(string(out), err)
			}
		}
	})
	b.Run("fernet-go", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if msg := fernet.VerifyAndDecrypt(t.fernetGo, ttl, p.fernetKs); len(msg) != len(plaintext) {
				b.Fatal(string(msg))
			}
		}
	})
}
