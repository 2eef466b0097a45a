package authix

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/fernet/fernet-go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

type specVector struct {
	Desc   string    `json:"desc"`
	Token  string    `json:"token"`
	Now    time.Time `json:"now"`
	IV     []byte    `json:"-"`
	IVInts []int     `json:"iv"`
	TTL    int       `json:"ttl_sec"`
	Src    string    `json:"src"`
	Secret string    `json:"secret"`
}

func loadVectors(t testing.TB, name string) []specVector {
	t.Helper()
	data, err := os.ReadFile("testdata/fernet-spec/" + name)
	require.NoError(t, err)
	var vs []specVector
	require.NoError(t, json.Unmarshal(data, &vs))
	require.NotEmpty(t, vs)
	for i := range vs {
		for _, b := range vs[i].IVInts {
			vs[i].IV = append(vs[i].IV, byte(b))
		}
	}
	return vs
}

func specFernet(t testing.TB, v specVector) *Fernet {
	t.Helper()
	k, err := fernet.DecodeKey(v.Secret)
	require.NoError(t, err)
	return newFernet(time.Duration(v.TTL)*time.Second, []*fernet.Key{k})
}

func TestFernetSpecGenerate(t *testing.T) {
	for _, v := range loadVectors(t, "generate.json") {
		f := specFernet(t, v)
		s := f.scratch.Get().(*fernetScratch)
		copy(s.raw[fernetIVOff:], v.IV)
		n := f.seal(s, []byte(v.Src), v.Now.Unix())
		assert.Equal(t, v.Token, b64.EncodeToString(s.raw[:n]))
	}
}

func TestFernetSpecVerify(t *testing.T) {
	for _, v := range loadVectors(t, "verify.json") {
		f := specFernet(t, v)
		plain, info, err := f.Open(nil, v.Token, v.Now)
		require.NoError(t, err)
		assert.Equal(t, v.Src, string(plain))
		assert.Equal(t, 0, info.KeyIndex)
	}
}

func TestFernetSpecInvalid(t *testing.T) {
	for _, v := range loadVectors(t, "invalid.json") {
		t.Run(v.Desc, func(t *testing.T) {
			f := specFernet(t, v)
			plain, _, err := f.Open(nil, v.Token, v.Now)
			require.Error(t, err)
			assert.Empty(t, plain)
			if v.Desc == "expired TTL" {
				assert.ErrorIs(t, err, ErrExpiredToken)
			} else {
				assert.ErrorIs(t, err, ErrInvalidToken)
			}
		})
	}
}

func TestFernetInteropWithFernetGo(t *testing.T) {
	keys := []string{GenerateKey(), GenerateKey(), GenerateKey()}
	theirs := fernet.MustDecodeKeys(keys...)
	msg := []byte(`{"id":1,"is_admin":true,"name":"John"}`)

	t.Run("fernet-go seals, authix opens with the key last", func(t *testing.T) {
		tok, err := fernet.EncryptAndSign(msg, theirs[2])
		require.NoError(t, err)
		f, err := NewFernet(time.Hour, keys...)
		require.NoError(t, err)
		plain, info, err := f.Open(nil, string(tok), time.Now())
		require.NoError(t, err)
		assert.Equal(t, msg, plain)
		assert.Equal(t, 2, info.KeyIndex)
	})
	t.Run("authix seals with a rotated list, fernet-go opens", func(t *testing.T) {
		// The new key seals; fernet-go holds it second.
		f, err := NewFernet(time.Hour, keys[1]+","+keys[0])
		require.NoError(t, err)
		tok, _, err := f.Seal(nil, msg, time.Now())
		require.NoError(t, err)
		got := fernet.VerifyAndDecrypt(tok, time.Hour, []*fernet.Key{theirs[0], theirs[1]})
		assert.Equal(t, msg, got)
		assert.Nil(t, fernet.VerifyAndDecrypt(tok, time.Hour, []*fernet.Key{theirs[2]}))
	})
}

func TestFernetKeys(t *testing.T) {
	k := GenerateKey()
	assert.Len(t, k, 44)
	_, err := fernet.DecodeKey(k)
	require.NoError(t, err)

	for name, keys := range map[string][]string{
		"empty string": {""},
		"only commas":  {" , ,"},
		"short key":    {"c2hvcnQ="},
		"not base64":   {"not a key at all, really not a key at all!!"},
		"second bad":   {k + ",AAAA"},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := NewFernet(time.Hour, keys...)
			require.ErrorIs(t, err, ErrInvalidOption)
			for _, s := range splitKeys(keys) {
				if len(s) > 4 {
					assert.NotContains(t, err.Error(), s, "errors never echo a key")
				}
			}
		})
	}
	_, err = NewFernet(0, k)
	require.ErrorIs(t, err, ErrInvalidOption)
	_, err = NewFernet(500*time.Millisecond, k)
	require.ErrorIs(t, err, ErrInvalidOption)

	f, err := NewFernet(time.Hour, k)
	require.NoError(t, err)
	for _, s := range []string{f.String(), fmt.Sprintf("%#v", f)} {
		assert.NotContains(t, s, k)
		assert.Contains(t, s, "keys: 1")
	}
}

// sealRaw builds an authentic token around ct, which is encrypted as is,
// without padding; it lets tests reach the checks after the MAC.
func sealRaw(t testing.TB, key *fernet.Key, ts time.Time, body []byte) string {
	t.Helper()
	require.Zero(t, len(body)%aes.BlockSize)
	raw := make([]byte, fernetCTOff, fernetCTOff+len(body)+sha256.Size)
	raw[0] = fernetVersion
	binary.BigEndian.PutUint64(raw[fernetTSOff:], uint64(ts.Unix()))
	iv := raw[fernetIVOff:fernetCTOff]
	block, err := aes.NewCipher(key[16:])
	require.NoError(t, err)
	ct := make([]byte, len(body))
	cipher.NewCBCEncrypter(block, iv).CryptBlocks(ct, body)
	raw = append(raw, ct...)
	mac := hmac.New(sha256.New, key[:16])
	mac.Write(raw)
	raw = mac.Sum(raw)
	return b64.EncodeToString(raw)
}

func TestFernetOpenRejects(t *testing.T) {
	key := new(fernet.Key)
	require.NoError(t, key.Generate())
	f := newFernet(time.Hour, []*fernet.Key{key})
	now := time.Unix(1_800_000_000, 0)
	good, _, err := f.Seal(nil, []byte("hello"), now)
	require.NoError(t, err)

	block := func(last byte) []byte {
		b := []byte(strings.Repeat("a", aes.BlockSize))
		b[len(b)-1] = last
		return b
	}
	cases := []struct {
		name  string
		token string
		want  error
	}{
		{"empty", "", ErrInvalidToken},
		{"one char", "g", ErrInvalidToken},
		{"too long", strings.Repeat("A", MaxTokenSize+4), ErrInvalidToken},
		{"standard base64", strings.NewReplacer("-", "+", "_", "/").Replace(string(good)) + "+/", ErrInvalidToken},
		{"no padding", strings.TrimRight(string(good), "="), ErrInvalidToken},
		{"padding byte zero", sealRaw(t, key, now, block(0)), ErrInvalidToken},
		{"padding byte 17", sealRaw(t, key, now, block(17)), ErrInvalidToken},
		{"padding bytes differ", sealRaw(t, key, now, append(block(2)[:14:14], 1, 2)), ErrInvalidToken},
		{"empty body", sealRaw(t, key, now, nil), ErrInvalidToken},
		{"future beyond skew", sealRaw(t, key, now.Add(61*time.Second), block(1)), ErrInvalidToken},
		{"expired by a second", sealRaw(t, key, now.Add(-time.Hour-time.Second), block(1)), ErrExpiredToken},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			plain, _, err := f.Open(nil, c.token, now)
			assert.ErrorIs(t, err, c.want)
			assert.Empty(t, plain)
		})
	}
	t.Run("within skew and at expiry", func(t *testing.T) {
		_, _, err := f.Open(nil, sealRaw(t, key, now.Add(60*time.Second), block(1)), now)
		require.NoError(t, err)
		_, _, err = f.Open(nil, sealRaw(t, key, now.Add(-time.Hour), block(1)), now)
		require.NoError(t, err)
	})
	t.Run("every truncation and bit flip", func(t *testing.T) {
		for i := range len(good) {
			_, _, err := f.Open(nil, string(good[:i]), now)
			require.ErrorIs(t, err, ErrInvalidToken, "truncated to %d", i)
		}
		raw, err := b64.DecodeString(string(good))
		require.NoError(t, err)
		for i := range raw {
			for bit := range 8 {
				flipped := append([]byte(nil), raw...)
				flipped[i] ^= 1 << bit
				_, _, err := f.Open(nil, b64.EncodeToString(flipped), now)
				require.ErrorIs(t, err, ErrInvalidToken, "byte %d bit %d", i, bit)
			}
		}
	})
}

func TestFernetOpenDoesNotAllocate(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts are not meaningful under the race detector")
	}
	f, err := NewFernet(time.Hour)
	require.NoError(t, err)
	now := time.Now()
	tok, _, err := f.Seal(nil, []byte(`{"id":1,"is_admin":true,"name":"John"}`), now)
	require.NoError(t, err)
	token := string(tok)
	dst := make([]byte, 0, 256)
	allocs := testing.AllocsPerRun(100, func() {
		if _, _, err := f.Open(dst[:0], token, now); err != nil {
			t.Fatal(err)
		}
	})
	assert.Zero(t, allocs)
}

func TestTokenInfoIDIgnoresEncoding(t *testing.T) {
	f, err := NewFernet(time.Hour)
	require.NoError(t, err)
	now := time.Now()
	tok, _, err := f.Seal(nil, []byte("x"), now)
	require.NoError(t, err)
	_, a, err := f.Open(nil, string(tok), now)
	require.NoError(t, err)
	// The decoder skips line breaks; the ID must not change with them.
	_, b, err := f.Open(nil, string(tok[:10])+"\r\n"+string(tok[10:]), now)
	require.NoError(t, err)
	assert.Equal(t, a.ID, b.ID)
	other, _, err := f.Seal(nil, []byte("x"), now)
	require.NoError(t, err)
	_, c, err := f.Open(nil, string(other), now)
	require.NoError(t, err)
	assert.NotEqual(t, a.ID, c.ID)
}
