package redisstore_test

import (
	"context"
	"crypto/sha256"
	"fmt"
	"log"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/authix-go/authix/redisstore"
)

// This example needs a Redis server on localhost:6379, so it is compiled but
// not run by go test.
func Example() {
	client := redis.NewUniversalClient(&redis.UniversalOptions{Addrs: []string{"localhost:6379"}})
	defer client.Close()

	store, err := redisstore.New(client,
		redisstore.WithKeyPrefix("myapp:revoked:"),
		redisstore.WithStalenessBound(2*time.Second),
	)
	if err != nil {
		log.Fatal(err)
	}
	defer store.Close()

	ctx := context.Background()
	// authix passes the token's id (the SHA-256 of its tag) and its expiry.
	id := sha256.Sum256([]byte("the token's tag"))
	if err := store.Revoke(ctx, id, time.Now().Add(time.Hour)); err != nil {
		log.Fatal(err) // the logout did not take: report it, retry
	}
	revoked, err := store.IsRevoked(ctx, id)
	if err != nil {
		log.Fatal(err) // fail closed: reject the request
	}
	fmt.Println(revoked)
}
