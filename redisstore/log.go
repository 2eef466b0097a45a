package redisstore

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/authix-go/authix/redisstore/mirror"
)

// How the mirror stays current
//
// Every write (Revoke, RevokeSubject) appends its announcement to the log, a
// Redis Stream under the key "{<channel>}:log", in the same script that
// publishes it and stores the key. Each entry has three fields: "e", the
// announcement ("<expiry ms> <hex id>" or "subject <cutoff µs> <until ms>
// <hex id>"); "p", the id of the entry that was last in the log when it was
// added ("0-0" for a log's first); and "g", the log's generation, a random
// token drawn with the log's first entry and copied into every later one,
// so that a log recreated after a FLUSHALL or a restart is never taken for
// the one a Store followed, even where its entry ids repeat. The script
// trims entries older than the retention (WithLogRetention, default 1h) by
// their ids, which carry Redis's time of writing.
//
// A Store reads the log on a connection of its own with XREAD BLOCK from
// the last entry it applied, applies what comes, then reads the log's last
// entry. A reconnect therefore costs only what the Store missed. When the
// read returned fewer entries than it asked for, on a live connection, it
// returned everything logged before it was sent, and the log's last entry
// is of the Store's generation and not before its place: the read confirms
// the mirror current as of its sending, or, when it returned nothing, as of
// the end of its wait. Reads block for two thirds of the staleness bound, so
// that confirmations come often enough while no logout happens: that is a
// Store's whole upkeep while idle, two commands sent together every two
// thirds of the bound.
//
// A gap is found, never assumed (mirror.Follower): an entry whose "p" and
// "g" are not the last entry applied means entries in between never reached
// this Store (trimmed past its place, FLUSHALL, a Redis restarted without
// its data, a failover to a lagging replica), and so does a log whose last
// entry is of another generation or before the Store's place. A gap is
// filled by a full read: SCAN of every key under the prefix, merged into the
// mirror, after which the Store follows the log from where it ended when
// the read began. New starts with one. A full read only adds to the mirror.
//
// Announcements on the channel still go out, for Stores of earlier versions,
// and are applied as they come, which also brings in what those Stores
// write: they never confirm anything. Every resync interval (1h by default,
// jittered), a full read is made as a safety net for keys written without a
// log entry.

const (
	// logBatch is the COUNT of each read of the log: a read that returns
	// fewer entries reached the end.
	logBatch = 1000
	// hintPing is how long the announcement goroutine waits in silence
	// before it sends a PING, and then before it replaces a subscription
	// that did not answer.
	hintPing = 30 * time.Second
)

// logKey returns the key of the log for channel: the channel in braces, so
// that the key is outside the key prefix (which the default channel starts
// with), and lives in the slot of the channel's name on Cluster.
func logKey(channel string) string { return "{" + channel + "}:log" }

// logAppend defines append(log, entry, retention): it adds entry to the
// stream log with the id and generation of the entry before it (a new
// generation, from Redis's time and the entry, for a log's first entry),
// trims entries older than retention milliseconds by Redis's clock
// (approximately: Redis drops whole nodes of about 100 entries, at most 100
// nodes a call), and returns the new entry's id. MINID is written with
// '%.0f': Lua would print a large number in exponent form.
const logAppend = `
local function append(log, entry, retention)
	local last = redis.call('XREVRANGE', log, '+', '-', 'COUNT', 1)
	local prev, gen = '0-0', nil
	if last[1] then
		prev = last[1][1]
		local f = last[1][2]
		for i = 1, #f, 2 do if f[i] == 'g' then gen = f[i + 1] end end
	end
	if not gen then
		local t = redis.call('TIME')
		gen = string.sub(redis.sha1hex(t[1] .. '.' .. t[2] .. ' ' .. entry), 1, 16)
	end
	local id = redis.call('XADD', log, '*', 'e', entry, 'p', prev, 'g', gen)
	local minid = tonumber(string.match(id, '^%d+')) - tonumber(retention)
	if minid > 0 then redis.call('XTRIM', log, 'MINID', '~', string.format('%.0f', minid)) end
	return id
end
`

// logScript appends ARGV[1] to the log KEYS[1], keeping ARGV[2]
// milliseconds of entries: on Cluster and Ring, where the log and the
// revocation key live on different nodes, it runs before the script that
// writes the key.
var logScript = redis.NewScript(logAppend + `return append(KEYS[1], ARGV[1], ARGV[2])`)

// isSharded reports whether client spreads keys over several nodes, so that
// the log and a revocation key cannot be written by one script.
func isSharded(client redis.UniversalClient) bool {
	switch client.(type) {
	case *redis.ClusterClient, *redis.Ring:
		return true
	}
	return false
}

// logFirst returns the keys for the script that writes key: the key and the
// log, or on Cluster and Ring the key alone, once entry has been logged by a
// script of its own.
func (s *Store) logFirst(ctx context.Context, key, entry string) ([]string, error) {
	if !s.split {
		return []string{key, s.log}, nil
	}
	if err := logScript.Run(ctx, s.client, []string{s.log}, entry, s.retention.Milliseconds()).Err(); err != nil {
		return nil, err
	}
	return []string{key}, nil
}

// start fills the mirror and reads the log up to its end, which confirms
// the mirror, within the sync timeout.
func (s *Store) start() error {
	ctx, cancel := context.WithTimeout(s.ctx, s.syncTO)
	defer cancel()
	for {
		if s.follower.Gap() {
			if err := s.fill(); err != nil {
				return fmt.Errorf("%w: fill local mirror from keys %q*: %w", ErrUnavailable, s.prefix, err)
			}
		}
		sent := s.fresh.Now()
		n, err := s.readLog(ctx, -1)
		if err != nil {
			return fmt.Errorf("%w: read log %q: %w", ErrUnavailable, s.log, err)
		}
		if n < logBatch && !s.follower.Gap() {
			s.follower.CaughtUp(sent)
			return nil
		}
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("%w: read log %q: %w", ErrUnavailable, s.log, err)
		}
	}
}

// follow reads the log until Close, filling gaps with full reads.
func (s *Store) follow() {
	defer s.wg.Done()
	var (
		block     = s.readBlock()
		lastPrune = time.Now()
		backoff   time.Duration
	)
	for s.ctx.Err() == nil {
		if time.Since(lastPrune) >= pruneEvery {
			s.mirror.Prune(s.clock().UnixMilli())
			lastPrune = time.Now()
		}
		var err error
		if s.follower.Gap() {
			err = s.fill()
		} else {
			sent := s.fresh.Now()
			var n int
			if n, err = s.readLog(s.ctx, block); err == nil && n < logBatch {
				at := sent
				if n == 0 {
					// Redis answered nothing only once the block had passed
					// since it got the read, which was after sent; its
					// timers count whole milliseconds, hence the margin.
					at = min(sent+mirror.Instant(block-2*time.Millisecond), s.fresh.Now())
				}
				s.follower.CaughtUp(at)
			}
			if err != nil && s.ctx.Err() == nil {
				s.failed.Add(1)
				if isTimeout(err) {
					s.dropped.Add(1) // silent: a frozen Redis or a half-open connection
				}
				s.reader.drop(s.client)
			}
		}
		if err == nil {
			backoff = 0
			continue
		}
		backoff = min(max(2*backoff, minBackoff), s.staleness/3)
		if !s.sleep(backoff) {
			return
		}
	}
}

// readBlock is how long a read of the log waits for an entry: two thirds
// of the staleness bound. A read that times out confirms the mirror as of
// the end of its wait, so the confirmation is at most about that old when
// the next one comes, which leaves a third of the bound for a slow reply.
func (s *Store) readBlock() time.Duration { return 2 * s.staleness / 3 }

// readLog reads the entries after the follower's place, blocking up to
// block for one to come (not at all when block is negative), applies them,
// checks the log's last entry, and returns how many entries there were.
func (s *Store) readLog(ctx context.Context, block time.Duration) (int, error) {
	c, own, err := s.reader.get(ctx, s)
	if err != nil {
		return 0, err
	}
	from := logID(s.follower.Pos())
	var (
		read *redis.XStreamSliceCmd
		last *redis.XMessageSliceCmd // the log's last entry, read right after
	)
	if own {
		// One round trip: Redis answers XREVRANGE as soon as it has
		// answered XREAD. The read is built by hand so that the
		// connection's ReadTimeout, which reader.get sets the staleness
		// bound past the block, bounds the wait for the reply: XRead would
		// allow the block plus ten seconds.
		args := []any{"xread", "count", logBatch}
		if block >= 0 {
			args = append(args, "block", max(block.Milliseconds(), 1))
		}
		args = append(args, "streams", s.log, from)
		read = redis.NewXStreamSliceCmd(ctx, args...)
		_, _ = c.Pipelined(ctx, func(p redis.Pipeliner) error {
			_ = p.Process(ctx, read)
			last = p.XRevRangeN(ctx, s.log, "+", "-", 1)
			return nil
		})
	} else {
		read = c.XRead(ctx, &redis.XReadArgs{Streams: []string{s.log, from}, Count: logBatch, Block: block})
		if read.Err() == nil || errors.Is(read.Err(), redis.Nil) {
			last = c.XRevRangeN(ctx, s.log, "+", "-", 1)
		}
	}
	streams, err := read.Result()
	if err != nil && !errors.Is(err, redis.Nil) { // Nil: blocked until the timeout, nothing new
		return 0, err
	}
	n := 0
	for _, st := range streams {
		for _, m := range st.Messages {
			entry, _ := m.Values["e"].(string)
			s.apply(entry)
			prev, pos := entryPos(m)
			s.follower.Advance(prev, pos)
			n++
		}
	}
	// Entries that a log recreated under the same ids hides from XREAD, or
	// a log that now ends before the follower's place, show in its last
	// entry.
	tail, err := last.Result()
	if err != nil {
		return n, err
	}
	if behind(tail, s.follower.Pos()) {
		s.follower.Break()
	}
	return n, nil
}

// entryPos returns a log entry's place and that of the entry before it, in
// the follower's terms: "<generation> <id>", or "0-0" before a log's first
// entry, whatever its generation.
func entryPos(m redis.XMessage) (prev, pos string) {
	gen, _ := m.Values["g"].(string)
	p, _ := m.Values["p"].(string)
	if p != "0-0" {
		p = gen + " " + p
	}
	return p, gen + " " + m.ID
}

// logID returns the stream id of a follower's place.
func logID(pos string) string {
	if _, id, ok := strings.Cut(pos, " "); ok {
		return id
	}
	return pos
}

// behind reports whether the log whose last entry is last (none: empty)
// cannot be the one the follower read up to pos: it is of another
// generation, or it ends before pos.
func behind(last []redis.XMessage, pos string) bool {
	if len(last) == 0 {
		return pos != "0-0"
	}
	if pos == "0-0" {
		return false
	}
	_, tail := entryPos(last[0])
	tailGen, tailID, _ := strings.Cut(tail, " ")
	gen, id, _ := strings.Cut(pos, " ")
	return tailGen != gen || streamIDLess(tailID, id)
}

// fill merges every revocation in Redis into the mirror and restarts the
// follower where the log ended when it began. On Cluster and Ring it also
// applies every entry the log still holds up to there: a writer logs before
// it stores the key, so a key may not yet be there for SCAN to find when its
// entry is already behind the follower's new place.
func (s *Store) fill() error {
	ctx, cancel := context.WithTimeout(s.ctx, s.syncTO)
	defer cancel()
	tail, err := s.tail(ctx)
	if err != nil {
		return err
	}
	if err := s.forEachNode(ctx, s.scanNode); err != nil {
		return err
	}
	if s.split {
		if err := s.applyLog(ctx, tail); err != nil {
			return err
		}
	}
	s.follower.Restart(tail)
	s.fullReads.Add(1)
	return nil
}

// tail returns the place of the log's last entry, or "0-0" when it is empty
// or missing.
func (s *Store) tail(ctx context.Context) (string, error) {
	last, err := s.client.XRevRangeN(ctx, s.log, "+", "-", 1).Result()
	if err != nil {
		return "", fmt.Errorf("read the end of log %q: %w", s.log, err)
	}
	if len(last) == 0 {
		return "0-0", nil
	}
	_, pos := entryPos(last[0])
	return pos, nil
}

// applyLog applies every entry of the log up to and including upto.
func (s *Store) applyLog(ctx context.Context, upto string) error {
	from := "-"
	for {
		msgs, err := s.client.XRangeN(ctx, s.log, from, logID(upto), logBatch).Result()
		if err != nil {
			return fmt.Errorf("read log %q: %w", s.log, err)
		}
		for _, m := range msgs {
			entry, _ := m.Values["e"].(string)
			s.apply(entry)
		}
		if len(msgs) < logBatch {
			return nil
		}
		from = "(" + msgs[len(msgs)-1].ID
	}
}

// streamIDLess reports whether stream id a comes before b. Ids that do not
// parse compare as "0-0".
func streamIDLess(a, b string) bool {
	am, as := parseStreamID(a)
	bm, bs := parseStreamID(b)
	return am < bm || (am == bm && as < bs)
}

func parseStreamID(id string) (ms, seq uint64) {
	m, sq, _ := strings.Cut(id, "-")
	ms, _ = strconv.ParseUint(m, 10, 64)
	seq, _ = strconv.ParseUint(sq, 10, 64)
	return ms, seq
}

// logReader holds the connection on which a Store blocks reading the log: a
// client of its own with one connection, made from the options of the node
// that holds the log, so that Close can end a blocking read at once by
// closing it, and its ReadTimeout can give up a silent read soon after the
// block ends. For a client type it does not know, it reads through the
// Store's client; Close then waits for a blocking read to end.
type logReader struct {
	mu     sync.Mutex
	c      *redis.Client // nil until needed and after drop
	closed bool
}

// get returns the client to read the log with, and whether it is the
// reader's own, which allows a reply the staleness bound past the block.
func (r *logReader) get(ctx context.Context, s *Store) (redis.UniversalClient, bool, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return nil, false, ErrClosed
	}
	if r.c != nil {
		return r.c, true, nil
	}
	var node *redis.Client
	switch c := s.client.(type) {
	case *redis.Client:
		node = c
	case *redis.ClusterClient:
		n, err := c.MasterForKey(ctx, s.log)
		if err != nil {
			return nil, false, fmt.Errorf("find the master of %q: %w", s.log, err)
		}
		node = n
	case *redis.Ring:
		n, err := c.GetShardClientForKey(s.log)
		if err != nil {
			return nil, false, fmt.Errorf("find the shard of %q: %w", s.log, err)
		}
		node = n
	default:
		return s.client, false, nil
	}
	o := *node.Options()
	o.PoolSize, o.MinIdleConns, o.MaxIdleConns, o.MaxActiveConns = 1, 0, 1, 1
	o.MaxRetries = -1 // follow retries, after a backoff
	o.ReadTimeout = s.readBlock() + s.staleness
	o.ClientSideCache, o.ClientSideCacheConfig = nil, nil
	r.c = redis.NewClient(&o)
	return r.c, true, nil
}

// drop closes the reader's client after a failed read, so that the next
// read dials again, on Cluster to the log's master as the client now knows
// it.
func (r *logReader) drop(client redis.UniversalClient) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.c != nil {
		_ = r.c.Close()
		r.c = nil
	}
	if c, ok := client.(*redis.ClusterClient); ok {
		c.ReloadState(context.Background())
	}
}

// close closes the reader's client for good.
func (r *logReader) close() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.closed = true
	if r.c != nil {
		_ = r.c.Close()
		r.c = nil
	}
}
