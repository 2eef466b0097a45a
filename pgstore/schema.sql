-- pgstore's tables, made by pgstore.Migrate in one transaction. Every
-- statement is idempotent: running it again changes nothing. {revoked},
-- {subjects}, {log}, {head} and {devices} stand for the tables' names,
-- schema-qualified when WithSchema is given; {p} for the table prefix
-- (indexes live in their table's schema).

-- Concurrent Migrates (replicas starting together) wait for each other
-- instead of racing on the catalog.
SELECT pg_advisory_xact_lock({migrate_lock});

{create_schema}

-- Token revocations: the id (the SHA-256 authix derives from a token) and
-- the expiry in Unix milliseconds by the revoking Store's clock.
CREATE TABLE IF NOT EXISTS {revoked} (
	id       bytea  PRIMARY KEY CHECK (octet_length(id) = 32),
	until_ms bigint NOT NULL
);
CREATE INDEX IF NOT EXISTS {p}revoked_until ON {revoked} (until_ms);
COMMENT ON TABLE {revoked} IS 'authix pgstore: token revocations (id, expiry in Unix ms); write through pgstore only, which logs every change';

-- Subject cut-offs (LogoutEverywhere): every token of the subject issued at
-- or before cutoff_us (Unix microseconds) is refused until until_ms.
CREATE TABLE IF NOT EXISTS {subjects} (
	id        bytea  PRIMARY KEY CHECK (octet_length(id) = 32),
	cutoff_us bigint NOT NULL,
	until_ms  bigint NOT NULL
);
CREATE INDEX IF NOT EXISTS {p}subjects_until ON {subjects} (until_ms);
COMMENT ON TABLE {subjects} IS 'authix pgstore: subject cut-offs (id, cut-off in Unix us, until in Unix ms); write through pgstore only';

-- The log the Stores follow: one row per write, in the write's transaction.
-- pos comes from the bigserial's sequence, drawn while the writer holds the
-- head row's lock, so positions grow in commit order; prev_pos and
-- prev_tag name the entry before (the head when the writer took it), and
-- tag is random, so that a follower finds any entry it missed.
CREATE TABLE IF NOT EXISTS {log} (
	pos       bigserial   PRIMARY KEY,
	tag       bigint      NOT NULL,
	prev_pos  bigint      NOT NULL,
	prev_tag  bigint      NOT NULL,
	kind      text        NOT NULL CHECK (kind IN ('t', 's')),
	id        bytea       NOT NULL,
	cutoff_us bigint      NOT NULL,
	until_ms  bigint      NOT NULL,
	logged_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS {p}log_logged_at ON {log} (logged_at);
COMMENT ON TABLE {log} IS 'authix pgstore: the log of revocations the Stores follow; old entries are deleted by the Stores';

-- The log's last entry, one row. Every write locks it first, which orders
-- writes; its pos and tag are where a full read restarts the follower.
CREATE TABLE IF NOT EXISTS {head} (
	one      boolean PRIMARY KEY DEFAULT true CHECK (one),
	pos      bigint  NOT NULL,
	tag      bigint  NOT NULL,
	prev_pos bigint  NOT NULL,
	prev_tag bigint  NOT NULL
);
INSERT INTO {head} (one, pos, tag, prev_pos, prev_tag) VALUES (true, 0, 0, 0, 0) ON CONFLICT DO NOTHING;
COMMENT ON TABLE {head} IS 'authix pgstore: the last entry of the log (one row); never delete it';

-- Session records for authix's devices list, at most 32 per subject.
CREATE TABLE IF NOT EXISTS {devices} (
	subject  bytea  NOT NULL CHECK (octet_length(subject) = 32),
	session  bytea  NOT NULL CHECK (octet_length(session) = 32),
	until_ms bigint NOT NULL,
	record   bytea  NOT NULL,
	PRIMARY KEY (subject, session)
);
CREATE INDEX IF NOT EXISTS {p}devices_until ON {devices} (until_ms);
COMMENT ON TABLE {devices} IS 'authix pgstore: session records of the devices list (opaque to the store)';
