package storetest_test

import (
	"errors"
	"maps"
	"os"
	"os/exec"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/authix-go/authix/storetest"
)

// TestReferenceStore runs the suite on an exact store, with replicas and a
// backend that breaks: every rule can pass, with no Slack.
func TestReferenceStore(t *testing.T) {
	storetest.Run(t, refHarness(""))
}

// flawEnv names the flaw TestFlawedStore gives its store.
const flawEnv = "AUTHIX_STORETEST_FLAW"

// TestFlawedStore runs the suite on a reference store with the flaw that
// flawEnv names; TestFlawsFailTheSuite runs it in a child process and
// expects it to fail.
func TestFlawedStore(t *testing.T) {
	flaw := os.Getenv(flawEnv)
	if flaw == "" {
		t.Skip(flawEnv + " is not set: this test runs in a child process of TestFlawsFailTheSuite")
	}
	if _, ok := flaws[flaw]; !ok {
		t.Fatalf("%s=%q: no such flaw", flawEnv, flaw)
	}
	storetest.Run(t, refHarness(flaw))
}

// TestFlawsFailTheSuite shows that the suite catches each flaw: the test
// binary, run again on the flawed store, exits non-zero naming the rule
// that the flaw breaks.
func TestFlawsFailTheSuite(t *testing.T) {
	if os.Getenv(flawEnv) != "" {
		t.Skip("in a child process")
	}
	failed := regexp.MustCompile(`--- FAIL: TestFlawedStore/(\S+)`)
	for _, flaw := range slices.Sorted(maps.Keys(flaws)) {
		rule := flaws[flaw]
		t.Run(flaw, func(t *testing.T) {
			t.Parallel()
			cmd := exec.Command(os.Args[0], "-test.run=^TestFlawedStore$", "-test.count=1", "-test.timeout=5m")
			cmd.Env = append(os.Environ(), flawEnv+"="+flaw)
			out, err := cmd.CombinedOutput()
			var exit *exec.ExitError
			if !errors.As(err, &exit) {
				t.Fatalf("the flawed store's run did not fail: err %v; output:\n%s", err, out)
			}
			var rules []string
			for _, m := range failed.FindAllStringSubmatch(string(out), -1) {
				if strings.Contains(m[1], "/") { // a rule, not its group
					rules = append(rules, m[1])
				}
			}
			if !slices.Contains(rules, rule) {
				t.Fatalf("exit code %d, but rule %s did not fail; failed: %v; output:\n%s", exit.ExitCode(), rule, rules, out)
			}
			t.Logf("%s: exit code %d; failed: %s", flaw, exit.ExitCode(), strings.Join(rules, ", "))
		})
	}
}
