package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/authix-go/authix"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

type result struct {
	code           int
	stdout, stderr string
}

// cli runs the command in-process, with stdin as standard input.
func cli(stdin string, args ...string) result {
	var out, errOut bytes.Buffer
	code := run(args, strings.NewReader(stdin), &out, &errOut)
	return result{code, out.String(), errOut.String()}
}

// noKeys clears AUTHIX_KEYS for the test, so that only -keys counts.
func noKeys(t *testing.T) {
	t.Setenv("AUTHIX_KEYS", "")
}

func keygenLines(t *testing.T, n string) []string {
	t.Helper()
	r := cli("", "keygen", "-n", n)
	require.Equal(t, 0, r.code, r.stderr)
	require.Empty(t, r.stderr)
	require.True(t, strings.HasSuffix(r.stdout, "\n"))
	return strings.Split(strings.TrimSuffix(r.stdout, "\n"), "\n")
}

func TestKeygen(t *testing.T) {
	r := cli("", "keygen")
	require.Equal(t, 0, r.code, r.stderr)
	lines := strings.Split(strings.TrimSuffix(r.stdout, "\n"), "\n")
	require.Len(t, lines, 1, "default: one key")

	keys := keygenLines(t, "5")
	require.Len(t, keys, 5)
	seen := map[string]bool{}
	for _, k := range keys {
		assert.False(t, seen[k], "keys are distinct")
		seen[k] = true
		raw, err := base64.URLEncoding.DecodeString(k)
		require.NoError(t, err, "URL-safe base64 with padding, as Python's Fernet.generate_key()")
		assert.Len(t, raw, 32)
		_, err = authix.NewFernet(time.Hour, k)
		assert.NoError(t, err)
		_, err = authix.New[map[string]any](authix.WithKeys(k))
		assert.NoError(t, err)
	}
	// The printed lines, joined with commas, are an AUTHIX_KEYS value.
	_, err := authix.NewFernet(time.Hour, strings.Join(keys, ","))
	assert.NoError(t, err)
}

func TestSealInspectRoundTrip(t *testing.T) {
	noKeys(t)
	keys := keygenLines(t, "2")
	k1, k2 := keys[0], keys[1]
	payload := `{"name": "Jöhn", "id": 12345678901234567890, "admin": true, "roles": ["a", "b"]}`

	sealed := cli("", "seal", "-keys", k1+","+k2, payload)
	require.Equal(t, 0, sealed.code, sealed.stderr)
	token := strings.TrimSuffix(sealed.stdout, "\n")
	assert.NotContains(t, token, "\n", "one line: the token")
	assert.Regexp(t, `^authix seal: issued \S+; expires \S+ \(TTL 1h0m0s, sealed in the token\)\n$`, sealed.stderr)

	// The library opens what the command sealed.
	v, err := authix.New[map[string]any](authix.WithKeys(k2 + "," + k1))
	require.NoError(t, err)
	got, err := v.DecodeAccessToken(token)
	require.NoError(t, err)
	assert.Equal(t, "Jöhn", got["name"])

	for _, tc := range []struct {
		name    string
		keys    string
		keyLine string
	}{
		{"sealing key first", k1 + "," + k2, "key:     1 of 2\n"},
		{"sealing key second", k2 + "," + k1, "key:     2 of 2\n"},
		{"sealing key alone, with spaces", " " + k1 + " ", "key:     1 of 1\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := cli("", "inspect", "-keys", tc.keys, token)
			require.Equal(t, 0, r.code, r.stderr)
			assert.Empty(t, r.stderr)
			assert.Contains(t, r.stdout, "status:  valid\n")
			assert.Contains(t, r.stdout, tc.keyLine)
			assert.Regexp(t, `issued:  \d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ \((now|\d+s ago)\)\n`, r.stdout)
			assert.Regexp(t, `expires: \S+Z \(in \S+; sealed in the token\)\n`, r.stdout)
			assert.Regexp(t, `id:      [0-9a-f]{64}\n`, r.stdout)
			// Keys in their order, numbers as written, indented.
			assert.Contains(t, r.stdout, "payload:\n{\n  \"name\": \"Jöhn\",\n  \"id\": 12345678901234567890,\n  \"admin\": true,\n  \"roles\": [\n    \"a\",\n    \"b\"\n  ]\n}\n")
		})
	}

	t.Run("standard input", func(t *testing.T) {
		s := cli(payload, "seal", "-keys", k1, "-")
		require.Equal(t, 0, s.code, s.stderr)
		r := cli(s.stdout, "inspect", "-", "-keys", k1) // trailing newline, flags after the argument
		require.Equal(t, 0, r.code, r.stderr)
		assert.Contains(t, r.stdout, `"name": "Jöhn"`)
	})

	t.Run("AUTHIX_KEYS when -keys is absent", func(t *testing.T) {
		t.Setenv("AUTHIX_KEYS", k2+","+k1)
		s := cli("", "seal", `{"a":1}`)
		require.Equal(t, 0, s.code, s.stderr)
		r := cli("", "inspect", "-keys", k2, strings.TrimSpace(s.stdout))
		require.Equal(t, 0, r.code, "sealed with the first key of AUTHIX_KEYS: %s", r.stderr)
		r = cli("", "inspect", strings.TrimSpace(sealed.stdout))
		require.Equal(t, 0, r.code, r.stderr)
		assert.Contains(t, r.stdout, "key:     2 of 2\n")
		r = cli("", "inspect", "-keys", k2, strings.TrimSpace(sealed.stdout))
		assert.Equal(t, 1, r.code, "-keys wins over AUTHIX_KEYS")
	})

	t.Run("-- ends the flags", func(t *testing.T) {
		r := cli("", "inspect", "-keys", k1, "--", token)
		assert.Equal(t, 0, r.code, r.stderr)
	})
}

// recordingStore is a RevocationStore that remembers the ids it is given.
type recordingStore struct{ ids []string }

func (s *recordingStore) Revoke(_ context.Context, id authix.TokenID, _ time.Time) error {
	s.ids = append(s.ids, hex.EncodeToString(id[:]))
	return nil
}

func (s *recordingStore) IsRevoked(context.Context, authix.TokenID) (bool, error) { return false, nil }

func TestInspectIDIsTheRevocationID(t *testing.T) {
	noKeys(t)
	key := authix.GenerateKey()
	store := new(recordingStore)
	vault, err := authix.New[map[string]string](authix.WithKeys(key), authix.WithRevocationStore(store))
	require.NoError(t, err)
	token, err := vault.CreateAccessToken(map[string]string{"name": "John"})
	require.NoError(t, err)
	require.NoError(t, vault.DisableAccessToken(context.Background(), token))
	require.Len(t, store.ids, 1)

	r := cli("", "inspect", "-keys", key, token)
	require.Equal(t, 0, r.code, r.stderr)
	assert.Contains(t, r.stdout, "id:      "+store.ids[0]+"\n")
}

func TestSealRefusesPayloads(t *testing.T) {
	noKeys(t)
	key := authix.GenerateKey()
	for _, tc := range []struct{ name, payload, msg string }{
		{"array", `[1,2]`, "payload must be a JSON object, got an array"},
		{"string", `"x"`, "payload must be a JSON object, got a string"},
		{"number", `1`, "payload must be a JSON object, got a number"},
		{"null", `null`, "payload must be a JSON object, got null"},
		{"not JSON", `{name: John}`, "payload is not JSON"},
		{"two objects", `{} {}`, "payload is not JSON"},
		{"empty", ``, "payload is not JSON"},
		{"too large", `{"a":"` + strings.Repeat("x", 4000) + `"}`, "too large"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := cli("", "seal", "-keys", key, tc.payload)
			assert.Equal(t, 1, r.code)
			assert.Empty(t, r.stdout)
			assert.Contains(t, r.stderr, tc.msg)
			assert.Equal(t, 1, strings.Count(r.stderr, "\n"), "one line: %q", r.stderr)
		})
	}
}

func TestInspectRefusesTokens(t *testing.T) {
	noKeys(t)
	key, other := authix.GenerateKey(), authix.GenerateKey()
	s := cli("", "seal", "-keys", key, `{"name":"John"}`)
	require.Equal(t, 0, s.code, s.stderr)
	token := strings.TrimSpace(s.stdout)

	for _, tc := range []struct{ name, keys, token, msg string }{
		{"one character changed", key, tamper(token), "invalid access token"},
		{"another key", other, token, "MAC does not verify"},
		{"truncated", key, token[:len(token)-8], "invalid access token"},
		{"not base64", key, "not a token!", "not URL-safe base64"},
		{"empty", key, "", "invalid access token: empty token"},
		{"oversized", key, strings.Repeat("A", 5000), "invalid access token"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := cli("", "inspect", "-keys", tc.keys, tc.token)
			assert.Equal(t, 1, r.code)
			assert.Empty(t, r.stdout, "nothing about an invalid token")
			assert.True(t, strings.HasPrefix(r.stderr, "authix inspect: "), r.stderr)
			assert.Contains(t, r.stderr, tc.msg)
			assert.Equal(t, 1, strings.Count(r.stderr, "\n"), "one line: %q", r.stderr)
		})
	}
}

// tamper changes one character in the middle of token.
func tamper(token string) string {
	b := []byte(token)
	i := len(b) / 2
	if b[i] == 'A' {
		b[i] = 'B'
	} else {
		b[i] = 'A'
	}
	return string(b)
}

func TestInspectExpired(t *testing.T) {
	noKeys(t)
	key := authix.GenerateKey()
	f, err := authix.NewFernet(time.Hour, key)
	require.NoError(t, err)
	issued := time.Now().Add(-2 * time.Hour).Truncate(time.Second)
	tok, err := f.Seal(nil, []byte(`{"name":"John"}`), issued)
	require.NoError(t, err)

	r := cli("", "inspect", "-keys", key, string(tok))
	assert.Equal(t, 1, r.code, "expired: exit 1")
	assert.Contains(t, r.stdout, "status:  EXPIRED\n")
	assert.Contains(t, r.stdout, "issued:  "+issued.UTC().Format(time.RFC3339)+" (2h0m")
	assert.Contains(t, r.stdout, "expires: "+issued.Add(time.Hour).UTC().Format(time.RFC3339)+" (1h0m")
	assert.Contains(t, r.stdout, " ago; TTL 1h0m0s)\n")
	assert.Contains(t, r.stdout, "key:     1 of 1\n")
	assert.Contains(t, r.stdout, "payload:\n{\n  \"name\": \"John\"\n}\n", "an authentic expired token is still shown")
	assert.Regexp(t, `^authix inspect: token expired 1h0m\d+s ago, at \S+Z\n$`, r.stderr)

	r = cli("", "inspect", "-keys", key, "-ttl", "3h", string(tok))
	assert.Equal(t, 0, r.code, "valid for a reader with a longer TTL: %s", r.stderr)
	assert.Contains(t, r.stdout, "status:  valid\n")
	assert.Contains(t, r.stdout, "; TTL 3h0m0s)\n")

	// A token a vault sealed keeps its lifetime: a reader's longer TTL
	// does not bring it back.
	v, err := authix.New[map[string]string](authix.WithKeys(key), authix.WithClock(func() time.Time { return issued }))
	require.NoError(t, err)
	sealed, err := v.CreateAccessToken(map[string]string{"name": "John"})
	require.NoError(t, err)
	r = cli("", "inspect", "-keys", key, "-ttl", "3h", sealed)
	assert.Equal(t, 1, r.code, "expired by its sealed lifetime")
	assert.Contains(t, r.stdout, "status:  EXPIRED\n")
	assert.Contains(t, r.stdout, "expires: "+issued.Add(time.Hour).UTC().Format(time.RFC3339)+" (1h0m")
	assert.Contains(t, r.stdout, " ago; sealed in the token)\n")
	assert.Contains(t, r.stdout, "payload:\n{\n  \"name\": \"John\"\n}\n")

	// Tampered and expired: invalid, never reported as expired.
	r = cli("", "inspect", "-keys", key, tamper(string(tok)))
	assert.Equal(t, 1, r.code)
	assert.Empty(t, r.stdout)
	assert.NotContains(t, r.stderr, "expired")
}

func TestInspectFutureToken(t *testing.T) {
	noKeys(t)
	key := authix.GenerateKey()
	f, err := authix.NewFernet(time.Hour, key)
	require.NoError(t, err)
	soon, err := f.Seal(nil, []byte(`{}`), time.Now().Add(30*time.Second))
	require.NoError(t, err)
	r := cli("", "inspect", "-keys", key, string(soon))
	require.Equal(t, 0, r.code, "within the allowed clock skew: %s", r.stderr)
	assert.Regexp(t, `issued:  \S+ \(in \d+s\)\n`, r.stdout)

	later, err := f.Seal(nil, []byte(`{}`), time.Now().Add(time.Hour))
	require.NoError(t, err)
	r = cli("", "inspect", "-keys", key, string(later))
	assert.Equal(t, 1, r.code)
	assert.Contains(t, r.stderr, "future")
}

func TestUsage(t *testing.T) {
	noKeys(t)
	key := authix.GenerateKey()
	token := strings.TrimSpace(cli("", "seal", "-keys", key, `{}`).stdout)
	for _, tc := range []struct {
		name string
		args []string
		msg  string
	}{
		{"no command", nil, ""},
		{"unknown command", []string{"frobnicate"}, `unknown command "frobnicate"`},
		{"unknown top-level flag", []string{"-v"}, `unknown flag "-v"`},
		{"help for an unknown command", []string{"help", "frobnicate"}, `unknown command "frobnicate"`},
		{"keygen unknown flag", []string{"keygen", "-x"}, `unknown flag "-x"`},
		{"keygen argument", []string{"keygen", "3"}, "too many arguments"},
		{"keygen -n 0", []string{"keygen", "-n", "0"}, "-n must be between 1 and 1000"},
		{"keygen -n too many", []string{"keygen", "-n", "1001"}, "-n must be between 1 and 1000"},
		{"keygen -n not a number", []string{"keygen", "-n", "three"}, "invalid value"},
		{"keygen -n without value", []string{"keygen", "-n"}, "flag needs an argument"},
		{"seal unknown flag", []string{"seal", "-keys", key, "-x", `{}`}, `unknown flag "-x"`},
		{"seal no payload", []string{"seal", "-keys", key}, "missing JSON payload"},
		{"seal two payloads", []string{"seal", "-keys", key, `{}`, `{}`}, "too many arguments: want 1, got 2"},
		{"seal no keys", []string{"seal", `{}`}, "no keys: give -keys or set AUTHIX_KEYS"},
		{"seal empty -keys", []string{"seal", "-keys", " , ", `{}`}, "-keys holds no keys"},
		{"seal bad key", []string{"seal", "-keys", "c2VjcmV0", `{}`}, "key 1 of 1 is not 32 bytes"},
		{"seal bad ttl", []string{"seal", "-keys", key, "-ttl", "soon", `{}`}, "invalid value"},
		{"seal short ttl", []string{"seal", "-keys", key, "-ttl", "10ms", `{}`}, "TTL must be at least one second"},
		{"inspect unknown flag", []string{"inspect", "--verbose", "-keys", key, token}, `unknown flag "-verbose"`},
		{"inspect no token", []string{"inspect", "-keys", key}, "missing TOKEN"},
		{"inspect two tokens", []string{"inspect", "-keys", key, token, token}, "too many arguments"},
		{"inspect no keys", []string{"inspect", token}, "no keys"},
		{"inspect second key bad", []string{"inspect", "-keys", key + ",nope", token}, "key 2 of 2 is not 32 bytes"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := cli("", tc.args...)
			assert.Equal(t, 2, r.code)
			assert.Empty(t, r.stdout)
			assert.Contains(t, r.stderr, tc.msg)
			assert.Contains(t, r.stderr, "usage: authix")
		})
	}
}

func TestHelp(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"-h"}, "usage: authix <command>"},
		{[]string{"--help"}, "usage: authix <command>"},
		{[]string{"help"}, "usage: authix <command>"},
		{[]string{"help", "seal"}, "usage: authix seal "},
		{[]string{"keygen", "-h"}, "usage: authix keygen "},
		{[]string{"seal", "-h"}, "usage: authix seal "},
		{[]string{"seal", "-keys", "whatever", "-help"}, "usage: authix seal "},
		{[]string{"inspect", "-h"}, "usage: authix inspect "},
		{[]string{"inspect", "--help"}, "usage: authix inspect "},
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			r := cli("", tc.args...)
			assert.Equal(t, 0, r.code)
			assert.True(t, strings.HasPrefix(r.stdout, tc.want), r.stdout)
			assert.Empty(t, r.stderr)
		})
	}
}

// TestNoKeyPrinted runs every command, right and wrong, including keys put
// in the wrong place, and looks for the keys in everything printed.
func TestNoKeyPrinted(t *testing.T) {
	noKeys(t)
	k1, k2 := authix.GenerateKey(), authix.GenerateKey()
	// A key that starts with "-" looks like a flag when misplaced.
	dash := "-" + authix.GenerateKey()[1:]
	token := strings.TrimSpace(cli("", "seal", "-keys", k1, `{"a":1}`).stdout)
	require.NotEmpty(t, token)

	runs := [][]string{
		{"seal", "-keys", k1 + "," + k2, `{"a":1}`},
		{"seal", "-keys", k1, k2, `{"a":1}`}, // space instead of comma
		{"seal", "-keys", k1, dash},
		{"seal", "-keys", k1, `{"key":"` + k2 + `"}`, "extra"},
		{"seal", "-keys", k1 + ";" + k2, `{}`},
		{"seal", "-ttl", k1, `{}`},
		{"inspect", "-keys", k2 + "," + k1, token},
		{"inspect", "-keys", k2, token},
		{"inspect", "-keys", k1, k2},
		{"inspect", "-keys", k1, dash},
		{"inspect", dash, token},
		{"keygen", "-n", k1},
		{k1},
		{dash},
		{"help", k2},
	}
	for _, args := range runs {
		r := cli("", args...)
		for _, k := range []string{k1, k2, dash, dash[1:]} {
			if strings.Contains(r.stdout+r.stderr, k) {
				t.Errorf("authix %d-argument run %q printed a key:\nstdout: %s\nstderr: %s", len(args), args[0], r.stdout, r.stderr)
			}
		}
	}
}

func TestRedact(t *testing.T) {
	key := authix.GenerateKey()
	assert.Equal(t, "bad <key not shown> here", redact("bad "+key+" here"))
	zeroKey := strings.Repeat("A", 43) + "=" // decodes to 32 zero bytes: still a key
	assert.Equal(t, "<key not shown>", redact(zeroKey))
	token := strings.TrimSpace(cli("", "seal", "-keys", key, `{}`).stdout)
	assert.Equal(t, token, redact(token), "tokens are not keys")
	assert.Equal(t, "short=", redact("short="))
	assert.Equal(t, "-keys=<key not shown>, x", redact("-keys="+key+", x"))
	assert.Equal(t, `"<key not shown>"`, redact(`"`+key+`"`))
}

// TestBinary builds the real command and runs keygen, seal and inspect
// through it, as a shell would.
func TestBinary(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the command; skipped with -short")
	}
	bin := filepath.Join(t.TempDir(), "authix")
	if runtime.GOOS == "windows" {
		bin += ".exe"
	}
	goCmd, err := exec.LookPath("go")
	require.NoError(t, err, "the go command, to build authix")
	build := exec.Command(goCmd, "build", "-o", bin, ".")
	out, err := build.CombinedOutput()
	require.NoError(t, err, "go build: %s", out)

	sh := func(stdin string, args ...string) result {
		t.Helper()
		cmd := exec.Command(bin, args...)
		cmd.Env = append(os.Environ(), "AUTHIX_KEYS=")
		cmd.Stdin = strings.NewReader(stdin)
		var stdout, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		err := cmd.Run()
		code := 0
		if ee, ok := err.(*exec.ExitError); ok {
			code = ee.ExitCode()
		} else {
			require.NoError(t, err)
		}
		return result{code, stdout.String(), stderr.String()}
	}

	kg := sh("", "keygen")
	require.Equal(t, 0, kg.code, kg.stderr)
	key := strings.TrimSpace(kg.stdout)
	require.Regexp(t, `^[A-Za-z0-9_-]{43}=$`, key)

	sealed := sh(`{"name":"John","id":1}`, "seal", "-keys", key, "-")
	require.Equal(t, 0, sealed.code, sealed.stderr)
	token := strings.TrimSpace(sealed.stdout)

	ins := sh(token+"\n", "inspect", "-keys", key, "-")
	require.Equal(t, 0, ins.code, ins.stderr)
	assert.Contains(t, ins.stdout, "status:  valid\n")
	assert.Contains(t, ins.stdout, "key:     1 of 1\n")
	assert.Contains(t, ins.stdout, "payload:\n{\n  \"name\": \"John\",\n  \"id\": 1\n}\n")
	assert.NotContains(t, ins.stdout+ins.stderr, key)

	bad := sh("", "inspect", "-keys", key, tamper(token))
	assert.Equal(t, 1, bad.code, "a tampered token fails")
	assert.Empty(t, bad.stdout)
	assert.Regexp(t, `^authix inspect: invalid access token: [^\n]+\n$`, bad.stderr)

	usage := sh("", "inspect")
	assert.Equal(t, 2, usage.code)
	assert.Contains(t, usage.stderr, "usage: authix inspect")
}

// findPython returns a python3 that imports cryptography.fernet: python3 on
// PATH, then /usr/bin/python3. Without one the test skips, or fails when
// AUTHIX_REQUIRE_PYTHON=1.
func findPython(t *testing.T) string {
	t.Helper()
	candidates := []string{"/usr/bin/python3"}
	if p, err := exec.LookPath("python3"); err == nil {
		candidates = append([]string{p}, candidates...)
	}
	var tried []string
	for _, p := range candidates {
		out, err := exec.Command(p, "-c", "import cryptography.fernet").CombinedOutput()
		if err == nil {
			return p
		}
		tried = append(tried, p+": "+lastLine(string(out), err))
	}
	msg := "no python3 with the cryptography package (tried " + strings.Join(tried, "; ") +
		"); install it with: apt-get install python3-cryptography"
	if os.Getenv("AUTHIX_REQUIRE_PYTHON") == "1" {
		t.Fatal(msg + " (AUTHIX_REQUIRE_PYTHON=1 makes this a failure)")
	}
	t.Skip(msg)
	return ""
}

func lastLine(out string, err error) string {
	out = strings.TrimSpace(out)
	if out == "" {
		return err.Error()
	}
	return out[strings.LastIndex(out, "\n")+1:]
}

// python runs one command of testdata/python/fernet_interop.py.
func python(t *testing.T, py string, cmd map[string]any) map[string]any {
	t.Helper()
	arg, err := json.Marshal(cmd)
	require.NoError(t, err)
	c := exec.Command(py, filepath.Join("..", "..", "testdata", "python", "fernet_interop.py"), string(arg))
	c.Stderr = os.Stderr
	out, err := c.Output()
	require.NoError(t, err)
	var res map[string]any
	require.NoError(t, json.Unmarshal(out, &res), "answer: %s", out)
	return res
}

func TestKeygenKeysWorkInPython(t *testing.T) {
	py := findPython(t)
	noKeys(t)
	keys := keygenLines(t, "3")
	for _, k := range keys {
		res := python(t, py, map[string]any{"op": "check_key", "key": k})
		assert.Equal(t, map[string]any{"ok": true}, res, "Python's Fernet(key) takes keygen's key")
	}
	res := python(t, py, map[string]any{"op": "check_key", "key": "c2VjcmV0"})
	assert.Contains(t, res["error"], "ValueError", "the check can fail")

	// A token from seal opens in Python with Fernet(key).decrypt(token, ttl=3600).
	s := cli("", "seal", "-keys", keys[0], `{"name":"Jöhn","id":7}`)
	require.Equal(t, 0, s.code, s.stderr)
	res = python(t, py, map[string]any{"op": "open", "keys": keys[:1], "token": strings.TrimSpace(s.stdout), "ttl": 3600})
	payload, _ := res["payload"].(map[string]any)
	require.Contains(t, payload, "_authix", "Python sees the sealed lifetime as one more key")
	assert.Equal(t, map[string]any{"exp": float64(res["issued_at"].(float64) + 3600)}, payload["_authix"])
	delete(payload, "_authix")
	assert.Equal(t, map[string]any{"name": "Jöhn", "id": 7.0}, payload)

	// And a token Python seals opens in inspect, with keys "new,old".
	res = python(t, py, map[string]any{"op": "seal", "keys": keys[1:2], "payload": map[string]any{"name": "John"}})
	pyToken, _ := res["token"].(string)
	require.NotEmpty(t, pyToken, "%v", res)
	r := cli("", "inspect", "-keys", keys[2]+","+keys[1], pyToken)
	require.Equal(t, 0, r.code, r.stderr)
	assert.Contains(t, r.stdout, "key:     2 of 2\n")
	assert.Contains(t, r.stdout, "payload:\n{\n  \"name\": \"John\"\n}\n")
}
