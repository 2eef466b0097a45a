package main

import (
	"encoding/base64"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"regexp"
	"runtime"
	"strings"
	"time"

	"github.com/authix-go/authix"
)

// Where keys come from, in order of precedence: -keys-file, then AUTHIX_KEYS.
// Never the command line, which other users see in ps.
const (
	envKeys      = "AUTHIX_KEYS"
	keysFileFlag = "keys-file"

	// maxKeysInput bounds what is read from a key file or from standard
	// input for keys: over a thousand keys.
	maxKeysInput = 64 << 10
)

// keysHelp is the part of seal's and inspect's usage about keys.
const keysHelp = `Keys:
  Keys come from -keys-file FILE if given, else from the AUTHIX_KEYS
  environment variable: Fernet keys (32 bytes of URL-safe base64, as made by
  authix keygen), separated by commas, and in a file also by line breaks; the
  first seals, every key opens. With "-keys-file -" they are read from
  standard input, which then cannot also carry the argument ("-" is refused).
  A key file readable by group or others is used, with a warning on standard
  error (chmod 600 it). Keys are never taken on the command line, where ps
  shows them to every user: the former -keys flag is refused. No key, nor
  any part of a bad one, is ever printed.
`

// keysFlagGone is the usage error for the removed -keys flag.
const keysFlagGone = "-keys is not accepted: a command line is visible to other users (ps); " +
	"set AUTHIX_KEYS or use -keys-file FILE (or -keys-file - for standard input)"

// keyText returns the key list and where it came from, for messages. On
// failure it reports a usage error and returns ok false with the exit status.
func (e *env) keyText(c *cipherFlags) (text, from string, code int, ok bool) {
	if !c.fileSet {
		text = e.getenv(envKeys)
		if text == "" {
			return "", "", e.usageError("no keys: set %s or give -keys-file FILE (make a key with: authix keygen)", envKeys), false
		}
		return text, envKeys, 0, true
	}
	switch c.file {
	case "":
		return "", "", e.usageError("-keys-file needs a file name, or - for standard input"), false
	case "-":
		text, err := readBounded(e.stdin, "standard input")
		if err != nil {
			return "", "", e.usageError("-keys-file -: %v", err), false
		}
		return text, "-keys-file - (standard input)", 0, true
	}
	text, err := e.readKeysFile(c.file)
	if err != nil {
		return "", "", e.usageError("-keys-file: %v", err), false
	}
	return text, "-keys-file", 0, true
}

// readKeysFile reads a key file, warning when others may read it. Its
// errors never name the file: the name is what the user typed, and may be a
// key typed in the wrong place.
func (e *env) readKeysFile(name string) (string, error) {
	f, err := os.Open(name)
	if err != nil {
		return "", fmt.Errorf("cannot open it: %v", pathless(err))
	}
	defer f.Close()
	if fi, err := f.Stat(); err == nil && fi.Mode().IsRegular() && runtime.GOOS != "windows" {
		if perm := fi.Mode().Perm(); perm&0o044 != 0 {
			fmt.Fprintf(e.stderr, "%s: warning: the -keys-file is readable by group or others (mode %04o); chmod 600 it\n",
				e.name, uint32(perm))
		}
	}
	return readBounded(f, "the file")
}

// readBounded reads r whole, up to maxKeysInput bytes.
func readBounded(r io.Reader, what string) (string, error) {
	b, err := io.ReadAll(io.LimitReader(r, maxKeysInput+1))
	if err != nil {
		return "", fmt.Errorf("cannot read %s: %v", what, pathless(err))
	}
	if len(b) > maxKeysInput {
		return "", fmt.Errorf("%s is over %d bytes", what, maxKeysInput)
	}
	return string(b), nil
}

// pathless is err without the file name a *fs.PathError carries.
func pathless(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// splitKeys splits a key list on commas, and on line breaks too when lines
// is set (a key file), dropping white space around each key and empty
// entries. AUTHIX_KEYS is split on commas only, as authix.WithKeys splits it.
func splitKeys(text string, lines bool) []string {
	text = strings.TrimPrefix(text, "\ufeff") // a byte-order mark some editors write
	sep := func(r rune) bool { return r == ',' }
	if lines {
		sep = func(r rune) bool { return r == ',' || r == '\n' }
	}
	var keys []string
	for _, k := range strings.FieldsFunc(text, sep) {
		if k = strings.TrimSpace(k); k != "" {
			keys = append(keys, k)
		}
	}
	return keys
}

// checkKey reports whether s is a Fernet key: 32 bytes in URL-safe base64
// with its padding, the only form Python's Fernet.generate_key and authix
// keygen make. When it is not, hint says why when that can be told: the
// forms other tools accept (hex, standard base64) are refused, so that a key
// list the CLI takes is one every reader takes. The hint never quotes s.
func checkKey(s string) (hint string, ok bool) {
	b, err := base64.URLEncoding.DecodeString(s)
	if err == nil && len(b) == 32 {
		return "", true
	}
	switch {
	case hexKey(s): // hex digits are base64 too: before the length
		return "it is hex; a Fernet key is URL-safe base64", false
	case stdKey(s):
		return "it is standard base64, with + or /; URL-safe base64 has - and _ instead", false
	case rawKey(s):
		return "its trailing = is missing", false
	case err == nil:
		return fmt.Sprintf("it decodes to %d bytes", len(b)), false
	case strings.ContainsAny(s, " \t\r\n\v\f"):
		return "it contains white space (separate keys with commas)", false
	case nameValue.MatchString(s):
		return "it looks like NAME=value (give the keys alone)", false
	}
	return "", false
}

// nameValue matches an environment-file line, NAME=value.
var nameValue = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*=[^=]`)

func hexKey(s string) bool {
	b, err := hex.DecodeString(s)
	return err == nil && len(b) == 32
}

// stdKey reports whether s is a key in standard base64, padded or not,
// with a + or a / (without, it is URL-safe base64 as well).
func stdKey(s string) bool {
	if !strings.ContainsAny(s, "+/") {
		return false
	}
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		b, err = base64.RawStdEncoding.DecodeString(s)
	}
	return err == nil && len(b) == 32
}

func rawKey(s string) bool {
	b, err := base64.RawURLEncoding.DecodeString(s)
	return err == nil && len(b) == 32
}

// isKey reports whether s is 32 bytes of key material in a form some tool
// reads as a key: base64 of either alphabet, padded or not, or hex.
func isKey(s string) bool {
	_, ok := checkKey(s)
	return ok || hexKey(s) || stdKey(s) || rawKey(s)
}

// reader reads the keys (-keys-file, else AUTHIX_KEYS), -ttl and -purpose
// into the vault seal and inspect work through. arg is the command's
// argument, "-" when it is read from standard input. On bad keys, a bad TTL
// or purpose it reports a usage error and returns ok false with the exit
// status.
func (e *env) reader(c *cipherFlags, arg string) (r reader, code int, ok bool) {
	if c.fileSet && c.file == "-" && arg == "-" {
		return r, e.usageError("standard input cannot carry both the keys (-keys-file -) and the %s (-); "+
			"give one of them another way", c.what), false
	}
	if *c.ttl < time.Second {
		return r, e.usageError("-ttl: TTL must be at least one second, got %v", *c.ttl), false
	}
	text, from, code, ok := e.keyText(c)
	if !ok {
		return r, code, false
	}
	keys := splitKeys(text, from != envKeys)
	if len(keys) == 0 {
		return r, e.usageError("%s holds no keys (make one with: authix keygen)", from), false
	}
	for i, k := range keys {
		if hint, ok := checkKey(k); !ok {
			if hint != "" {
				hint = ": " + hint
			}
			return r, e.usageError("%s: key %d of %d is not a Fernet key (32 bytes of URL-safe base64)%s; make one with: authix keygen",
				from, i+1, len(keys), hint), false
		}
	}
	r = reader{keys: keys, ttl: *c.ttl, purpose: c.purpose}
	if _, err := r.vault(time.Now()); err != nil {
		return r, e.usageError("%s", errText(err)), false
	}
	return r, 0, true
}

// cipherFlags are the flags seal and inspect share.
type cipherFlags struct {
	file    string // -keys-file
	fileSet bool
	ttl     *time.Duration
	purpose string // -purpose
	fs      *flag.FlagSet
	what    string // the command's argument, for messages
}

// errKeysGone is what the removed -keys flag answers; flagError words it.
var errKeysGone = errors.New("not accepted")

func (e *env) cipherFlags(what string) *cipherFlags {
	c := &cipherFlags{fs: e.flagSet(), what: what}
	c.fs.Func(keysFileFlag, "", func(s string) error {
		c.file, c.fileSet = s, true
		return nil
	})
	// Defined, so that its value is consumed rather than taken for the
	// argument, and refused.
	c.fs.Func("keys", "", func(string) error { return errKeysGone })
	c.ttl = c.fs.Duration("ttl", authix.DefaultTTL, "")
	c.fs.StringVar(&c.purpose, "purpose", "", "")
	return c
}
