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
// versions before subject cut-offs, which therefore do not enforce them:
// upgrade every Store before calling LogoutEverywhere.
//
// # The local mirror and the log
//
// Each Store holds every live revocation of its prefix in memory
// (package mirror), keyed by a 64-bit hash of the id under a seed chosen at
// New (ids cannot be chosen to collide; a chance collision reports a token
// revoked, never the reverse), with its expiry: about 38 bytes per
// revocation at a million. Subject cut-offs are kept beside it under their
// whole id. New fills it with a full read (SCAN and GET) before it returns.
//
// Revoke appends the revocation to a log, a Redis Stream under the key
// "{<channel>}:log" (by default "{authix:revoked:events}:log"), publishes it
// on the channel (by default the prefix followed by "events") and stores the
// key, in one Lua script, then puts it in its own mirror; RevokeSubject does
// the same for a cut-off. Each entry names the entry before it and the
// log's generation. The script trims entries older than the log's retention
// (WithLogRetention, default 1h); the log therefore holds about one entry
// per logout of the last hour, whatever the number of live revocations.
//
// Each Store follows the log with a blocking XREAD from the last entry it
// applied, on a connection of its own: a logout reaches it as soon as Redis
// serves the read, and a Store that lost its connection, or Redis, for a
// while reads only what it missed. A Store reads Redis in full again only
// when the log cannot answer: when an entry does not follow the last one it
// applied, or the log's last entry is of another generation or before its
// place (the log was trimmed past it, FLUSHALL, Redis restarted without its
// data, a failover to a replica that lagged). These are found, never
// assumed. As a safety net for keys written without a log entry, every Store
// also re-reads Redis in full every resync interval (WithResyncInterval,
// default 1h, each wait longer by a random part of up to half of it). A full
// read only adds: a revocation stays in the mirror until its own expiry even
// if Redis loses it.
//
// While no logout happens, a Store's whole upkeep is one blocking XREAD and
// one XREVRANGE (the log's last entry), sent together, every two thirds of
// the staleness bound, so Redis's load does not grow with the number of
// live revocations.
//
// # Staleness and failure
//
// A Store knows when its mirror was last confirmed current: as of the
// sending of each read of the log that returned everything logged (fewer
// entries than it asked for), on a live connection, when the log's last
// entry showed no gap, and as of the end of its wait for a read that
// returned nothing. A read blocks for two thirds of the staleness bound; one
// not answered for the bound past that is given up and its connection
// dialled again, in case it is half-open. A gap confirms nothing until the
// full read that fills it is done.
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
// script did not run to the end; a logout is never lost silently. After an
// outage they may keep failing for up to a second once Redis is back, while
// the mirror is current again: the log is read on a client of its own, and a
// go-redis pool whose dials kept failing answers with the last dial error
// until its probe, once a second, reaches the server.
//
// # Cluster
//
// On a Cluster the revocation keys spread over the masters, and a full read
// scans every one of them; the log is one key, so it lives in one hash slot
// (that of the channel's name) on one master. Every logout appends to it,
// which bounds the rate of logouts by what one master can append (tens of
// thousands a second), and every Store holds its blocking read on that
// master. A script cannot reach two slots, so on a Cluster (and a Ring)
// Revoke logs the revocation by a script of its own, then runs the one that
// announces and stores the key: a failure between the two leaves a log entry
// without its key, which every Store holds (fail closed), and Revoke fails.
// RevokeSubject logs the cut-off it asked for, then, if the script moved it
// forward, the stored one too. Announcements use classic pub/sub, which
// Cluster delivers to subscribers on any node.
//
// # Upgrading from earlier versions
//
// Stores of earlier versions read announcements on the channel and re-read
// Redis in full every minute; they write keys and announcements but no log
// entries. A fleet can be upgraded one replica at a time:
//
//   - Stores of this version publish every announcement as before, so
//     Stores of earlier versions hear them.
//   - Stores of this version apply every announcement they hear, so what
//     Stores of earlier versions write reaches them as fast as before; one
//     whose announcement was lost (pub/sub delivers at most once) is found
//     by the safety-net re-read, within one and a half resync intervals.
//     Give WithResyncInterval(time.Minute) for the roll if that is too long,
//     and drop it once every replica runs this version.
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
// Redis 6.2 or later (XTRIM MINID). The Redis user needs EVAL/EVALSHA (the
// scripts call GET, PUBLISH, SET, PTTL, PEXPIRE, TIME, XREVRANGE, XADD and
// XTRIM), XREAD and XREVRANGE on the log, SUBSCRIBE and PING on the channel,
// SCAN, GET and PTTL for full reads (XRANGE on Cluster), EXISTS and GET for
// the stale path, CONFIG GET unless WithEvictionAllowed is given, and its
// keys: the prefix and the log's key.
package redisstore
