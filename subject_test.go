package authix_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"
	"time"

	"github.com/authix-go/authix"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func userSubject(u User) string { return strconv.Itoa(u.ID) }

// LogoutEverywhere refuses every earlier token of the subject, Python's
// included, leaves other subjects alone, accepts a login in the same
// second, and is forgotten once no such token can be accepted.
func TestLogoutEverywhere(t *testing.T) {
	t.Parallel()
	clk := newFakeClock(testEpoch.Add(300 * time.Millisecond))
	store := authix.NewMemoryStore(clk.Now)
	v, err := authix.New[User](authix.WithKeys(keyA), authix.WithClock(clk.Now), authix.WithRevocationStore(store),
		authix.WithSubject(userSubject), authix.WithSliding(0))
	require.NoError(t, err)
	ctx := context.Background()

	b := newBrowser(t, v) // user 7, a sliding session
	phone, _, err := v.IssueAccessToken(User{ID: 7}, authix.RememberMe(true))
	require.NoError(t, err)
	other, err := v.CreateAccessToken(User{ID: 8})
	require.NoError(t, err)
	f, err := authix.NewFernet(time.Hour, keyA)
	require.NoError(t, err)
	py, _, err := f.Seal(nil, []byte(`{"id":7,"name":"from Python"}`), clk.Now()) // no sealed lifetime
	require.NoError(t, err)
	clk.Advance(31 * time.Minute)
	_, set := b.get()
	require.Equal(t, 1, set, "renewed once before the logout")

	clk.Advance(100 * time.Millisecond)
	require.NoError(t, v.LogoutEverywhere(ctx, "7"))
	for name, tok := range map[string]string{"browser": b.token, "first browser token": b.tokens[0], "phone": phone, "Python": string(py)} {
		_, err := v.Authenticate(cookieRequest(tok))
		assert.ErrorIs(t, err, authix.ErrRevokedToken, name)
		reason, _ := authix.Reason(err)
		assert.Equal(t, authix.ReasonSubject, reason, name)
	}
	status, _ := b.get()
	assert.Equal(t, http.StatusUnauthorized, status, "no renewal brings the session back")
	_, err = v.Authenticate(cookieRequest(other))
	assert.NoError(t, err, "another subject is untouched")

	clk.Advance(time.Millisecond) // the same second
	again := httptest.NewRecorder()
	require.NoError(t, v.SetAccessToken(again, User{ID: 7}))
	_, err = v.Authenticate(cookieRequest(again.Result().Cookies()[0].Value))
	assert.NoError(t, err, "a login right after, in the same second, is accepted")
	clk.Advance(time.Second) // Python's tokens count from the start of their second
	pyLater, _, err := f.Seal(nil, []byte(`{"id":7,"name":"from Python"}`), clk.Now())
	require.NoError(t, err)
	_, err = v.Authenticate(cookieRequest(string(pyLater)))
	assert.NoError(t, err, "a Python token issued after the logout is accepted")

	cut, err := store.SubjectCutoff(ctx, subjectIDOf(t, v, "7"))
	require.NoError(t, err)
	assert.False(t, cut.IsZero())
	clk.Advance(authix.DefaultRememberMe + time.Hour)
	cut, err = store.SubjectCutoff(ctx, subjectIDOf(t, v, "7"))
	require.NoError(t, err)
	assert.True(t, cut.IsZero(), "gone once no such token can be accepted")

	plain, err := authix.New[User]()
	require.NoError(t, err)
	assert.ErrorIs(t, plain.LogoutEverywhere(ctx, "7"), authix.ErrInvalidOption)
	_, err = authix.New[User](authix.WithSubject(userSubject), authix.WithRevocationStore(failingStore{}))
	assert.ErrorIs(t, err, authix.ErrInvalidOption, "a store without SubjectStore")
	_, err = authix.New[User](authix.WithSubject(func(m map[string]string) string { return m["id"] }))
	assert.ErrorIs(t, err, authix.ErrInvalidOption, "a subject function of another type")
}

// subjectIDOf finds the SubjectID a vault gives subject, through a store
// that records what it is asked.
func subjectIDOf(t *testing.T, _ *authix.Vault[User], subject string) authix.SubjectID {
	t.Helper()
	rec := &subjectRecorder{MemoryStore: authix.NewMemoryStore(nil)}
	v, err := authix.New[User](authix.WithKeys(keyA), authix.WithRevocationStore(rec), authix.WithSubject(userSubject))
	require.NoError(t, err)
	require.NoError(t, v.LogoutEverywhere(context.Background(), subject))
	return rec.last
}

type subjectRecorder struct {
	*authix.MemoryStore
	last authix.SubjectID
}

func (s *subjectRecorder) RevokeSubject(ctx context.Context, id authix.SubjectID, cutoff, until time.Time) error {
	s.last = id
	return s.MemoryStore.RevokeSubject(ctx, id, cutoff, until)
}
