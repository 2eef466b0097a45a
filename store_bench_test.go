package authix

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"runtime"
	"testing"
	"time"
)

const liveEntries = 1_000_000

func storeIDs(n int) []string {
	ids := make([]string, n)
	var buf [8]byte
	for i := range ids {
		binary.LittleEndian.PutUint64(buf[:], uint64(i))
		sum := sha256.Sum256(buf[:])
		ids[i] = hex.EncodeToString(sum[:])
	}
	return ids
}

// filledStore holds liveEntries revocations whose expiries spread over the
// hour after start, as logouts during an hour of 1-hour tokens would.
func filledStore(clk *fakeClock, ids []string) *MemoryStore {
	m := NewMemoryStore(clk.now)
	start := clk.now()
	for i, id := range ids {
		m.Revoke(context.Background(), id, start.Add(time.Duration(i%3600+60)*time.Second))
	}
	return m
}

func BenchmarkMemoryStoreIsRevoked(b *testing.B) {
	clk := &fakeClock{t: time.Now()}
	ids := storeIDs(liveEntries)
	m := filledStore(clk, ids)
	m.now = time.Now
	ctx := context.Background()
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		if ok, _ := m.IsRevoked(ctx, ids[i%len(ids)]); !ok {
			b.Fatalf("id %d not revoked (now %v)", i, time.Now())
		}
		i++
	}
}

func BenchmarkMemoryStoreRevoke(b *testing.B) {
	clk := &fakeClock{t: time.Unix(1_800_000_000, 0)}
	ids := storeIDs(liveEntries)
	m := filledStore(clk, ids)
	ctx := context.Background()
	fresh := storeIDs(2 * liveEntries)[liveEntries:]
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		// A thousand new revocations a second: old entries expire and are
		// swept as new ones arrive.
		if i%1000 == 0 {
			clk.add(time.Second)
		}
		m.Revoke(ctx, fresh[i%len(fresh)], clk.now().Add(time.Hour))
		i++
	}
}

func TestMemoryStoreBytesPerEntry(t *testing.T) {
	if testing.Short() || raceEnabled {
		t.Skip("fills a million entries; too slow for -short and -race")
	}
	clk := &fakeClock{t: time.Unix(1_800_000_000, 0)}
	ids := storeIDs(liveEntries)
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	m := filledStore(clk, ids)
	runtime.GC()
	runtime.ReadMemStats(&after)
	per := float64(after.HeapAlloc-before.HeapAlloc) / float64(m.Len())
	t.Logf("%.1f bytes of heap per live revocation (%d entries)", per, m.Len())
	if per > 64 {
		t.Errorf("%.1f bytes per live revocation, want at most 64", per)
	}
	runtime.KeepAlive(m)
	runtime.KeepAlive(ids)
}
