package redisstore

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

const (
	// scanCount is the COUNT hint of each SCAN during a full sync.
	scanCount = 1000
	// pruneEvery is how often the goroutine that follows the log drops
	// expired entries from the mirror. Reads ignore expired entries anyway.
	pruneEvery = time.Minute
	// minBackoff is the first wait after an error reading the log or the
	// subscription; the wait doubles up to a third of the staleness bound
	// (a second for the subscription).
	minBackoff = 10 * time.Millisecond
)

// resyncLoop makes a full read of Redis, as a safety net for revocations
// written without a log entry, every resync interval plus a random part of
// up to half of it, so that a fleet started at once does not read at once,
// until Close. It neither confirms the mirror nor moves the follower: that
// is follow's job, tied to the log.
func (s *Store) resyncLoop() {
	defer s.wg.Done()
	for s.sleep(s.resync + rand.N(s.resync/2+1)) {
		ctx, cancel := context.WithTimeout(s.ctx, s.syncTO)
		if s.forEachNode(ctx, s.scanNode) == nil {
			s.resyncs.Add(1)
		}
		cancel()
	}
}

// hear applies announcements from the channel until Close. They matter for
// what Stores of earlier versions write, which is not logged; for the rest
// they only come before the log entry. go-redis dials again and resubscribes
// after an error; a subscription silent for hintPing is sent a PING, and
// one that stays silent for hintPing more is replaced.
func (s *Store) hear(ps *redis.PubSub) {
	defer s.wg.Done()
	var (
		pinged  bool
		backoff time.Duration
	)
	for {
		msg, err := ps.ReceiveTimeout(s.ctx, hintPing)
		if s.ctx.Err() != nil {
			return
		}
		switch {
		case err == nil:
			pinged, backoff = false, 0
			if m, ok := msg.(*redis.Message); ok {
				s.apply(m.Payload)
			}
		case isTimeout(err) && !pinged:
			_ = ps.Ping(s.ctx)
			pinged = true
		case isTimeout(err):
			if ps = s.replacePubSub(ps); ps == nil {
				return // closed
			}
			pinged = false
		default:
			// Connection lost, Redis down, or SUBSCRIBE refused. Wait before
			// go-redis dials again.
			backoff = min(max(2*backoff, minBackoff), time.Second)
			if !s.sleep(backoff) {
				return
			}
		}
	}
}

// replacePubSub closes ps and subscribes anew. It returns nil when the Store
// was closed meanwhile.
func (s *Store) replacePubSub(old *redis.PubSub) *redis.PubSub {
	_ = old.Close()
	ps := s.client.Subscribe(s.ctx, s.channel) // a failed dial is retried by ReceiveTimeout
	s.psMu.Lock()
	defer s.psMu.Unlock()
	if s.ps == nil {
		_ = ps.Close()
		return nil
	}
	s.ps = ps
	return ps
}

// sleep waits for d or until Close; it reports whether the Store is open.
func (s *Store) sleep(d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-s.ctx.Done():
		return false
	}
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// apply records an announcement in the mirror: a subject cut-off (see
// subjectAnnouncement) or a token revocation.
func (s *Store) apply(payload string) {
	if rest, ok := strings.CutPrefix(payload, subjectAnnouncement); ok {
		s.applySubject(rest)
		return
	}
	s.applyToken(payload)
}

// applyToken records an announcement "<expiry ms> <hex id>" in the mirror.
// Malformed payloads are ignored.
// Stores of earlier versions read every announcement this way.
func (s *Store) applyToken(payload string) {
	msStr, hexID, ok := strings.Cut(payload, " ")
	if !ok {
		return
	}
	id, ok := parseID(hexID)
	if !ok {
		return
	}
	expMs, err := strconv.ParseInt(msStr, 10, 64)
	if err != nil {
		return
	}
	s.mirror.Revoke(id, expMs, s.clock().UnixMilli())
}

// parseID decodes an id written as 64 lowercase hex digits, the only form
// Revoke writes and IsRevoked asks for.
func parseID(h string) ([32]byte, bool) {
	var id [32]byte
	if len(h) != 2*len(id) {
		return id, false
	}
	for i := 0; i < len(h); i += 2 {
		hi, ok1 := fromHex(h[i])
		lo, ok2 := fromHex(h[i+1])
		if !ok1 || !ok2 {
			return id, false
		}
		id[i/2] = hi<<4 | lo
	}
	return id, true
}

// fromHex decodes one lowercase hex digit.
func fromHex(c byte) (byte, bool) {
	switch {
	case '0' <= c && c <= '9':
		return c - '0', true
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10, true
	}
	return 0, false
}

// forEachNode calls fn for every node that holds keys, concurrently on
// Cluster and Ring, naming each node by its address.
func (s *Store) forEachNode(ctx context.Context, fn func(ctx context.Context, c redis.Cmdable, addr string) error) error {
	node := func(ctx context.Context, n *redis.Client) error { return fn(ctx, n, n.Options().Addr) }
	switch c := s.client.(type) {
	case *redis.ClusterClient:
		return c.ForEachMaster(ctx, node)
	case *redis.Ring:
		return c.ForEachShard(ctx, node)
	case *redis.Client:
		return node(ctx, c)
	default:
		return fn(ctx, c, "redis")
	}
}

// scanNode merges the revocation keys and subject keys of one node into
// the mirror, one SCAN batch at a time, reading values with pipelined GETs
// (one MGET a batch costs Redis no less, and would not work on Cluster,
// where a batch spans slots). Keys under the prefix that are neither a hex
// id nor "subject:" and a hex id are left alone, as are subject values this
// package did not write.
func (s *Store) scanNode(ctx context.Context, c redis.Cmdable, addr string) error {
	match := globEscape(s.prefix) + "*"
	var (
		cursor uint64
		keys   []string   // token keys, then subject keys
		ids    [][32]byte // their ids, in the same order
		cmds   []*redis.StringCmd
	)
	for {
		found, next, err := c.Scan(ctx, cursor, match, scanCount).Result()
		if err != nil {
			return fmt.Errorf("scan %q on %s: %w", match, addr, err)
		}
		keys, ids = keys[:0], ids[:0]
		for _, k := range found {
			if id, ok := parseID(strings.TrimPrefix(k, s.prefix)); ok {
				keys, ids = append(keys, k), append(ids, id)
			}
		}
		tokens := len(keys)
		for _, k := range found {
			if h, ok := strings.CutPrefix(strings.TrimPrefix(k, s.prefix), subjectInfix); ok {
				if id, ok := parseID(h); ok {
					keys, ids = append(keys, k), append(ids, id)
				}
			}
		}
		if len(keys) > 0 {
			cmds = cmds[:0]
			_, _ = c.Pipelined(ctx, func(p redis.Pipeliner) error {
				for _, k := range keys {
					cmds = append(cmds, p.Get(ctx, k))
				}
				return nil
			})
			nowMs := s.clock().UnixMilli()
			for i, cmd := range cmds {
				v, err := cmd.Result()
				if errors.Is(err, redis.Nil) {
					continue // expired since SCAN
				}
				if err != nil {
					return fmt.Errorf("get %q on %s: %w", keys[i], addr, err)
				}
				if i >= tokens {
					if cut, ok := parseSubjectCut(v); ok {
						s.mirror.CutSubject(ids[i], cut, nowMs)
					}
					continue
				}
				until, err := strconv.ParseInt(v, 10, 64)
				if err != nil {
					// Not written by this package: trust the key's TTL.
					if until, err = foreignExpiry(ctx, c, keys[i], nowMs); err != nil {
						return err
					}
				}
				s.mirror.Revoke(ids[i], until, nowMs)
			}
		}
		if next == 0 {
			return nil
		}
		cursor = next
	}
}

// checkEviction fails unless maxmemory-policy is noeviction on every node
// that holds keys. Keys evicted under memory pressure take revocations with
// them, and a Store started afterwards never learns of those.
func (s *Store) checkEviction() error {
	ctx, cancel := context.WithTimeout(s.ctx, s.syncTO)
	defer cancel()
	return s.forEachNode(ctx, func(ctx context.Context, c redis.Cmdable, addr string) error {
		res, err := c.ConfigGet(ctx, "maxmemory-policy").Result()
		var rerr redis.Error
		switch {
		case errors.As(err, &rerr) || (err == nil && res["maxmemory-policy"] == ""):
			if err == nil {
				err = errors.New("no such setting in the reply")
			}
			return fmt.Errorf("%w: New: cannot read maxmemory-policy on %s (%w): allow CONFIG GET for this user, "+
				"or make sure the policy is noeviction and pass WithEvictionAllowed()", ErrInvalidOption, addr, err)
		case err != nil:
			return fmt.Errorf("%w: read maxmemory-policy on %s: %w", ErrUnavailable, addr, err)
		}
		if p := res["maxmemory-policy"]; p != "noeviction" {
			return fmt.Errorf("%w: New: maxmemory-policy is %q on %s, so Redis may evict revocations under memory pressure "+
				"and a store started afterwards would accept those tokens again: set maxmemory-policy noeviction "+
				"(CONFIG SET and redis.conf), or pass WithEvictionAllowed() to accept the risk", ErrInvalidOption, p, addr)
		}
		return nil
	})
}

// foreignExpiry returns the expiry of a key whose value is not an expiry,
// from its TTL: a key without TTL counts as revoked for good, a missing key
// as 0 (skip). This matches what EXISTS reports in the stale path.
func foreignExpiry(ctx context.Context, c redis.Cmdable, key string, nowMs int64) (int64, error) {
	ttl, err := c.PTTL(ctx, key).Result()
	if err != nil {
		return 0, fmt.Errorf("pttl %q: %w", key, err)
	}
	switch {
	case ttl == -1:
		return math.MaxInt64, nil
	case ttl < 0:
		return 0, nil
	default:
		return nowMs + ttl.Milliseconds(), nil
	}
}

// globEscape quotes the characters that SCAN MATCH treats as patterns.
func globEscape(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '*', '?', '[', ']', '\\':
			b.WriteByte('\\')
		}
		b.WriteByte(s[i])
	}
	return b.String()
}
