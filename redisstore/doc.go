// Package redisstore keeps authix token revocations in Redis and answers
// revocation checks from a local in-memory mirror, so a check costs a map
// lookup instead of a network round trip. Subject cut-offs (authix's
// LogoutEverywhere), asked for on every request, are mirrored the same way.
//
// It satisfies authix's RevocationStore interface, and the optional
// SubjectStore interface that authix.WithSubject and LogoutEverywhere need,
// with standard types only (authix.TokenID and authix.SubjectID are aliases
// of [32]byte), and imports nothing from authix:
//
//	client := redis.NewUniversalClient(&redis.UniversalOptions{
//		Addrs: []string{"localhost:6379"}, // one address, a Sentinel set, or Cluster nodes
//	})
//	defer client.Close()
//
//	store, err := redisstore.New(client, redisstore.WithKeyPrefix("myapp:revoked:"))
//	if err != nil {
//		log.Fatal(err) // Redis unreachable at start, an evicting maxmemory-policy, or a bad option
//	}
//	defer store.Close() // before client.Close
//
//	vault, err := authix.New[User](
//		authix.WithKeys(os.Getenv("AUTHIX_KEYS")),
//		authix.WithRevocationStore(store),
//		authix.WithSubject(func(u User) string { return u.ID }), // optional: LogoutEverywhere
//	)
//
// # Storage
//
// Revoke stores the key prefix+hex(id) (default prefix "authix:revoked:",
// the id in lowercase hex, as earlier versions that took the hex string
// wrote it) with the expiry in Unix milliseconds as its value. Redis keeps
// the key until ClockMargin (60s) after that expiry, sent as a duration from
// the store's clock (SET … PX), so Redis's clock does not matter and stores
// whose clocks differ by less than the margin agree. Redis drops revocations
// once the token would have expired anyway. Revoking an id again keeps the
// later expiry. A revocation holds while now is not after its expiry, that
// instant included.
//
// RevokeSubject (a logout everywhere) stores the key prefix+"subject:"+
// hex(subject) with the value "<cutoff> <until>": the cutoff in Unix
// microseconds, the precision at which tokens carry their issue time, and
// the until in Unix milliseconds. Every token of the subject issued at or
// before the cutoff is revoked while now is not after until, that instant
// included; Redis keeps the key until ClockMargin after until, as for
// tokens. Each RevokeSubject moves the cutoff forward: when the key holds
// one at or after the cutoff asked for, the script that writes and
// announces it stores the held one plus one microsecond instead, so a store
// whose clock runs behind still cuts off every token issued before its
// call; the later until stays. Subject keys and their announcements
// ("subject <cutoff> <until> <hex>") are ignored as malformed by stores of
// earlier versions, which therefore do not enforce them: upgrade every Store
// before calling LogoutEverywhere.
//
// # The local mirror
//
// Each Store holds every live revocation of its prefix in memory, keyed by
// a 64-bit hash of the id under a seed chosen at New (ids cannot be chosen
// to collide; a chance collision reports a token revoked, never the
// reverse), with its expiry: about 38 bytes per revocation at a million.
// New fills it with SCAN before it returns. Subject cut-offs are kept
// beside it under their whole id, also in 64 locked shards, and come and go
// by the same announcements, syncs and rules.
//
// Revoke writes the key and publishes the revocation on a pub/sub channel
// (default: the prefix followed by "events"), to which every Store
// subscribes, in one Lua script, then puts it in its own mirror. When the
// subscription drops, go-redis dials again and resubscribes; the Store
// notices the new subscription confirmation and merges a fresh SCAN into its
// mirror. Every Store also re-reads Redis in full every resync interval
// (WithResyncInterval, default 1m), so an announcement that was lost without
// anything else going wrong is made good within that interval. A sync only
// adds: a revocation stays in the mirror until its own expiry even if Redis
// loses it.
//
// # Staleness and failure
//
// A Store knows when its mirror was last confirmed current: at the start of
// each successful SCAN that follows a subscription confirmation, and each
// time a PING sent on the subscription comes back (every third of the
// staleness bound) while the subscription is confirmed, that is, Redis
// confirmed it on the current connection and has refused nothing since. A
// PING answered on a connection whose SUBSCRIBE was refused (an ACL change,
// say) confirms nothing; the Store asks to subscribe again every third of
// the bound.
//
// While the confirmation is younger than the staleness bound
// (WithStalenessBound, default 3s), IsRevoked answers from the mirror alone.
// Past the bound, for an id not in the mirror, it asks Redis with EXISTS; if
// that fails as well it returns an error wrapping ErrUnavailable, so authix
// fails closed and rejects the request. An id the mirror holds is reported
// revoked even while Redis is down. SubjectCutoff follows the same rules,
// asking Redis with GET, except that past the bound it asks for every
// subject, a cut-off the mirror holds included, since Redis may hold a newer
// one: it returns the later of the two, or the error when GET fails. Revoke
// and RevokeSubject return an error wrapping ErrRevokeFailed whenever the
// script did not run to the end; a logout is never lost silently.
//
// # Redis settings
//
// maxmemory-policy must be noeviction: an evicted revocation is gone for
// every Store started afterwards. New reads the policy with CONFIG GET (on
// Cluster, on every master) and refuses any other, or a Redis that will not
// say, unless WithEvictionAllowed is given. Persistence (AOF, or RDB
// snapshots) decides which revocations survive a Redis restart: running
// Stores keep theirs in the mirror, but a Store started after a restart
// knows only what Redis kept.
//
// # Requirements
//
// Redis 6.2 or later. The Redis user needs EVAL/EVALSHA (the scripts call
// GET, PUBLISH, SET, PTTL and PEXPIRE), SUBSCRIBE and PING, SCAN, GET and
// PTTL for syncs, EXISTS and GET for the stale path, CONFIG GET unless
// WithEvictionAllowed is given, and the channel. With Cluster, SCAN runs on
// every master and announcements use classic pub/sub, which Cluster delivers
// to subscribers on any node.
package redisstore
