package pgstore

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/authix-go/authix/redisstore/mirror"
)

// How the mirror stays current
//
// Every write locks the head row, upserts its row, inserts a log entry and
// notifies, in one transaction (queries.go). The entry's place is its
// position, drawn from the log's sequence under the head's lock, and a
// random tag; it names the place of the entry before it (prev). So a Store
// that applied the entries in order up to place P, reading the entries
// after P, finds any it missed: the first one after P does not name P as
// prev (the log was cleaned past P), or the head is not where the last one
// read left it (a backup was restored, the log was recreated). Positions
// are compared for equality with their tags by mirror.Follower, and as
// numbers only to skip notifications of entries a read already applied.
//
// A read of the log returns the head and up to logBatch entries after the
// Store's place, from one snapshot. One that returns fewer entries reached
// the end as of its sending, and confirms the mirror current as of then,
// unless there is a gap; a gap is filled by a full read, one statement
// that returns the head and every live row from one snapshot, after which
// the Store follows the log from that head.
//
// In LISTEN mode a Store holds a connection of its own that listens on the
// channel, applies each notification's entry as it comes (notifications
// arrive in commit order, which is the log's order), and reads the log on
// that connection after each LISTEN and every third of the staleness bound.
// With WithPolling it reads the log through the pool every interval. A
// notification only speeds a logout up: correctness rests on the reads.

const (
	// logBatch is the LIMIT of each read of the log: a read that returns
	// fewer entries reached the end.
	logBatch = 1000
	// minBackoff is the first wait after a failed LISTEN connection; the
	// wait doubles up to a third of the staleness bound, or maxBackoff.
	minBackoff = 10 * time.Millisecond
	maxBackoff = time.Second
	// listenerName is the application_name of the LISTEN connection, when
	// the pool's configuration sets none, so that it shows as such in
	// pg_stat_activity.
	listenerName = "authix pgstore listener"
)

// place is an entry of the log: its position and tag. The head's place
// before any write is {0, 0}.
type place struct{ pos, tag int64 }

func (p place) String() string {
	return strconv.FormatInt(p.pos, 10) + ":" + strconv.FormatInt(p.tag, 10)
}

// entry is one entry of the log.
type entry struct {
	at, prev      place
	subject       bool
	id            [32]byte
	cutoff, until int64 // cutoff µs, for subjects; until ms
}

// querier is a pool or a connection.
type querier interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
}

// follow keeps the mirror current until Close.
func (s *Store) follow() {
	defer s.wg.Done()
	if s.poll > 0 {
		for {
			_ = s.catchUp(s.pool)
			if !s.sleep(s.poll) {
				return
			}
		}
	}
	var backoff time.Duration
	for s.ctx.Err() == nil {
		conn, err := s.listen()
		caughtUp := false
		if err == nil {
			caughtUp = s.listenOn(conn)
			ctx, cancel := context.WithTimeout(context.Background(), time.Second)
			_ = conn.Close(ctx)
			cancel()
		} else {
			s.failed.Add(1)
		}
		if caughtUp {
			backoff = 0 // the connection worked for a while: dial again at once
			continue
		}
		// No connection, or one on which the log could not be read: wait,
		// so that a database that refuses is not asked in a tight loop.
		backoff = min(max(2*backoff, minBackoff), s.staleness/3, maxBackoff)
		if !s.sleep(backoff) {
			return
		}
	}
}

// listen opens the Store's own connection, from the pool's configuration,
// and listens on the channel.
func (s *Store) listen() (*pgx.Conn, error) {
	cfg := s.pool.Config().ConnConfig.Copy()
	if cfg.RuntimeParams["application_name"] == "" {
		cfg.RuntimeParams["application_name"] = listenerName
	}
	ctx, cancel := context.WithTimeout(s.ctx, s.syncTO)
	defer cancel()
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return nil, err
	}
	if _, err := conn.Exec(ctx, "LISTEN "+pgx.Identifier{s.n.channel}.Sanitize()); err != nil {
		_ = conn.Close(ctx)
		return nil, err
	}
	s.listenerPID.Store(conn.PgConn().PID())
	return conn, nil
}

// listenOn reads the log on conn, then applies notifications until a
// third of the staleness bound has passed, and again, until conn fails or
// the Store is closed. It reports whether a read of the log succeeded.
func (s *Store) listenOn(conn *pgx.Conn) (caughtUp bool) {
	for {
		if err := s.catchUp(conn); err != nil {
			return caughtUp
		}
		caughtUp = true
		deadline := time.Now().Add(s.staleness / 3)
		for !s.follower.Gap() {
			ctx, cancel := context.WithDeadline(s.ctx, deadline)
			n, err := conn.WaitForNotification(ctx)
			timedOut := errors.Is(ctx.Err(), context.DeadlineExceeded)
			cancel()
			if s.ctx.Err() != nil {
				return caughtUp
			}
			if err != nil {
				if timedOut && pgconn.Timeout(err) && !conn.IsClosed() {
					break // time to read the log
				}
				s.failed.Add(1)
				return caughtUp
			}
			s.notified.Add(1)
			s.applyNotification(n.Payload)
		}
	}
}

// catchUp reads the log to its end, filling the mirror in full first and
// again whenever there is a gap.
func (s *Store) catchUp(q querier) error {
	for {
		if s.follower.Gap() {
			if err := s.fill(q); err != nil {
				s.failed.Add(1)
				return err
			}
		}
		done, err := s.readLog(q)
		if err != nil {
			s.failed.Add(1)
			return err
		}
		if done && !s.follower.Gap() {
			return nil
		}
	}
}

// readLog reads the head and up to logBatch entries after the Store's
// place, applies them, and reports whether it reached the end. When it
// did, it checks that the head is where the entries left the Store, and
// confirms the mirror as of the read's sending unless there is a gap.
func (s *Store) readLog(q querier) (done bool, err error) {
	ctx, cancel := context.WithTimeout(s.ctx, s.syncTO)
	defer cancel()
	sent := s.fresh.Now()
	rows, err := q.Query(ctx, s.q.readLog, s.at.pos, logBatch)
	if err != nil {
		return false, fmt.Errorf("read the log %s: %w", s.n.log, err)
	}
	var (
		head  place
		n     int
		nowMs = s.clock().UnixMilli()
		e     entry
		id    []byte
		kind  *string
		// The entry's columns are NULL when there is none.
		pos, tag, prevPos, prevTag, cutoff, until *int64
	)
	for rows.Next() {
		if err := rows.Scan(&head.pos, &head.tag, &pos, &tag, &prevPos, &prevTag, &kind, &id, &cutoff, &until); err != nil {
			rows.Close()
			return false, fmt.Errorf("read the log %s: %w", s.n.log, err)
		}
		if pos == nil || tag == nil || prevPos == nil || prevTag == nil || kind == nil || cutoff == nil || until == nil || len(id) != len(e.id) {
			continue // the head alone: no entry after the Store's place
		}
		e = entry{at: place{*pos, *tag}, prev: place{*prevPos, *prevTag}, subject: *kind == "s", cutoff: *cutoff, until: *until}
		copy(e.id[:], id)
		s.advance(e, nowMs)
		n++
	}
	if err := rows.Err(); err != nil {
		return false, fmt.Errorf("read the log %s: %w", s.n.log, err)
	}
	if n == logBatch {
		return false, nil
	}
	if head != s.at {
		// The log ends elsewhere than the entries left this Store: a
		// restored backup, a log made anew, or a cleaned one that the
		// entries did not show.
		s.follower.Break()
	}
	s.follower.CaughtUp(sent)
	return true, nil
}

// fill merges every live revocation and cut-off into the mirror and
// restarts the follower at the head, all read from one snapshot.
func (s *Store) fill(q querier) error {
	ctx, cancel := context.WithTimeout(s.ctx, s.syncTO)
	defer cancel()
	sent := s.fresh.Now()
	nowMs := s.clock().UnixMilli()
	rows, err := q.Query(ctx, s.q.readAll, nowMs)
	if err != nil {
		return s.readAllError(err)
	}
	var (
		head  *place
		kind  string
		id    []byte
		a, b  int64
		rowID [32]byte
	)
	for rows.Next() {
		if err := rows.Scan(&kind, &id, &a, &b); err != nil {
			rows.Close()
			return s.readAllError(err)
		}
		if kind == "h" {
			head = &place{a, b}
			continue
		}
		if len(id) != len(rowID) {
			continue
		}
		copy(rowID[:], id)
		if kind == "s" {
			s.mirror.CutSubject(rowID, mirror.Cut{At: a, Until: b}, nowMs)
		} else {
			s.mirror.Revoke(rowID, b, nowMs)
		}
	}
	if err := rows.Err(); err != nil {
		return s.readAllError(err)
	}
	if head == nil {
		return fmt.Errorf("%w: the table %s has no row: run pgstore.Migrate", ErrInvalidOption, s.n.head)
	}
	s.follower.Restart(head.String())
	s.at = *head
	s.follower.CaughtUp(sent)
	s.fullReads.Add(1)
	return nil
}

// readAllError wraps an error of a full read: ErrInvalidOption when a
// table is missing, ErrUnavailable otherwise.
func (s *Store) readAllError(err error) error {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && pgErr.Code == "42P01" { // undefined_table
		return fmt.Errorf("%w: %w: run pgstore.Migrate with the same WithSchema and WithTablePrefix (and check the search_path)", ErrInvalidOption, err)
	}
	return fmt.Errorf("%w: read %s and %s in full: %w", ErrUnavailable, s.n.revoked, s.n.subjects, err)
}

// advance applies e to the mirror and moves the follower to it.
func (s *Store) advance(e entry, nowMs int64) {
	if e.subject {
		s.mirror.CutSubject(e.id, mirror.Cut{At: e.cutoff, Until: e.until}, nowMs)
	} else {
		s.mirror.Revoke(e.id, e.until, nowMs)
	}
	s.follower.Advance(e.prev.String(), e.at.String())
	s.at = e.at
}

// applyNotification applies the entry a notification carries, unless a
// read of the log applied it already. Malformed payloads are ignored.
func (s *Store) applyNotification(payload string) {
	e, ok := parseEntry(payload)
	if !ok || e.at.pos <= s.at.pos {
		return
	}
	s.advance(e, s.clock().UnixMilli())
}

// parseEntry decodes a notification, "<pos> <tag> <prev pos> <prev tag>
// <kind> <cutoff µs> <until ms> <hex id>".
func parseEntry(payload string) (entry, bool) {
	var e entry
	f := strings.Fields(payload)
	if len(f) != 8 || (f[4] != "t" && f[4] != "s") || hex.DecodedLen(len(f[7])) != len(e.id) {
		return e, false
	}
	var n [6]int64
	for i, j := range []int{0, 1, 2, 3, 5, 6} {
		v, err := strconv.ParseInt(f[j], 10, 64)
		if err != nil {
			return e, false
		}
		n[i] = v
	}
	if _, err := hex.Decode(e.id[:], []byte(f[7])); err != nil {
		return e, false
	}
	e.at, e.prev, e.subject, e.cutoff, e.until = place{n[0], n[1]}, place{n[2], n[3]}, f[4] == "s", n[4], n[5]
	return e, true
}
