package redisstore

import (
	"context"
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/authix-go/authix/redisstore/mirror"
)

// maxDevices is how many session records a subject keeps, as authix's
// MaxDevices says.
const maxDevices = 32

// devicesInfix follows the key prefix in the key of a subject's session
// records, before the subject id in lowercase hex. Full syncs leave such
// keys alone.
const devicesInfix = "devices:"

// saveDeviceScript records one session of a subject, in a hash whose fields
// are the sessions and whose values are "<until ms> <record>", and in the
// same step drops the records whose until has passed and, past
// ARGV[3] records, those of other sessions that end first. The hash lives as long as its
// latest record. KEYS[1] is the hash; ARGV[1] the session, ARGV[2] the
// value, ARGV[3] the bound, ARGV[4] now in Unix milliseconds and ARGV[5] how
// long Redis must keep the hash in milliseconds.
var saveDeviceScript = redis.NewScript(`
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
local now, kept = tonumber(ARGV[4]), {}
local all = redis.call('HGETALL', KEYS[1])
for i = 1, #all, 2 do
	local u = tonumber(string.match(all[i + 1], '^(%d+) '))
	if u == nil or u < now then
		redis.call('HDEL', KEYS[1], all[i])
	elseif all[i] ~= ARGV[1] then
		kept[#kept + 1] = {all[i], u}
	end
end
while #kept >= tonumber(ARGV[3]) do
	local first = 1
	for i = 2, #kept do
		if kept[i][2] < kept[first][2] then first = i end
	end
	redis.call('HDEL', KEYS[1], kept[first][1])
	table.remove(kept, first)
end
if redis.call('PTTL', KEYS[1]) < tonumber(ARGV[5]) then
	redis.call('PEXPIRE', KEYS[1], ARGV[5])
end
return #kept + 1
`)

// SaveDevice records a session's record for subject until until, replacing
// its earlier one, and keeps at most 32 records per subject, dropping those
// of other sessions that end first; it satisfies authix's optional DeviceStore interface. The
// records live in one hash per subject, prefix+"devices:"+hex(subject),
// written in one Lua script; they are read from Redis, not mirrored, since
// only a "your devices" page asks for them. An until before the clock's now
// records nothing. It is safe for concurrent use.
func (s *Store) SaveDevice(ctx context.Context, subject, session [32]byte, record []byte, until time.Time) error {
	if s.closed.Load() {
		return ErrClosed
	}
	now := s.clock()
	if until.Before(now) {
		return nil
	}
	untilMs := mirror.CeilMilli(until)
	keepMs := untilMs - now.UnixMilli() + ClockMargin.Milliseconds()
	err := saveDeviceScript.Run(ctx, s.client, []string{s.devicesKey(subject)}, hex.EncodeToString(session[:]),
		strconv.FormatInt(untilMs, 10)+" "+string(record), maxDevices, now.UnixMilli(), keepMs).Err()
	if err != nil {
		return fmt.Errorf("%w: save a device of subject %x: %w", ErrRevokeFailed, subject[:4], err)
	}
	return nil
}

// Devices returns the records of subject whose until has not passed by the
// clock's now (HGETALL), or an error wrapping ErrUnavailable.
func (s *Store) Devices(ctx context.Context, subject [32]byte) ([][]byte, error) {
	if s.closed.Load() {
		return nil, ErrClosed
	}
	all, err := s.client.HGetAll(ctx, s.devicesKey(subject)).Result()
	if err != nil {
		return nil, fmt.Errorf("%w: read the devices of subject %x: %w", ErrUnavailable, subject[:4], err)
	}
	nowMs := s.clock().UnixMilli()
	var out [][]byte
	for _, v := range all {
		us, rec, ok := strings.Cut(v, " ")
		if u, err := strconv.ParseInt(us, 10, 64); ok && err == nil && u >= nowMs {
			out = append(out, []byte(rec))
		}
	}
	return out, nil
}

// DeleteDevice removes a session's record (HDEL); an unknown one is no
// error.
func (s *Store) DeleteDevice(ctx context.Context, subject, session [32]byte) error {
	if s.closed.Load() {
		return ErrClosed
	}
	if err := s.client.HDel(ctx, s.devicesKey(subject), hex.EncodeToString(session[:])).Err(); err != nil {
		return fmt.Errorf("%w: delete a device of subject %x: %w", ErrRevokeFailed, subject[:4], err)
	}
	return nil
}

func (s *Store) devicesKey(subject [32]byte) string {
	return s.prefix + devicesInfix + hex.EncodeToString(subject[:])
}
