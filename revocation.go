package authix

import (
	"context"
	"time"
)

// TokenID identifies a token for revocation: the SHA-256 of the token's
// authentication tag, so it is the same for every encoding of one token and
// carries no token bytes. It is an alias of [32]byte, so that a store in a
// module of its own satisfies RevocationStore without importing authix.
type TokenID = [32]byte

// RevocationStore records revoked tokens until they would have expired.
//
// The boundary is one rule everywhere: a token is accepted while the time is
// not after its expiry, so a revocation holds while the time is not after
// its expiresAt, that instant included. A store may keep an entry longer
// (rounding expiries up), never shorter.
//
// Implementations must be safe for concurrent use. The contract follows
// scs: "not found" is (false, nil), errors are for system failures only.
type RevocationStore interface {
	// Revoke records id as revoked until expiresAt. It returns an error when
	// the revocation was not recorded: a logout must never be silently lost.
	// Revoking an id again keeps the later expiry. An expiresAt before the
	// store's now records nothing and is not an error.
	Revoke(ctx context.Context, id TokenID, expiresAt time.Time) error

	// IsRevoked reports whether id is revoked now. An id that was never
	// revoked, or whose expiresAt is before now, is (false, nil). The Vault
	// rejects the request on an error (fail closed).
	IsRevoked(ctx context.Context, id TokenID) (bool, error)
}
