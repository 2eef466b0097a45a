package main

import (
	"errors"
	"regexp"
	"strings"
	"testing"
)

// sample is go test -bench output shaped like the bench module's, two
// samples per benchmark, with the noise real output carries.
const sample = `goos: linux
goarch: amd64
pkg: github.com/authix-go/authix/bench
cpu: Intel(R) Xeon(R) Processor
BenchmarkCreate/authix-2         	  300000	      1500 ns/op	     400 B/op	       3 allocs/op
BenchmarkCreate/authix-2         	  300000	      1700 ns/op	     400 B/op	       3 allocs/op
BenchmarkCreate/json-2           	 3000000	       300 ns/op	      64 B/op	       1 allocs/op
BenchmarkCreate/json-2           	 3000000	       320 ns/op	      64 B/op	       1 allocs/op
BenchmarkDecode/authix-2         	  500000	      1000 ns/op	     100 B/op	       4 allocs/op
BenchmarkDecode/authix-2         	  500000	      1200 ns/op	     100 B/op	       4 allocs/op
BenchmarkDecode/json-2           	 1000000	       600 ns/op	     256 B/op	       6 allocs/op
BenchmarkDecode/json-2           	 1000000	       640 ns/op	     256 B/op	       6 allocs/op
BenchmarkDecode/payload-2        	 5000000	       200 ns/op	       4 B/op	       1 allocs/op
BenchmarkDecode/payload-2        	 5000000	       200 ns/op	       4 B/op	       1 allocs/op
BenchmarkDecode/fernet-go-2      	  500000	      2400 ns/op	    1904 B/op	      15 allocs/op
BenchmarkDecode/fernet-go-2      	  500000	      2400 ns/op	    1904 B/op	      15 allocs/op
BenchmarkDecode/securecookie-2   	  200000	      2000 ns/op	    2432 B/op	      21 allocs/op
BenchmarkDecode/securecookie-2   	  200000	      2000 ns/op	    2432 B/op	      21 allocs/op
BenchmarkDecode/golang-jwt-2     	  200000	      2500 ns/op	    2336 B/op	      42 allocs/op
BenchmarkDecode/golang-jwt-2     	  200000	      2500 ns/op	    2336 B/op	      42 allocs/op
BenchmarkOpen/authix-2           	 2000000	       500 ns/op	       0 B/op	       0 allocs/op
BenchmarkOpen/authix-2           	 2000000	       510 ns/op	       0 B/op	       0 allocs/op
BenchmarkMiddleware/bare-2       	100000000	        10 ns/op	       0 B/op	       0 allocs/op
BenchmarkMiddleware/bare-2       	100000000	        10 ns/op	       0 B/op	       0 allocs/op
BenchmarkMiddleware/authix-2     	  500000	      1210 ns/op	     500 B/op	       3 allocs/op
BenchmarkMiddleware/authix-2     	  500000	      1210 ns/op	     500 B/op	       3 allocs/op
BenchmarkMiddleware/authix-sliding-2	  500000	      1250 ns/op	     500 B/op	       3 allocs/op
BenchmarkMiddleware/authix-sliding-2	  500000	      1250 ns/op	     500 B/op	       3 allocs/op
BenchmarkMiddleware/authix-subject-2	  500000	      1330 ns/op	     500 B/op	       3 allocs/op
BenchmarkMiddleware/authix-subject-2	  500000	      1330 ns/op	     500 B/op	       3 allocs/op
BenchmarkMiddleware/authix-sessions-2	  500000	      1400 ns/op	     500 B/op	       3 allocs/op
BenchmarkMiddleware/authix-sessions-2	  500000	      1400 ns/op	     500 B/op	       3 allocs/op
BenchmarkMiddleware/plain-chain-2	  300000	      3010 ns/op	    2616 B/op	      23 allocs/op
BenchmarkMiddleware/plain-chain-2	  300000	      3010 ns/op	    2616 B/op	      23 allocs/op
BenchmarkMiddleware/jwtauth-2    	  100000	     10010 ns/op	   17512 B/op	     255 allocs/op
BenchmarkMiddleware/jwtauth-2    	  100000	     10010 ns/op	   17512 B/op	     255 allocs/op
BenchmarkStore/IsRevoked/hit-2   	 5000000	       120 ns/op	       0 B/op	       0 allocs/op
BenchmarkStore/IsRevoked/miss-2  	 5000000	       200 ns/op	       0 B/op	       0 allocs/op
BenchmarkStore/Revoke-2          	 1000000	       450 ns/op	      32 B/op	       2 allocs/op
BenchmarkStore/LockHold-2        	 1000000	       500 ns/op	    250000 shard-hold-ns	     20000 p99.99-stall-ns	       0 B/op	       0 allocs/op
BenchmarkStore/Memory
    store_test.go:150: a log line between the name and the result
BenchmarkStore/Memory-2          	       1	1636921550 ns/op	        74.38 B/entry	148726192 B/op	   47867 allocs/op
BenchmarkPgStore/IsRevoked/hit-2 	 5000000	       150 ns/op	       0 B/op	       0 allocs/op
BenchmarkPgStore/IsRevoked/miss-2	 5000000	       320 ns/op	       0 B/op	       0 allocs/op
BenchmarkPgReplicas/Propagation/listen-2 	     200	    704451 ns/op	        26.85 max-ms	         0.3942 p50-ms	         1.737 p99-ms
BenchmarkPgReplicas/Propagation/polling-2	     200	 101893694 ns/op	       119.0 max-ms	       51.6 p50-ms	       104.6 p99-ms
PASS
ok  	github.com/authix-go/authix/bench	9.166s
`

func TestParse(t *testing.T) {
	r, err := Parse(strings.NewReader(sample))
	if err != nil {
		t.Fatal(err)
	}
	if r.CPU != "Intel(R) Xeon(R) Processor" {
		t.Errorf("CPU = %q", r.CPU)
	}
	if len(r.Names) != 25 || r.Names[0] != "Create/authix" || r.Names[20] != "Store/Memory" {
		t.Errorf("Names = %q", r.Names)
	}
	for _, c := range []struct {
		name, unit string
		want       float64
		n          int
	}{
		{"Create/authix", "ns/op", 1600, 2}, // even count: mean of the middle two
		{"Create/authix", "allocs/op", 3, 2},
		{"Decode/securecookie", "B/op", 2432, 2},
		{"Middleware/plain-chain", "ns/op", 3010, 2}, // no space before the count
		{"Store/IsRevoked/hit", "ns/op", 120, 1},
		{"Store/Memory", "B/entry", 74.38, 1}, // the name line before the log is not a result
	} {
		got, ok := r.Median(c.name, c.unit)
		if !ok || got != c.want {
			t.Errorf("Median(%s, %s) = %v, %v; want %v", c.name, c.unit, got, ok, c.want)
		}
		if n := len(r.Samples[c.name][c.unit]); n != c.n {
			t.Errorf("%s %s: %d samples, want %d", c.name, c.unit, n, c.n)
		}
	}
	if _, ok := r.Median("Open/fernet-go", "ns/op"); ok {
		t.Error("Median of a benchmark not in the input reports ok")
	}
}

func TestParseResultLine(t *testing.T) {
	for _, c := range []struct {
		line, name string
		ok         bool
	}{
		{"BenchmarkOpen/fernet-go-2 	 100	 950 ns/op", "Open/fernet-go", true},
		{"BenchmarkOpen/fernet-go 	 100	 950 ns/op", "Open/fernet-go", true}, // GOMAXPROCS=1: no suffix
		{"BenchmarkX-16 	 100	 1.5e+03 ns/op	 2 B/op", "X", true},
		{"BenchmarkX-2", "", false},                     // name only, as before a log
		{"BenchmarkX-2 	 many	 950 ns/op", "", false},   // count not a number
		{"BenchmarkX-2 	 100	 fast ns/op", "", false},   // value not a number
		{"BenchmarkX-2 	 100	 NaN ns/op", "", false},    // no NaN medians
		{"BenchmarkX-2 	 100	 950 ns/op	 3", "", false}, // value without unit
		{"Benchmark-2 	 100	 950 ns/op", "", false},     // empty name
		{"    store_test.go:1: BenchmarkX-2 	 100	 950 ns/op", "", false},
		{"ok  	github.com/authix-go/authix/bench	9.166s", "", false},
	} {
		name, _, ok := parseResult(c.line)
		if ok != c.ok || name != c.name {
			t.Errorf("parseResult(%q) = %q, %v; want %q, %v", c.line, name, ok, c.name, c.ok)
		}
	}
}

func TestParseOddMedian(t *testing.T) {
	in := "BenchmarkA-2 1 30 ns/op\nBenchmarkA-2 1 10 ns/op\nBenchmarkA-2 1 1000 ns/op\n"
	r, err := Parse(strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := r.Median("A", "ns/op"); got != 30 {
		t.Errorf("median of 30, 10, 1000 = %v, want 30", got)
	}
	if r.CPU != "" {
		t.Errorf("CPU = %q without a cpu: line", r.CPU)
	}
}

func TestParseNoResults(t *testing.T) {
	for _, in := range []string{"", "PASS\nok x 0.1s\n", "--- FAIL: BenchmarkX\n"} {
		if _, err := Parse(strings.NewReader(in)); !errors.Is(err, errNoResults) {
			t.Errorf("Parse(%q) error = %v, want errNoResults", in, err)
		}
	}
}

func TestReport(t *testing.T) {
	r, err := Parse(strings.NewReader(sample))
	if err != nil {
		t.Fatal(err)
	}
	var out strings.Builder
	failed := Report(&out, r)
	text := out.String()
	// Each target's line, with what the sample makes of it:
	for _, want := range []string{
		`CPU: Intel\(R\) Xeon\(R\) Processor`,
		`\(1\) RequireData overhead / plain-chain overhead +0\.40 x +<= 0\.70 x +PASS`, // 1200/3000
		`\(2\) Decode authix / securecookie +0\.55 x +<= 0\.75 x +PASS`,                // 1100/2000
		`\(2\) Decode authix / golang-jwt +0\.44 x +<= 0\.60 x +PASS`,                  // 1100/2500
		`\(3\) RequireData overhead / jwtauth overhead +0\.12 x +<= 0\.15 x +PASS`,     // 1200/10000
		`\(4\) Open authix allocs +0 allocs/op +<= 0 allocs/op +PASS`,
		`\(4\) Decode allocs: authix - json.Unmarshal +-2 allocs/op +<= 1 allocs/op +PASS`,
		`\(4\) Create allocs: authix - json.Marshal +2 allocs/op +<= 2 allocs/op +PASS`,
		`\(6\) RequireData sliding overhead / plain-chain overhead +0\.41 x +<= 0\.70 x +PASS`,       // 1240/3000
		`\(6\) RequireData sliding overhead / jwtauth overhead +0\.12 x +<= 0\.15 x +PASS`,           // 1240/10000
		`\(7\) RequireData subject-check overhead / plain-chain overhead +0\.44 x +<= 0\.70 x +PASS`, // 1320/3000
		`\(5\) Store IsRevoked hit +120 ns/op +<= 150 ns/op +PASS`,
		`\(5\) Store IsRevoked miss +200 ns/op +<= 150 ns/op +FAIL`,
		`\(5\) Store heap per live entry +74\.4 B/entry +<= 64 B/entry +FAIL`,
		`\(5\) Store Revoke, amortised with sweeping +450 ns/op +<= 500 ns/op +PASS`,
		`\(5\) Store longest lock hold .* +250000 shard-hold-ns +<= 1000000 shard-hold-ns +PASS`,
		`\(22\) pgstore IsRevoked hit / memory store IsRevoked hit +1\.25 x +<= 1\.50 x +PASS`,   // 150/120
		`\(22\) pgstore IsRevoked miss / memory store IsRevoked miss +1\.60 x +<= 1\.50 x +FAIL`, // 320/200
		`\(22\) pgstore logout propagation p99, LISTEN +1\.74 p99-ms +<= 10 p99-ms +PASS`,
		`\(22\) pgstore logout propagation p99, polling every 100ms +105 p99-ms +<= 110 p99-ms +PASS`,
		`\(8\) Decode authix / fernet-go .* +0\.46 x +<= 0\.50 x +PASS`,                      // 1100/2400
		`\(8\) Payload decode alone \(json/v2\) / json.Unmarshal +0\.32 x +<= 0\.60 x +PASS`, // 200/620
		`\(8\) Payload decode allocs .* +1 allocs/op +<= 1 allocs/op +PASS`,
		`\(8\) Decode authix allocs .* +4 allocs/op +<= 1 allocs/op +FAIL`,
		`\(9\) RequireData overhead, sliding \+ subject / plain-chain overhead +0\.46 x +<= 0\.55 x +PASS`, // 1390/3000
		`\(9\) RequireData overhead, sliding \+ subject / jwtauth overhead +0\.14 x +<= 0\.06 x +FAIL`,     // 1390/10000
		`Create authix / fernet-go +n/a`,
		`Middleware overhead authix +1200 ns/op`,
		`Store/Memory +1 +1636921550 +148726192 +47867 +74\.4 B/entry`,
	} {
		if !regexp.MustCompile(want).MatchString(text) {
			t.Errorf("report lacks %q:\n%s", want, text)
		}
	}
	if failed != 5 {
		t.Errorf("failed = %d, want 5", failed)
	}
}

func TestReportMissing(t *testing.T) {
	r, err := Parse(strings.NewReader("cpu: x\nBenchmarkOpen/authix-2 1 500 ns/op 0 B/op 1 allocs/op\n"))
	if err != nil {
		t.Fatal(err)
	}
	var out strings.Builder
	if failed := Report(&out, r); failed != len(targets) {
		t.Errorf("failed = %d, want %d (one alloc in Open, the rest missing):\n%s", failed, len(targets), out.String())
	}
	if !strings.Contains(out.String(), "MISSING") {
		t.Errorf("no MISSING in:\n%s", out.String())
	}
}
