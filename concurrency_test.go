package authix_test

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/authix-go/authix"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// issuedToken is a token and the payload it carries.
type issuedToken struct {
	tok string
	u   User
}

// tokenRing is a fixed-size ring of issued tokens that goroutines publish to
// and sample from. Publishing is an atomic store, so a reader that sees an
// entry also sees everything its writer did before publishing it.
type tokenRing struct {
	next  atomic.Uint64
	slots [1024]atomic.Pointer[issuedToken]
}

func (r *tokenRing) put(e *issuedToken) {
	r.slots[r.next.Add(1)%uint64(len(r.slots))].Store(e)
}

func (r *tokenRing) sample(rng *rand.Rand) *issuedToken {
	n := r.next.Load()
	if n == 0 {
		return nil
	}
	if n > uint64(len(r.slots)) {
		n = uint64(len(r.slots))
	}
	return r.slots[(rng.Uint64N(n)+1)%uint64(len(r.slots))].Load()
}

// viaInterface hides the concrete store type, so a Vault must go through
// the RevocationStore methods.
type viaInterface struct{ authix.RevocationStore }

// TestConcurrentIssueCheckRevoke issues, checks and revokes tokens from many
// goroutines at once, on one vault and on two vaults that share keys and a
// revocation store (one through the store's interface, one directly), while
// a fake clock moves. It holds that a token revoked by a returned
// DisableAccessToken is never accepted again, by either vault, that a token
// never revoked is never rejected, and that the store empties once every
// token has expired.
func TestConcurrentIssueCheckRevoke(t *testing.T) {
	const (
		minOps = 100_000
		drift  = 30 * time.Minute // how far the clock moves during the run; less than the TTL
	)
	workers := max(8, runtime.GOMAXPROCS(0))

	for _, shared := range []bool{false, true} {
		name := "one vault"
		if shared {
			name = "two vaults sharing a store"
		}
		t.Run(name, func(t *testing.T) {
			clock := newFakeClock(testEpoch)
			mem := authix.NewMemoryStore(clock.Now)
			newVault := func(store authix.RevocationStore) *authix.Vault[User] {
				v, err := authix.New[User](authix.WithKeys(keyA), authix.WithClock(clock.Now), authix.WithRevocationStore(store))
				require.NoError(t, err)
				return v
			}
			vaults := []*authix.Vault[User]{newVault(mem)}
			if shared {
				// The second vault reaches the same store through the
				// RevocationStore interface (hex ids), the first directly.
				vaults = append(vaults, newVault(viaInterface{mem}))
			}

			var (
				ops, revokedN, failures atomic.Int64
				kept, revoked           tokenRing
				wg                      sync.WaitGroup
			)
			fail := func(format string, args ...any) {
				if failures.Add(1) <= 10 {
					t.Errorf(format, args...)
				}
			}
			start := time.Now()
			for w := range workers {
				wg.Go(func() {
					rng := rand.New(rand.NewPCG(uint64(w), 42))
					// Until the workers together have done minOps operations.
					for i := 0; ops.Load() < minOps; i++ {
						if failures.Load() > 0 {
							return
						}
						// The clock moves a second at a time, up to about
						// drift, so revocations land in many expiry seconds.
						if i%7 == 0 && clock.Now().Before(testEpoch.Add(drift)) {
							clock.Advance(time.Second)
						}
						v := vaults[(w+i)%len(vaults)]
						other := vaults[(w+i+1)%len(vaults)]
						u := User{ID: w*1_000_000 + i, Name: fmt.Sprintf("w%d-%d", w, i)}

						tok, err := v.CreateAccessToken(u)
						ops.Add(1)
						if err != nil {
							fail("issue: %v", err)
							return
						}
						got, err := other.Authenticate(cookieRequest(tok))
						ops.Add(1)
						if err != nil || got != u {
							fail("fresh token rejected: %v (got %+v, want %+v)", err, got, u)
							return
						}
						if i%2 == 0 {
							disabled, err := v.IsTokenDisabled(t.Context(), tok)
							ops.Add(1)
							if err != nil || disabled {
								fail("fresh token reported disabled: %v %v", disabled, err)
								return
							}
							kept.put(&issuedToken{tok, u})
						} else {
							if err := v.DisableAccessToken(t.Context(), tok); err != nil {
								fail("revoke: %v", err)
								return
							}
							revokedN.Add(1)
							ops.Add(1)
							revoked.put(&issuedToken{tok, u})
							_, err := other.Authenticate(cookieRequest(tok))
							ops.Add(1)
							if !errors.Is(err, authix.ErrRevokedToken) {
								fail("token accepted right after DisableAccessToken returned: %v", err)
								return
							}
							disabled, err := other.IsTokenDisabled(t.Context(), tok)
							ops.Add(1)
							if err != nil || !disabled {
								fail("revoked token not reported disabled: %v %v", disabled, err)
								return
							}
						}
						// Tokens other goroutines issued and revoked.
						for range 2 {
							if e := revoked.sample(rng); e != nil {
								got, err := vaults[rng.IntN(len(vaults))].Authenticate(cookieRequest(e.tok))
								ops.Add(1)
								if !errors.Is(err, authix.ErrRevokedToken) {
									fail("revoked token %d accepted: %+v, %v", e.u.ID, got, err)
									return
								}
							}
							if e := kept.sample(rng); e != nil {
								got, err := vaults[rng.IntN(len(vaults))].Authenticate(cookieRequest(e.tok))
								ops.Add(1)
								if err != nil || got != e.u {
									fail("valid token %d rejected: %v", e.u.ID, err)
									return
								}
							}
						}
					}
				})
			}
			wg.Wait()
			elapsed := time.Since(start)
			t.Logf("%d goroutines, %d operations (%d revocations) in %v; clock moved %v",
				workers, ops.Load(), revokedN.Load(), elapsed.Round(time.Millisecond), clock.Now().Sub(testEpoch))
			require.Zero(t, failures.Load())

			// Every revocation is still in force: no token has expired yet.
			assert.Equal(t, int(revokedN.Load()), mem.Len())
			// One second past the last possible expiry, the store is empty.
			clock.Set(testEpoch.Add(drift + time.Duration(workers)*time.Second + authix.DefaultTTL + 2*time.Second))
			assert.Zero(t, mem.Len(), "revocations outlived their tokens")
			if e := revoked.sample(rand.New(rand.NewPCG(1, 2))); e != nil {
				_, err := vaults[0].Authenticate(cookieRequest(e.tok))
				assert.ErrorIs(t, err, authix.ErrExpiredToken)
			}
		})
	}
}
