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

// RevocationStore records revoked tokens until they would have expired. A
// revocation holds while the time is not after its expiresAt, that instant
// included; a store may keep an entry longer, never shorter. As in scs, "not
// found" is (false, nil) and errors are for failures only. Implementations
// must be safe for concurrent use.
type RevocationStore interface {
	// Revoke records id as revoked until expiresAt. It returns an error when
	// the revocation was not recorded: a logout must never be silently lost.
	// Revoking an id again keeps the later expiry. An expiresAt before the
	// store's now records nothing and is not an error.
	Revoke(ctx context.Context, id TokenID, expiresAt time.Time) error

	// IsRevoked reports whether id is revoked now. An id that was never
	// revoked is (false, nil), and so is one whose entry the store no
	// longer keeps. The Vault rejects the request on an error (fail closed).
	IsRevoked(ctx context.Context, id TokenID) (bool, error)
}

// SubjectID names a subject (a user) to a store: the SHA-256 of the
// subject WithSubject returns, under a label, so no user id or email ever
// reaches a store. Like TokenID it is an alias of [32]byte.
type SubjectID = [32]byte

// SubjectStore is an optional interface of a RevocationStore, found by type
// assertion, that LogoutEverywhere needs.
type SubjectStore interface {
	// RevokeSubject records a new cut-off for subject, which refuses every
	// token issued under an earlier one, and keeps the record until, after
	// which no such token can be accepted anyway. The cut-off only moves
	// forward: when the store holds one at or after cutoff, it records the
	// held one plus one microsecond instead, so that a logout written by a
	// replica whose clock runs behind still refuses the tokens issued before
	// it. The later until is kept. It must be one atomic step in a shared
	// store. An until before the store's now records nothing and is not an
	// error.
	RevokeSubject(ctx context.Context, subject SubjectID, cutoff, until time.Time) error

	// SubjectCutoff returns the cutoff recorded for subject, or the zero
	// time when there is none (or it has run out); errors are for system
	// failures only. A vault reads it at login and seals it into the token;
	// a store whose answer may be older than the cut-off in force must
	// return an error rather than the older answer.
	SubjectCutoff(ctx context.Context, subject SubjectID) (time.Time, error)
}

// MaxDevices is how many sessions a DeviceStore keeps for one subject at
// most; past it, the record of another session that ends first goes, so
// the session just saved is always kept.
const MaxDevices = 32

// DeviceStore is an optional interface of a RevocationStore, found by type
// assertion, that lets a vault list a subject's sessions ("your devices").
// The records are the vault's, opaque to the store. Without it, sessions
// work as before and Devices fails.
type DeviceStore interface {
	// SaveDevice records session's record for subject until until,
	// replacing its earlier record, and keeps at most MaxDevices records
	// per subject. An until before the store's now records nothing.
	SaveDevice(ctx context.Context, subject SubjectID, session TokenID, record []byte, until time.Time) error

	// Devices returns the records of subject whose until has not passed.
	Devices(ctx context.Context, subject SubjectID) ([][]byte, error)

	// DeleteDevice removes session's record; an unknown one is no error.
	DeleteDevice(ctx context.Context, subject SubjectID, session TokenID) error
}
