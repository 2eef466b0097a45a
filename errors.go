package authix

import "errors"

// The errors authix returns. Every other error it returns wraps one of these,
// so callers test them with errors.Is; the wrapped detail is for logs and is
// never sent to clients.
var (
	// ErrMissingToken means the request carried no access token in any
	// enabled source.
	ErrMissingToken = errors.New("authix: missing access token")

	// ErrInvalidToken means a token failed authentication or could not be
	// decoded: malformed, tampered with, sealed with an unknown key, oversized,
	// dated too far in the future, or carrying a payload of the wrong shape.
	ErrInvalidToken = errors.New("authix: invalid access token")

	// ErrExpiredToken means an authentic token is older than the TTL. Only a
	// token whose MAC verified is ever reported as expired.
	ErrExpiredToken = errors.New("authix: expired access token")

	// ErrRevokedToken means an authentic, unexpired token was disabled with
	// DisableAccessToken.
	ErrRevokedToken = errors.New("authix: revoked access token")

	// ErrRevocationStore means the revocation store failed. The request is
	// rejected (fail closed); the store's own error is wrapped too.
	ErrRevocationStore = errors.New("authix: revocation store failed")

	// ErrUnsupportedPayload means the payload type cannot be carried by JSON
	// (func, chan, complex, unsafe.Pointer, a map with an unsupported key type,
	// also deep inside a struct). The wrapping error names the field path.
	ErrUnsupportedPayload = errors.New("authix: unsupported payload type")

	// ErrPayloadType means a payload's dynamic type is not the one the vault
	// recorded (New[any] auto mode), or the payload is nil.
	ErrPayloadType = errors.New("authix: payload type mismatch")

	// ErrTokenTooLarge means a sealed token, or the Set-Cookie header that
	// would carry it, exceeds MaxTokenSize bytes.
	ErrTokenTooLarge = errors.New("authix: access token too large")

	// ErrCrossOrigin means a cookie-authenticated request with an unsafe
	// method came from another origin (see WithCrossOriginProtection).
	ErrCrossOrigin = errors.New("authix: cross-origin request")

	// ErrForbidden means an authenticated request's payload does not
	// satisfy a Require guard. DefaultErrorHandler answers 403.
	ErrForbidden = errors.New("authix: forbidden")

	// ErrSessionEnded means a sliding session's renewal found that the
	// session must end: the WithRenewal callback failed (its error is
	// wrapped). The session is revoked.
	ErrSessionEnded = errors.New("authix: session ended")

	// ErrStepUp means an authenticated request needs a more recent
	// authentication than its token's (RequireConfirmed): the user
	// confirms their password, and the app calls Confirm.
	ErrStepUp = errors.New("authix: a more recent authentication is required")

	// ErrInvalidOption means New was given a configuration it cannot use; the
	// wrapping error says which option and what to fix.
	ErrInvalidOption = errors.New("authix: invalid option")
)
