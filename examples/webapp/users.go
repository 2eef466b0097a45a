package main

import (
	"crypto/sha256"
	"crypto/subtle"
	"sync"
)

// User is the payload each token carries: a snapshot taken at login (and at
// each renewal), so keep it small and put nothing secret in it.
type User struct {
	ID    string `json:"id"`
	Name  string `json:"name"`
	Admin bool   `json:"admin"`
}

// account is a row of the demo user table.
type account struct {
	user User
	hash [32]byte // SHA-256 of the password
}

// userTable is a DEMO user table: two users with their passwords in the
// source, hashed with plain SHA-256. A real application keeps users in a
// database and hashes passwords with a slow, salted hash made for them,
// such as bcrypt or argon2id from golang.org/x/crypto. It is safe for
// concurrent use.
type userTable struct {
	mu   sync.RWMutex
	rows map[string]account // by name
}

func demoUsers() *userTable {
	return &userTable{rows: map[string]account{
		"alice": {User{ID: "u1", Name: "alice", Admin: true}, sha256.Sum256([]byte("wonderland"))},
		"bob":   {User{ID: "u2", Name: "bob"}, sha256.Sum256([]byte("builder"))},
	}}
}

// checkPassword returns the user called name when password is theirs. It
// compares hashes in constant time, and spends the same work on an unknown
// name, so that timing tells little about which names exist.
func (t *userTable) checkPassword(name, password string) (User, bool) {
	t.mu.RLock()
	acc, known := t.rows[name]
	t.mu.RUnlock()
	got := sha256.Sum256([]byte(password))
	match := subtle.ConstantTimeCompare(got[:], acc.hash[:]) == 1
	return acc.user, known && match
}

// setPassword replaces the password of the user whose ID is id, and
// reports false when there is no such user.
func (t *userTable) setPassword(id, password string) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	for name, acc := range t.rows {
		if acc.user.ID == id {
			acc.hash = sha256.Sum256([]byte(password))
			t.rows[name] = acc
			return true
		}
	}
	return false
}

// byID returns the user whose ID is id; a database would look it up by key.
func (t *userTable) byID(id string) (User, bool) {
	t.mu.RLock()
	defer t.mu.RUnlock()
	for _, acc := range t.rows {
		if acc.user.ID == id {
			return acc.user, true
		}
	}
	return User{}, false
}
