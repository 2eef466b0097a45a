// Command authix makes Fernet keys and seals and inspects authix access
// tokens from the shell. Its keys and tokens are the ones authix.WithKeys,
// AUTHIX_KEYS and Python's fastapi-authix (cryptography's Fernet) use, so it
// also reads and writes tokens of a FastAPI service that shares the keys.
//
//	go install github.com/authix-go/authix/cmd/authix@latest
//
//	authix keygen [-n N]
//	authix seal [-keys-file FILE|-] [-ttl 1h] [-purpose P] JSON|-
//	authix inspect [-keys-file FILE|-] [-ttl 1h] [-purpose P] TOKEN|-
//
// Keys come from the file -keys-file names ("-" for standard input), or else
// from the AUTHIX_KEYS environment variable: comma-separated (in a file, also
// one a line); the first key seals, every key opens. Keys are never taken on
// the command line, which ps shows to every user: the former -keys flag is
// refused with a usage error. A key file readable by group or others draws a
// warning. No key, nor any part of a bad one, is ever printed, except by
// keygen. -purpose P seals and opens as a vault with authix.WithPurpose(P)
// does: such a vault's tokens open only with the same purpose.
//
// Exit status: 0 on success; 1 when the input is refused (a payload that is
// not a JSON object, a token that does not open, or an authentic token that
// has expired, which inspect still shows); 2 for a usage error (unknown
// command or flag, missing or extra argument, missing or bad keys, an
// unreadable -keys-file, a bad -ttl or -purpose, or standard input asked to
// carry both the keys and the argument).
package main

import (
	"bytes"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/authix-go/authix"
)

const (
	exitOK    = 0
	exitFail  = 1
	exitUsage = 2

	// maxInput bounds what seal and inspect read from standard input.
	maxInput = 1 << 20
	// maxKeygen bounds keygen -n.
	maxKeygen = 1000
)

const mainUsage = `usage: authix <command> [flags] [arguments]

Makes Fernet keys, and seals and inspects authix access tokens. Keys and
tokens are those of authix.WithKeys / AUTHIX_KEYS and of Python's
fastapi-authix (cryptography's Fernet).

Commands:
  keygen    print new keys
  seal      seal a JSON object into a token
  inspect   open a token and show what it carries

Keys come from -keys-file FILE (or - for standard input), else from
$AUTHIX_KEYS; never from the command line, which ps shows.

Run "authix <command> -h" for a command's flags.
Exit status: 0 success, 1 input refused (bad payload, invalid or expired
token), 2 usage error.
`

const keygenUsage = `usage: authix keygen [-n N]

Prints N new random keys (default 1), one a line: 32 bytes in URL-safe
base64, the format that AUTHIX_KEYS, authix.WithKeys and Python's
cryptography Fernet(key) take. To rotate keys, put the new key first:
AUTHIX_KEYS=new,old seals with new and opens both.

Flags:
  -n N   how many keys to print, 1 to 1000 (default 1)
`

const sealUsage = `usage: authix seal [-keys-file FILE|-] [-ttl 1h] [-purpose P] JSON|-

Seals a JSON object under the first key and prints the token on standard
output. With "-" the JSON is read from standard input. The token opens in
authix and in Python's fastapi-authix with the same key: it is what
SetAccessToken puts in the access-token cookie, with its expiry (now + -ttl)
sealed inside as the object's leading "_authix" member, so no reader's TTL
extends it. seal notes on standard error when the token expires.

Flags:
  -keys-file FILE  read the keys from FILE, or from standard input with "-"
                   (default: $AUTHIX_KEYS); the first key seals
  -ttl D           the token's lifetime (default 1h)
  -purpose P       seal as a vault with authix.WithPurpose(P) does: the
                   token opens only in vaults of that purpose

` + keysHelp

const inspectUsage = `usage: authix inspect [-keys-file FILE|-] [-ttl 1h] [-purpose P] TOKEN|-

Opens a token as an authix vault with the same keys, TTL and purpose would,
and prints when it was issued, when it expires and whether that has passed,
when its session ends (WithSliding) and that its login was remembered, where
they apply, which key opened it (its position in the list, never the key), its
revocation id (what DisableAccessToken hands the revocation store), and its
payload as indented JSON. With "-" the token is read from standard input.

Exit status: 0 for a valid token. 1 for a token that does not open, with one
line on standard error and nothing on standard output; and 1 for an authentic
token that has expired, which is still shown, marked EXPIRED, so scripts can
trust the status alone. 2 for a usage error.

Flags:
  -keys-file FILE  read the keys from FILE, or from standard input with "-"
                   (default: $AUTHIX_KEYS); every key is tried
  -ttl D           the reader's WithTTL (default 1h): the lifetime of tokens
                   with none sealed inside (fastapi-authix's), and an upper
                   bound for the others
  -purpose P       open as a vault with authix.WithPurpose(P) does; a token
                   of a vault with a purpose opens only with it (otherwise:
                   MAC does not verify)

` + keysHelp

func main() {
	os.Exit(run(os.Args[1:], os.Getenv, os.Stdin, os.Stdout, os.Stderr))
}

// run is the whole command: it parses args, reads the environment through
// getenv, reads stdin when asked to ("-"), writes results to stdout and
// errors to stderr, and returns the exit status.
func run(args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, mainUsage)
		return exitUsage
	}
	name, rest := args[0], args[1:]
	switch name {
	case "-h", "-help", "--help":
		fmt.Fprint(stdout, mainUsage)
		return exitOK
	case "help":
		if len(rest) == 0 {
			fmt.Fprint(stdout, mainUsage)
			return exitOK
		}
		if _, usage := lookup(rest[0]); usage != "" {
			fmt.Fprint(stdout, usage)
			return exitOK
		}
		return usageError(stderr, "authix help", mainUsage, "unknown command "+showArg(rest[0]))
	}
	cmd, usage := lookup(name)
	if cmd == nil {
		what := "unknown command "
		if strings.HasPrefix(name, "-") {
			what = "unknown flag "
		}
		return usageError(stderr, "authix", mainUsage, what+showArg(name))
	}
	return cmd(&env{name: "authix " + name, usage: usage, getenv: getenv, stdin: stdin, stdout: stdout, stderr: stderr}, rest)
}

type env struct {
	name, usage    string
	getenv         func(string) string
	stdin          io.Reader
	stdout, stderr io.Writer
}

func lookup(name string) (func(*env, []string) int, string) {
	switch name {
	case "keygen":
		return keygen, keygenUsage
	case "seal":
		return seal, sealUsage
	case "inspect":
		return inspect, inspectUsage
	}
	return nil, ""
}

// showArg quotes a command-line word for an error message, unless it is
// long enough to be a key or a token, which are never echoed.
func showArg(s string) string {
	if len(s) > 24 {
		return fmt.Sprintf("(%d characters, not shown)", len(s))
	}
	return fmt.Sprintf("%q", s)
}

// keyWords match the words of a message that may be a whole key: base64 of
// either alphabet, then URL-safe base64 alone (a key after a "/"), then hex.
// A whole key, or a whole token, never part of one.
var keyWords = []*regexp.Regexp{
	regexp.MustCompile(`[A-Za-z0-9_+/-]+=*`),
	regexp.MustCompile(`[A-Za-z0-9_-]+=*`),
	regexp.MustCompile(`[0-9A-Fa-f]+`),
}

// redact replaces every word of msg that is 32 bytes of key material in any
// form a key is read in (isKey), so that no error message repeats a key,
// even one given in the wrong place. Messages are written not to hold keys;
// this is the second line of defence.
func redact(msg string) string {
	for _, re := range keyWords {
		msg = re.ReplaceAllStringFunc(msg, func(s string) string {
			if isKey(s) {
				return "<key not shown>"
			}
			return s
		})
	}
	return msg
}

// usageError reports a usage error, then the usage, on stderr.
func usageError(stderr io.Writer, name, usage, msg string) int {
	fmt.Fprintf(stderr, "%s: %s\n\n%s", name, redact(msg), usage)
	return exitUsage
}

// fail reports a refused input in one line on stderr.
func (e *env) fail(format string, args ...any) int {
	msg := strings.ReplaceAll(fmt.Sprintf(format, args...), "\n", " ")
	fmt.Fprintf(e.stderr, "%s: %s\n", e.name, redact(msg))
	return exitFail
}

// errText is err's message without the library's "authix: " prefix, which
// the command name already gives.
func errText(err error) string {
	return strings.TrimPrefix(err.Error(), "authix: ")
}

func (e *env) usageError(format string, args ...any) int {
	return usageError(e.stderr, e.name, e.usage, fmt.Sprintf(format, args...))
}

func (e *env) flagSet() *flag.FlagSet {
	fs := flag.NewFlagSet(e.name, flag.ContinueOnError)
	fs.SetOutput(io.Discard) // errors and usage are printed by parse
	fs.Usage = func() {}
	return fs
}

// parse parses flags placed anywhere among args and returns the other
// arguments. It returns done with the exit status for -h (usage on stdout,
// 0) and for flag errors (usage on stderr, 2).
func (e *env) parse(fs *flag.FlagSet, args []string, want int, what string) (pos []string, code int, done bool) {
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				fmt.Fprint(e.stdout, e.usage)
				return nil, exitOK, true
			}
			return nil, e.usageError("%s", flagError(err)), true
		}
		rest := fs.Args()
		if len(rest) == 0 {
			break
		}
		if used := len(args) - len(rest); used > 0 && args[used-1] == "--" {
			pos = append(pos, rest...)
			break
		}
		pos = append(pos, rest[0])
		args = rest[1:]
	}
	switch {
	case len(pos) < want:
		return nil, e.usageError("missing %s", what), true
	case len(pos) > want:
		return nil, e.usageError("too many arguments: want %d, got %d", want, len(pos)), true
	}
	return pos, 0, false
}

// invalidValue matches the flag package's error for a bad flag value.
var invalidValue = regexp.MustCompile(`^invalid (?:boolean )?value (".*") for (?:flag )?(-[^ :]+): (.*)$`)

// flagError words a flag package error without echoing a long flag or
// value, which may be a misplaced key, and refuses -keys.
func flagError(err error) string {
	msg := err.Error()
	if msg == "flag needs an argument: -keys" {
		return keysFlagGone
	}
	if name, ok := strings.CutPrefix(msg, "flag provided but not defined: "); ok {
		return "unknown flag " + showArg(name)
	}
	if arg, ok := strings.CutPrefix(msg, "bad flag syntax: "); ok {
		return "bad flag syntax: " + showArg(arg)
	}
	if m := invalidValue.FindStringSubmatch(msg); m != nil {
		if m[2] == "-keys" {
			return keysFlagGone
		}
		value, uerr := strconv.Unquote(m[1])
		if uerr != nil {
			return "invalid value for flag " + m[2]
		}
		return fmt.Sprintf("invalid value %s for flag %s: %s", showArg(value), m[2], m[3])
	}
	return msg
}

func keygen(e *env, args []string) int {
	fs := e.flagSet()
	n := fs.Int("n", 1, "")
	if _, code, done := e.parse(fs, args, 0, ""); done {
		return code
	}
	if *n < 1 || *n > maxKeygen {
		return e.usageError("-n must be between 1 and %d, got %d", maxKeygen, *n)
	}
	var b strings.Builder
	for range *n {
		b.WriteString(authix.GenerateKey())
		b.WriteByte('\n')
	}
	if _, err := io.WriteString(e.stdout, b.String()); err != nil {
		return e.fail("writing keys: %v", err)
	}
	return exitOK
}

// input returns arg, or standard input when arg is "-".
func (e *env) input(arg string) (string, error) {
	if arg != "-" {
		return arg, nil
	}
	b, err := io.ReadAll(io.LimitReader(e.stdin, maxInput+1))
	if err != nil {
		return "", fmt.Errorf("reading standard input: %w", err)
	}
	if len(b) > maxInput {
		return "", fmt.Errorf("standard input is over %d bytes", maxInput)
	}
	return string(b), nil
}

func seal(e *env, args []string) int {
	c := e.cipherFlags("JSON payload")
	pos, code, done := e.parse(c.fs, args, 1, "JSON payload (or - to read it from standard input)")
	if done {
		return code
	}
	rd, code, ok := e.reader(c, pos[0])
	if !ok {
		return code
	}
	in, err := e.input(pos[0])
	if err != nil {
		return e.fail("%v", err)
	}
	payload, err := jsonObject([]byte(in))
	if err != nil {
		return e.fail("%v", err)
	}
	// Sealed by a vault, with its lifetime inside.
	now := time.Now()
	v, err := rd.vault(now)
	if err != nil {
		return e.fail("%s", errText(err))
	}
	tok, err := v.CreateAccessToken(payload)
	if err != nil {
		return e.fail("%s", errText(err))
	}
	if _, err := fmt.Fprintf(e.stdout, "%s\n", tok); err != nil {
		return e.fail("writing token: %v", err)
	}
	fmt.Fprintf(e.stderr, "%s: issued %s; expires %s (TTL %v, sealed in the token)\n",
		e.name, stamp(now), stamp(now.Add(rd.ttl).Truncate(time.Second)), rd.ttl)
	return exitOK
}

// jsonObject checks that data is one JSON object and returns it compacted,
// with its keys in their order and its numbers as written.
func jsonObject(data []byte) ([]byte, error) {
	var v any
	if err := json.Unmarshal(data, &v); err != nil {
		return nil, fmt.Errorf("payload is not JSON: %v", err)
	}
	if _, ok := v.(map[string]any); !ok {
		return nil, fmt.Errorf("payload must be a JSON object, got %s", jsonKind(v))
	}
	var buf bytes.Buffer
	if err := json.Compact(&buf, data); err != nil {
		return nil, fmt.Errorf("payload is not JSON: %v", err)
	}
	return buf.Bytes(), nil
}

func jsonKind(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case []any:
		return "an array"
	case string:
		return "a string"
	case float64:
		return "a number"
	case bool:
		return "a boolean"
	}
	return fmt.Sprintf("%T", v)
}

func inspect(e *env, args []string) int {
	c := e.cipherFlags("token")
	pos, code, done := e.parse(c.fs, args, 1, "TOKEN (or - to read it from standard input)")
	if done {
		return code
	}
	rd, code, ok := e.reader(c, pos[0])
	if !ok {
		return code
	}
	in, err := e.input(pos[0])
	if err != nil {
		return e.fail("%v", err)
	}
	token := strings.TrimSpace(in)
	if token == "" {
		return e.fail("%s: empty token", errText(authix.ErrInvalidToken))
	}

	// A vault judges the token, so that inspect never disagrees with one.
	now := time.Now()
	payload, info, err := readAt(rd, token, now)
	expired := errors.Is(err, authix.ErrExpiredToken)
	if expired {
		// Authentic, so its issue time is the one its Fernet header says:
		// read as of then, by the vault again, to show what it carried.
		payload, info, err = readAt(rd, token, fernetIssued(token))
		if errors.Is(err, authix.ErrExpiredToken) {
			return e.fail("token expired before it was issued: its sealed expiry is earlier than its issue time")
		}
	}
	if err != nil {
		return e.fail("%s", errText(err))
	}

	// The vault holds a token to the expiry sealed in it, up to the TTL, and
	// one without (fastapi-authix's) to the TTL; only a sealed token says
	// when its user authenticated.
	exp, why := info.ExpiresAt, fmt.Sprintf("TTL %v", rd.ttl)
	if !info.AuthenticatedAt.IsZero() {
		why = "sealed in the token"
	}

	var b strings.Builder
	status := "valid"
	if expired {
		status = "EXPIRED"
	}
	fmt.Fprintf(&b, "status:  %s\n", status)
	fmt.Fprintf(&b, "issued:  %s (%s)\n", stamp(info.IssuedAt), relative(info.IssuedAt, now))
	fmt.Fprintf(&b, "expires: %s (%s; %s)\n", stamp(exp), relative(exp, now), why)
	if !info.SessionExpiresAt.IsZero() {
		fmt.Fprintf(&b, "session: ends %s (%s)\n", stamp(info.SessionExpiresAt), relative(info.SessionExpiresAt, now))
	}
	if info.Remembered {
		b.WriteString("remember: yes (a persistent cookie)\n")
	}
	if rd.purpose != "" {
		fmt.Fprintf(&b, "purpose: %s\n", rd.purpose)
	}
	fmt.Fprintf(&b, "key:     %d of %d\n", info.KeyIndex+1, len(rd.keys))
	fmt.Fprintf(&b, "id:      %s\n", hex.EncodeToString(info.ID[:]))
	var pretty bytes.Buffer
	if err := json.Indent(&pretty, payload, "", "  "); err != nil {
		return e.fail("payload: %v", err) // the vault read it as JSON
	}
	fmt.Fprintf(&b, "payload:\n%s\n", pretty.Bytes())
	if _, err := io.WriteString(e.stdout, b.String()); err != nil {
		return e.fail("writing: %v", err)
	}
	if expired {
		return e.fail("token expired %s, at %s", relative(exp, now), stamp(exp))
	}
	return exitOK
}

// tokenHeader carries the token of the request readAt makes up.
const tokenHeader = "X-Authix-Token"

// readAt reads token as rd's vault whose clock says at reads a request
// that carries it, and returns what the vault hands its handler, or why it
// refused the request.
func readAt(rd reader, token string, at time.Time) (json.RawMessage, authix.TokenInfo, error) {
	var (
		payload json.RawMessage
		info    authix.TokenInfo
		refused error
	)
	v, err := rd.vault(at, authix.WithoutCookie(), authix.WithHeader(tokenHeader),
		authix.WithErrorHandler(func(_ http.ResponseWriter, _ *http.Request, err error) { refused = err }))
	if err != nil {
		return nil, info, err
	}
	r, err := http.NewRequest(http.MethodGet, "/", nil)
	if err != nil {
		return nil, info, err
	}
	r.Header.Set(tokenHeader, token)
	v.RequireData(http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) {
		payload, _ = v.Data(r.Context())
		info, _ = v.Info(r.Context())
	})).ServeHTTP(nopWriter{}, r)
	return payload, info, refused
}

// reader is what a vault needs to seal and open tokens as the command was
// asked to.
type reader struct {
	keys    []string
	ttl     time.Duration
	purpose string // "": none
}

// vault returns a vault with r's keys and purpose whose clock says now,
// with -ttl as both its TTL and its remember-me lifetime, so that -ttl
// bounds every token it opens; extra options go last.
func (r reader) vault(now time.Time, extra ...authix.Option) (*authix.Vault[json.RawMessage], error) {
	opts := []authix.Option{authix.WithKeys(r.keys...), authix.WithTTL(r.ttl), authix.WithRememberMe(r.ttl),
		authix.WithClock(func() time.Time { return now })}
	if r.purpose != "" {
		opts = append(opts, authix.WithPurpose(r.purpose))
	}
	return authix.New[json.RawMessage](append(opts, extra...)...)
}

// fernetIssued is the issue time a Fernet token's header states, unchecked:
// only a time at which to ask the vault again about a token it found
// authentic and expired. The zero time for what is no Fernet token.
func fernetIssued(token string) time.Time {
	raw, err := base64.URLEncoding.DecodeString(token)
	if err != nil || len(raw) < 9 {
		return time.Time{}
	}
	return time.Unix(int64(binary.BigEndian.Uint64(raw[1:9])), 0)
}

// nopWriter is the response of readAt's request, which nothing writes.
type nopWriter struct{}

func (nopWriter) Header() http.Header         { return http.Header{} }
func (nopWriter) Write(b []byte) (int, error) { return len(b), nil }
func (nopWriter) WriteHeader(int)             {}

func stamp(t time.Time) string { return t.UTC().Format(time.RFC3339) }

// relative says how far t is from now, to the second: "in 59m58s",
// "2s ago" or "now".
func relative(t, now time.Time) string {
	d := t.Sub(now).Round(time.Second)
	switch {
	case d > 0:
		return "in " + d.String()
	case d < 0:
		return (-d).String() + " ago"
	}
	return "now"
}
