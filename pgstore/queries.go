package pgstore

import "strings"

// queries are the statements a Store sends, with its tables' names in
// them. Every parameter is cast, so that they mean the same in every
// QueryExecMode, including those that prepare nothing (PgBouncer).
type queries struct {
	// A write is a batch, one implicit transaction: lockHead, then the
	// row's upsert, then its log entry and notification.
	lockHead, upsertToken, logToken, upsertSubject, logSubject string
	// Lookups past the staleness bound.
	token, subject string
	// Reading: the log from a place, and everything at once.
	readLog, readAll string
	// Devices.
	lockSubject, saveDevice, trimDevices, devices, deleteDevice string
	// Cleanup, each one batch.
	cleanRevoked, cleanSubjects, cleanDevices, cleanLog string
}

// Statements, with {revoked}, {subjects}, {log}, {head}, {devices} and
// {seq} for the names.
const (
	// lockHead takes the head row's lock, which every write takes first,
	// so that writes are logged one after another, in commit order, and
	// no two writers lock rows in different orders. It draws the entry's
	// position from the log's sequence and moves the head there, keeping
	// the entry before as prev. $1 is the new entry's tag.
	sqlLockHead = `UPDATE {head} SET prev_pos = pos, prev_tag = tag, pos = nextval('{seq}'), tag = $1::bigint`

	sqlUpsertToken = `INSERT INTO {revoked} AS r (id, until_ms) VALUES ($1::bytea, $2::bigint)
ON CONFLICT (id) DO UPDATE SET until_ms = GREATEST(r.until_ms, EXCLUDED.until_ms)`

	// sqlUpsertSubject moves the cut-off strictly forward: one at or
	// before the held one becomes the held one plus a microsecond.
	sqlUpsertSubject = `INSERT INTO {subjects} AS s (id, cutoff_us, until_ms) VALUES ($1::bytea, $2::bigint, $3::bigint)
ON CONFLICT (id) DO UPDATE SET
	cutoff_us = CASE WHEN s.cutoff_us >= EXCLUDED.cutoff_us THEN s.cutoff_us + 1 ELSE EXCLUDED.cutoff_us END,
	until_ms = GREATEST(s.until_ms, EXCLUDED.until_ms)`

	// sqlLogRow logs the row as stored, under the head's place, and
	// notifies "<pos> <tag> <prev pos> <prev tag> <kind> <cutoff µs>
	// <until ms> <hex id>" on $1, delivered on commit. The head and the
	// row are left-joined to a row of their own, so that a missing one
	// logs NULLs, which the log's NOT NULL columns refuse: the whole
	// transaction then fails, rather than store a row no entry announces.
	// {row} is the row's table, {kind} its kind and {cutoff} the cut-off
	// column (0 for tokens). It returns the stored cut-off and until.
	sqlLogRow = `WITH l AS (
	INSERT INTO {log} (pos, tag, prev_pos, prev_tag, kind, id, cutoff_us, until_ms)
	SELECT h.pos, h.tag, h.prev_pos, h.prev_tag, '{kind}', $2::bytea, {cutoff}, r.until_ms
	FROM (VALUES (1)) AS one(x) LEFT JOIN {head} h ON true LEFT JOIN {row} r ON r.id = $2::bytea
	RETURNING pos, tag, prev_pos, prev_tag, kind, id, cutoff_us, until_ms
)
SELECT cutoff_us, until_ms, pg_notify($1::text, concat_ws(' ', pos, tag, prev_pos, prev_tag, kind, cutoff_us, until_ms, encode(id, 'hex')))
FROM l`

	sqlToken   = `SELECT until_ms FROM {revoked} WHERE id = $1::bytea`
	sqlSubject = `SELECT cutoff_us, until_ms FROM {subjects} WHERE id = $1::bytea`

	// sqlReadLog returns the head and up to $2 entries after position $1,
	// in order, from one snapshot. A left join, so that the head comes
	// even when there is no entry.
	sqlReadLog = `SELECT h.pos, h.tag, l.pos, l.tag, l.prev_pos, l.prev_tag, l.kind, l.id, l.cutoff_us, l.until_ms
FROM {head} h LEFT JOIN LATERAL (
	SELECT * FROM {log} WHERE pos > $1::bigint ORDER BY pos LIMIT $2::int
) l ON true
ORDER BY l.pos`

	// sqlReadAll returns the head and every revocation and cut-off whose
	// until is not before $1, from one snapshot: the rows hold every entry
	// up to the head.
	sqlReadAll = `SELECT 'h', NULL::bytea, pos, tag FROM {head}
UNION ALL SELECT 't', id, 0, until_ms FROM {revoked} WHERE until_ms >= $1::bigint
UNION ALL SELECT 's', id, cutoff_us, until_ms FROM {subjects} WHERE until_ms >= $1::bigint`

	// sqlLockSubject serialises the saves of one subject's devices, so
	// that the bound holds under concurrent saves.
	sqlLockSubject = `SELECT pg_advisory_xact_lock($1::bigint)`
	sqlSaveDevice  = `INSERT INTO {devices} (subject, session, until_ms, record) VALUES ($1::bytea, $2::bytea, $3::bigint, $4::bytea)
ON CONFLICT (subject, session) DO UPDATE SET until_ms = EXCLUDED.until_ms, record = EXCLUDED.record`
	// sqlTrimDevices drops the subject's records that ran out by $3 (now)
	// and, of the other sessions', all but the $4 that end last.
	sqlTrimDevices = `DELETE FROM {devices} WHERE subject = $1::bytea AND (until_ms < $3::bigint OR session IN (
	SELECT session FROM {devices} WHERE subject = $1::bytea AND session <> $2::bytea AND until_ms >= $3::bigint
	ORDER BY until_ms DESC, session OFFSET $4::int))`
	sqlDevices      = `SELECT record FROM {devices} WHERE subject = $1::bytea AND until_ms >= $2::bigint`
	sqlDeleteDevice = `DELETE FROM {devices} WHERE subject = $1::bytea AND session = $2::bytea`

	// Cleanup deletes at most $2 rows a statement, skipping rows another
	// transaction holds, oldest first.
	sqlCleanRevoked = `DELETE FROM {revoked} WHERE id IN (
	SELECT id FROM {revoked} WHERE until_ms < $1::bigint ORDER BY until_ms LIMIT $2::int FOR UPDATE SKIP LOCKED)`
	sqlCleanSubjects = `DELETE FROM {subjects} WHERE id IN (
	SELECT id FROM {subjects} WHERE until_ms < $1::bigint ORDER BY until_ms LIMIT $2::int FOR UPDATE SKIP LOCKED)`
	sqlCleanDevices = `DELETE FROM {devices} WHERE (subject, session) IN (
	SELECT subject, session FROM {devices} WHERE until_ms < $1::bigint ORDER BY until_ms LIMIT $2::int FOR UPDATE SKIP LOCKED)`
	// sqlCleanLog deletes entries older than $1 milliseconds by the
	// database's clock. The head, not the last entry, marks the log's end,
	// so the log may be emptied. It locks nothing first, so that the role
	// needs no UPDATE on the log: a cleaner that meets rows another is
	// deleting waits, then deletes none of them.
	sqlCleanLog = `DELETE FROM {log} WHERE pos IN (
	SELECT pos FROM {log} WHERE logged_at < now() - make_interval(secs => $1::bigint / 1000.0)
	ORDER BY logged_at LIMIT $2::int)`
)

func (n names) queries() queries {
	r := strings.NewReplacer("{revoked}", n.revoked, "{subjects}", n.subjects, "{log}", n.log,
		"{head}", n.head, "{devices}", n.devices, "{seq}", n.seq)
	logRow := func(row, kind, cutoff string) string {
		return r.Replace(strings.NewReplacer("{row}", row, "{kind}", kind, "{cutoff}", cutoff).Replace(sqlLogRow))
	}
	return queries{
		lockHead:      r.Replace(sqlLockHead),
		upsertToken:   r.Replace(sqlUpsertToken),
		logToken:      logRow(n.revoked, "t", "0"),
		upsertSubject: r.Replace(sqlUpsertSubject),
		logSubject:    logRow(n.subjects, "s", "r.cutoff_us"),
		token:         r.Replace(sqlToken),
		subject:       r.Replace(sqlSubject),
		readLog:       r.Replace(sqlReadLog),
		readAll:       r.Replace(sqlReadAll),
		lockSubject:   sqlLockSubject,
		saveDevice:    r.Replace(sqlSaveDevice),
		trimDevices:   r.Replace(sqlTrimDevices),
		devices:       r.Replace(sqlDevices),
		deleteDevice:  r.Replace(sqlDeleteDevice),
		cleanRevoked:  r.Replace(sqlCleanRevoked),
		cleanSubjects: r.Replace(sqlCleanSubjects),
		cleanDevices:  r.Replace(sqlCleanDevices),
		cleanLog:      r.Replace(sqlCleanLog),
	}
}
