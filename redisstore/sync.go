package redisstore

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"math"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

const (
	// scanCount is the COUNT hint of each SCAN during a full sync.
	scanCount = 1000
	// pruneEvery is how often the subscription goroutine drops expired
	// entries from the mirror. Reads ignore expired entries anyway.
	pruneEvery = time.Minute
	// minBackoff is the first wait after a subscription error; the wait
	// doubles up to the health-check period.
	minBackoff = 10 * time.Millisecond
)

// How the mirror stays current
//
// Revoke writes the key and publishes "<expiry ms> <hex id>" on the channel
// in one Lua script; RevokeSubject does the same for a subject key, with
// "subject <cutoff µs> <until ms> <hex id>". Every Store holds one
// subscription, read by one goroutine (run), which applies announcements to
// the mirror. The mirror is confirmed current in two ways, and only these
// move the confirmation time forward:
//
//   - A full sync (SCAN of the prefix) that starts at time T sees every key
//     written before T, and each key is announced in the same step as it is
//     written. When the sync follows the subscription confirmation, the
//     mirror is current as of T on success.
//   - Every third of the staleness bound the goroutine sends PING with its
//     send time as payload. The reply comes back on the same connection after
//     every announcement published before Redis handled the PING, so when it
//     arrives the mirror is current as of the send time. Replies count only
//     while the subscription is confirmed: a subscribe confirmation has
//     arrived since the connection was (re)made, nothing has been refused or
//     failed since, and a full sync has succeeded since that confirmation.
//
// go-redis re-dials a broken subscription by itself and writes SUBSCRIBE
// first on the new connection, so on each connection the answer to it comes
// before any reply to a PING. Any error read from the subscription (a broken
// connection, or Redis refusing SUBSCRIBE, say after an ACL change) ends the
// confirmation; a confirmation that does not come within a third of the
// bound is asked for again with another SUBSCRIBE. If nothing at all arrives
// for twice the staleness bound (a half-open connection), the goroutine
// replaces the PubSub. IsRevoked trusts the mirror while the confirmation is
// younger than the bound.
//
// Independently, resyncLoop re-reads Redis every resync interval, so that an
// announcement lost without any of the above noticing is made good within
// that interval. Syncs only add to the mirror, so they may overlap.

// run reads the subscription until Close.
func (s *Store) run(ps *redis.PubSub) {
	defer s.wg.Done()
	var (
		interval  = s.staleness / 3
		deadAfter = 2 * s.staleness
		lastPing  time.Time
		lastHeard = time.Now()
		lastPrune = time.Now()
		backoff   time.Duration
		// subscribed: Redis confirmed the subscription on the current
		// connection and has refused nothing since. New saw the confirmation.
		subscribed = true
		// lastAsk is when subscribed last became false or SUBSCRIBE was last
		// sent again.
		lastAsk  time.Time
		needSync bool // subscribed, but not yet followed by a full sync
		syncAt   time.Time
	)
	lost := func() {
		if subscribed {
			subscribed, needSync, lastAsk = false, false, time.Now()
		}
	}
	for s.ctx.Err() == nil {
		now := time.Now()
		if needSync && !now.Before(syncAt) {
			if s.fullSync(true) == nil {
				needSync = false
			} else {
				syncAt = time.Now().Add(interval)
			}
			lastHeard = time.Now() // a long sync is not silence on the subscription
			continue
		}
		if now.Sub(lastPrune) >= pruneEvery {
			nowMs := s.clock().UnixMilli()
			s.mirror.prune(nowMs)
			s.mirror.pruneSubjects(nowMs)
			lastPrune = now
		}
		if now.Sub(lastHeard) > deadAfter {
			lost()
			if ps = s.replacePubSub(ps); ps == nil {
				return // closed
			}
			lastHeard, lastPing, lastAsk = time.Now(), time.Time{}, time.Now()
			continue
		}
		if !subscribed && now.Sub(lastAsk) >= interval {
			// Refused, or the answer to go-redis's own SUBSCRIBE is overdue.
			// An error here is a write error, which makes go-redis reconnect
			// and subscribe anyway.
			_ = ps.Subscribe(s.ctx, s.channel)
			lastAsk = now
		}
		if now.Sub(lastPing) >= interval {
			// A failed write makes go-redis reconnect; the reply to a lost
			// PING never arrives, which is what the timeout above catches.
			if ps.Ping(s.ctx, strconv.FormatInt(int64(now.Sub(s.epoch)), 10)) != nil {
				lost()
			}
			lastPing = now
		}

		wait := interval - time.Since(lastPing)
		if needSync {
			wait = min(wait, time.Until(syncAt))
		}
		if !subscribed {
			wait = min(wait, interval-time.Since(lastAsk))
		}
		msg, err := ps.ReceiveTimeout(s.ctx, max(wait, time.Millisecond))
		if err != nil {
			if s.ctx.Err() != nil {
				return
			}
			if isTimeout(err) {
				continue
			}
			// Connection lost, Redis down, or SUBSCRIBE refused. Wait before
			// go-redis dials again.
			lost()
			backoff = min(max(2*backoff, minBackoff), interval)
			if !s.sleep(backoff) {
				return
			}
			continue
		}
		backoff = 0
		lastHeard = time.Now()
		switch m := msg.(type) {
		case *redis.Subscription:
			if m.Channel != s.channel {
				break
			}
			switch m.Kind {
			case "subscribe":
				subscribed, needSync, syncAt = true, true, time.Time{}
			case "unsubscribe":
				lost()
			}
		case *redis.Message:
			s.apply(m.Payload)
		case *redis.Pong:
			if subscribed && !needSync {
				if sent, err := strconv.ParseInt(m.Payload, 10, 64); err == nil {
					s.confirm(sent)
				}
			}
		}
	}
}

// resyncLoop runs a full sync every resync interval until Close. It never
// confirms the mirror: that is run's job, tied to the subscription.
func (s *Store) resyncLoop() {
	defer s.wg.Done()
	t := time.NewTimer(s.resync)
	defer t.Stop()
	for {
		select {
		case <-s.ctx.Done():
			return
		case <-t.C:
		}
		if s.fullSync(false) == nil {
			s.resyncs.Add(1)
		}
		t.Reset(s.resync)
	}
}

// awaitSubscription waits for the confirmation of ps's subscription.
func awaitSubscription(ctx context.Context, ps *redis.PubSub, channel string, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		left := time.Until(deadline)
		if left <= 0 {
			return fmt.Errorf("no subscription confirmation within %v", timeout)
		}
		msg, err := ps.ReceiveTimeout(ctx, left)
		if err != nil {
			return err
		}
		if m, ok := msg.(*redis.Subscription); ok && m.Kind == "subscribe" && m.Channel == channel {
			return nil
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
	s.replaced.Add(1)
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
// Malformed payloads are ignored; the next full sync would correct any gap.
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
	if err != nil || expMs < s.clock().UnixMilli() {
		return
	}
	s.mirror.insert(id, expMs)
}

// parseID decodes an id written as 64 lowercase hex digits, the only form
// Revoke writes and IsRevoked asks for.
func parseID(h string) ([32]byte, bool) {
	var id [32]byte
	if len(h) != 2*len(id) || strings.ToLower(h) != h {
		return id, false
	}
	_, err := hex.Decode(id[:], []byte(h))
	return id, err == nil
}

// fullSync merges every revocation in Redis into the mirror. With confirm it
// then confirms the mirror as of its start; the caller must know that the
// subscription was confirmed before the sync began.
func (s *Store) fullSync(confirm bool) error {
	ctx, cancel := context.WithTimeout(s.ctx, s.syncTO)
	defer cancel()
	start := int64(time.Since(s.epoch))
	if err := s.forEachNode(ctx, s.scanNode); err != nil {
		return err
	}
	if confirm {
		s.confirm(start)
	}
	return nil
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
// the mirror, one SCAN batch at a time, reading values with pipelined GETs.
// Keys under the prefix that are neither a hex id nor "subject:" and a hex
// id are left alone, as are subject values this package did not write.
func (s *Store) scanNode(ctx context.Context, c redis.Cmdable, addr string) error {
	match := globEscape(s.prefix) + "*"
	var (
		cursor   uint64
		keys     []string // token keys, then subject keys
		cmds     []*redis.StringCmd
		entries  []mirrorEntry
		subjects []subjectEntry
	)
	for {
		found, next, err := c.Scan(ctx, cursor, match, scanCount).Result()
		if err != nil {
			return fmt.Errorf("scan %q on %s: %w", match, addr, err)
		}
		keys, entries, subjects = keys[:0], entries[:0], subjects[:0]
		for _, k := range found {
			if id, ok := parseID(strings.TrimPrefix(k, s.prefix)); ok {
				keys = append(keys, k)
				entries = append(entries, mirrorEntry{key: s.mirror.key(&id)})
			}
		}
		for _, k := range found {
			if h, ok := strings.CutPrefix(strings.TrimPrefix(k, s.prefix), subjectInfix); ok {
				if id, ok := parseID(h); ok {
					keys = append(keys, k)
					subjects = append(subjects, subjectEntry{id: id})
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
					continue // expired since SCAN; merge skips exp 0, mergeSubjects until 0
				}
				if err != nil {
					return fmt.Errorf("get %q on %s: %w", keys[i], addr, err)
				}
				if i >= len(entries) {
					subjects[i-len(entries)].cut, _ = parseSubjectCut(v)
					continue
				}
				if entries[i].exp, err = strconv.ParseInt(v, 10, 64); err != nil {
					// Not written by this package: trust the key's TTL.
					if entries[i].exp, err = foreignExpiry(ctx, c, keys[i], nowMs); err != nil {
						return err
					}
				}
			}
			s.mirror.merge(entries, nowMs)
			s.mirror.mergeSubjects(subjects, nowMs)
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
