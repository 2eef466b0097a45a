// Package pgstore keeps authix token revocations in PostgreSQL and answers
// revocation checks from a local in-memory mirror, so a check costs a map
// lookup instead of a query. Subject cut-offs (authix's LogoutEverywhere)
// are mirrored the same way; device records (authix's devices list) are
// read from the database. Each replica's mirror follows a log table, woken
// by LISTEN/NOTIFY or, behind PgBouncer in transaction pooling mode, by
// polling.
//
// It satisfies authix's RevocationStore interface and the optional
// SubjectStore and DeviceStore interfaces with standard types only
// (authix.TokenID and authix.SubjectID are aliases of [32]byte), and
// imports nothing from authix. It takes a pgx v5 pool; an application on
// database/sql (with pgx's stdlib driver or another) makes one from the
// same connection string:
//
//	pool, err := pgxpool.New(ctx, os.Getenv("DATABASE_URL"))
//	if err != nil {
//		log.Fatal(err)
//	}
//	defer pool.Close()
//	if err := pgstore.Migrate(ctx, pool); err != nil { // makes the tables, once
//		log.Fatal(err)
//	}
//	store, err := pgstore.New(pool) // LISTEN; WithPolling(time.Second) behind PgBouncer
//	if err != nil {
//		log.Fatal(err) // PostgreSQL unreachable at start, no tables, or a bad option
//	}
//	defer store.Close() // before pool.Close
//
//	vault, err := authix.New[User](
//		authix.WithKeys(os.Getenv("AUTHIX_KEYS")),
//		authix.WithRevocationStore(store),
//		authix.WithSubject(func(u User) string { return u.ID }), // optional: LogoutEverywhere
//	)
//
// # Storage
//
// Migrate makes five tables, named after a prefix (WithTablePrefix,
// default "authix_") in a schema (WithSchema, default the search_path's
// first): authix_revoked (id bytea, until_ms bigint), authix_subjects (id,
// cutoff_us, until_ms), authix_log, authix_log_head and authix_devices.
// Ids are the 32-byte SHA-256 values authix derives, never tokens or user
// names. Expiries are Unix milliseconds, rounded up, and cut-offs Unix
// microseconds, the precision at which tokens carry their issue time, all
// by the writing Store's clock: the database's clock plays no part in
// them. A revocation holds while now is not after its expiry, that instant
// included; revoking again keeps the later expiry. RevokeSubject moves a
// subject's cut-off strictly forward: one at or before the held one
// records the held one plus a microsecond, and the later until stays.
//
// # The log
//
// Every Revoke and RevokeSubject is one transaction, sent as one batch:
// it locks the log's head row (one row, which orders every write), draws
// the entry's position from the log's bigserial sequence, upserts the row,
// inserts the log entry, with the position and a random tag of the entry
// before it, and calls pg_notify, which PostgreSQL delivers on commit. So
// stored, logged and announced are one step: a failure leaves none of
// them, and the write returns an error wrapping ErrRevokeFailed (a logout
// is never lost silently). Positions are in commit order, since each
// writer draws its own under the head's lock.
//
// The notification's payload is the entry itself, "<pos> <tag> <prev pos>
// <prev tag> <kind> <cutoff µs> <until ms> <hex id>", about 150 bytes, on
// the channel "[schema.]<prefix>log".
//
// Each Store applies the log from the last entry it applied. New fills the
// mirror with a full read: one statement that returns the head and every
// live row from one snapshot. After that, reading the log costs what was
// written since, and a Store that lost PostgreSQL for a while reads only
// what it missed. While no logout happens, a Store's whole upkeep is one
// small query every third of the staleness bound (LISTEN) or every polling
// interval: 60 queries a minute with the defaults, whatever the number of
// live revocations.
//
// # LISTEN or polling
//
// By default a Store opens one connection of its own, from the pool's
// configuration (application_name "authix pgstore listener" unless the
// configuration sets one), runs LISTEN on it, applies each notification's
// entry as it arrives, and reads the log on that connection after each
// LISTEN and every third of the staleness bound. A logout reaches the
// other replicas within a few milliseconds.
//
// LISTEN needs a session: a direct connection to PostgreSQL, or a pooler
// in session mode. Through PgBouncer in transaction pooling mode (or any
// pooler that hands each transaction to another server connection) the
// LISTEN lands on a server connection the Store does not keep, and no
// notification reaches it. There, give WithPolling(interval): the Store
// then reads the log through the pool every interval, with no connection
// of its own, and a logout reaches the other replicas within about the
// interval. PgBouncer 1.18 in transaction mode also keeps no prepared
// statements, so its pool needs a QueryExecMode that prepares none by name
// (default_query_exec_mode=exec in the connection string). Either way,
// correctness rests on the reads, never on a notification arriving.
//
// # Gaps
//
// A Store finds, never assumes, that entries it never applied are gone:
// the first entry after its place names another entry before it (the log
// was cleaned past its place while it was away), or the head is not where
// the entries left it (a backup was restored, the tables were made anew);
// the random tags tell an entry at a reused position from the one the
// Store applied. It then reads the tables in full, as New does, and
// follows the log from there. A full read only adds: a revocation stays in
// the mirror until its own expiry, even when the database loses it. A
// Store started after a restore knows only what the backup held.
//
// # Staleness and failure
//
// A Store knows when its mirror was last confirmed current: as of the
// sending of each read of the log that reached its end, unless it found a
// gap it has not yet filled. While that is younger than the staleness
// bound (WithStalenessBound, default 3s), IsRevoked answers from the
// mirror alone. Past the bound, for an id not in the mirror, it asks
// PostgreSQL (one indexed SELECT); if that fails too it returns an error
// wrapping ErrUnavailable, so authix fails closed and rejects the request.
// An id the mirror holds is reported revoked even while PostgreSQL is
// down. SubjectCutoff asks for every subject past the bound, since a newer
// cut-off may be in force, and returns the later of the two.
//
// After PostgreSQL restarts, pgxpool may hand out a connection that died
// with it: by default it pings only connections idle for over a second
// before handing them out (pgxpool.Config.ShouldPing changes that). A write
// on a dead connection returns an error wrapping ErrRevokeFailed, pgx drops
// the connection, and the caller's retry gets a live one.
//
// # Cleanup
//
// Each Store, every cleanup interval (WithCleanupInterval, default 10m,
// jittered), drops from its memory what ran out, deletes rows whose until
// passed more than ClockMargin (60s)
// ago by its clock, and log entries older than the log's retention
// (WithLogRetention, default 1h) by the database's clock, in statements of
// at most 1000 rows each, never one unbounded DELETE. A Store away for
// longer than the retention reads the tables in full when it is back.
//
// # Migration
//
// Migrate runs the embedded schema.sql in one transaction, under an
// advisory lock, with CREATE … IF NOT EXISTS throughout: it is idempotent
// and safe from every replica at start. When every table exists it only
// reads the catalog, so a role without CREATE may run it once the tables
// are made. New fails with ErrInvalidOption when they are missing.
//
// # Privileges
//
// Migrate needs CREATE on the schema (and on the database when WithSchema
// names a schema to create), or ownership. A Store needs, on the default
// names in schema auth:
//
//	GRANT USAGE ON SCHEMA auth TO app;
//	GRANT SELECT, INSERT, UPDATE, DELETE ON auth.authix_revoked, auth.authix_subjects, auth.authix_devices TO app;
//	GRANT SELECT, INSERT, DELETE ON auth.authix_log TO app;
//	GRANT SELECT, UPDATE ON auth.authix_log_head TO app;
//	GRANT USAGE ON SEQUENCE auth.authix_log_pos_seq TO app;
//
// LISTEN, pg_notify and pg_advisory_xact_lock (which serialises the saves
// of one subject's devices) need no grant.
//
// # Requirements
//
// PostgreSQL 12 or later (tested on 15), and pgx v5. The mirror is the
// package github.com/authix-go/authix/redisstore/mirror, which imports only
// the standard library; it lives in the redisstore module, so this module
// requires that one, and go-redis appears in go.sum though no binary links
// it.
package pgstore
