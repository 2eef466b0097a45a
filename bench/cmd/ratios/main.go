// Command ratios reads the output of go test -bench for the bench module on
// standard input and prints, from the medians of the samples, the table of
// ratios that authix's performance targets are stated in, each with PASS or
// FAIL, and the CPU the numbers come from.
//
// Usage:
//
//	go test -run '^$' -bench . -benchmem -count 6 . | go run ./cmd/ratios [-strict]
//
// Ratios from one run are comparable across machines; absolute times are
// not, least of all on a shared machine. With -strict it exits 1 when a
// target fails or its benchmark is missing; it always exits 2 when the input
// holds no benchmark result.
package main

import (
	"bufio"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
)

// Results holds every sample of every benchmark in one go test -bench
// output, by benchmark name (without the GOMAXPROCS suffix) and unit.
type Results struct {
	// CPU is the text of the first "cpu:" line, empty when there is none.
	CPU string
	// Names lists the benchmark names in the order they first appear.
	Names []string
	// Samples maps a name to its units ("ns/op", "B/op", "allocs/op",
	// custom ones such as "B/entry") and those to every value seen.
	Samples map[string]map[string][]float64
}

// Median returns the median of name's samples in unit, and false when there
// are none.
func (r *Results) Median(name, unit string) (float64, bool) {
	vs := r.Samples[name][unit]
	if len(vs) == 0 {
		return 0, false
	}
	s := slices.Clone(vs)
	slices.Sort(s)
	m := len(s) / 2
	if len(s)%2 == 1 {
		return s[m], true
	}
	return (s[m-1] + s[m]) / 2, true
}

// Count reports how many samples name has in ns/op.
func (r *Results) Count(name string) int { return len(r.Samples[name]["ns/op"]) }

// errNoResults is returned by Parse for input without a benchmark line.
var errNoResults = errors.New("no benchmark results in the input")

// Parse reads go test -bench output. Lines that are not results (headers,
// logs, PASS, ok) are skipped; a result line is its name, its iteration
// count, then value-unit pairs.
func Parse(in io.Reader) (*Results, error) {
	res := &Results{Samples: make(map[string]map[string][]float64)}
	sc := bufio.NewScanner(in)
	sc.Buffer(make([]byte, 0, 64*1024), 1024*1024)
	for sc.Scan() {
		line := sc.Text()
		if cpu, ok := strings.CutPrefix(line, "cpu:"); ok {
			if res.CPU == "" {
				res.CPU = strings.TrimSpace(cpu)
			}
			continue
		}
		name, vals, ok := parseResult(line)
		if !ok {
			continue
		}
		units, seen := res.Samples[name]
		if !seen {
			units = make(map[string][]float64)
			res.Samples[name] = units
			res.Names = append(res.Names, name)
		}
		for unit, v := range vals {
			units[unit] = append(units[unit], v)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if len(res.Names) == 0 {
		return nil, errNoResults
	}
	return res, nil
}

// parseResult splits one result line into its name, without the
// "Benchmark" prefix and the GOMAXPROCS suffix, and its values by unit.
func parseResult(line string) (string, map[string]float64, bool) {
	f := strings.Fields(line)
	if len(f) < 4 || len(f)%2 != 0 || !strings.HasPrefix(f[0], "Benchmark") {
		return "", nil, false
	}
	if _, err := strconv.ParseUint(f[1], 10, 64); err != nil {
		return "", nil, false
	}
	vals := make(map[string]float64, (len(f)-2)/2)
	for i := 2; i < len(f); i += 2 {
		v, err := strconv.ParseFloat(f[i], 64)
		if err != nil || math.IsNaN(v) || math.IsInf(v, 0) {
			return "", nil, false
		}
		vals[f[i+1]] = v
	}
	name := strings.TrimPrefix(f[0], "Benchmark")
	if i := strings.LastIndexByte(name, '-'); i >= 0 {
		if _, err := strconv.Atoi(name[i+1:]); err == nil {
			name = name[:i]
		}
	}
	if name == "" {
		return "", nil, false
	}
	return name, vals, true
}

// target is one number the lead must reach. value computes it from the
// medians; it reports false when a benchmark it needs is missing.
type target struct {
	label string
	value func(r *Results) (float64, bool)
	max   float64 // PASS when value <= max
	unit  string  // printed after the value and the bound
}

// format prints v in the target's unit: ratios with two decimals.
func (t target) format(v float64) string {
	if t.unit == "x" {
		return strconv.FormatFloat(v, 'f', 2, 64) + " x"
	}
	return num(v) + " " + t.unit
}

// overhead is a middleware's median ns/op minus the bare handler's.
func overhead(r *Results, name string) (float64, bool) {
	mw, ok1 := r.Median("Middleware/"+name, "ns/op")
	bare, ok2 := r.Median("Middleware/bare", "ns/op")
	return mw - bare, ok1 && ok2
}

func ratio(a, b func(r *Results) (float64, bool)) func(r *Results) (float64, bool) {
	return func(r *Results) (float64, bool) {
		x, ok1 := a(r)
		y, ok2 := b(r)
		if !ok1 || !ok2 || y <= 0 {
			return 0, false
		}
		return x / y, true
	}
}

func diff(a, b func(r *Results) (float64, bool)) func(r *Results) (float64, bool) {
	return func(r *Results) (float64, bool) {
		x, ok1 := a(r)
		y, ok2 := b(r)
		return x - y, ok1 && ok2
	}
}

func med(name, unit string) func(r *Results) (float64, bool) {
	return func(r *Results) (float64, bool) { return r.Median(name, unit) }
}

func over(name string) func(r *Results) (float64, bool) {
	return func(r *Results) (float64, bool) { return overhead(r, name) }
}

// targets are the goals of issues 4, 11, 12, 13 and 14, in the order the README lists them;
// (8) and (9) as issue 20 restated them for payloads on json/v2; (22) pgstore's.
var targets = []target{
	{"(1) RequireData overhead / plain-chain overhead", ratio(over("authix"), over("plain-chain")), 0.70, "x"},
	{"(2) Decode authix / securecookie", ratio(med("Decode/authix", "ns/op"), med("Decode/securecookie", "ns/op")), 0.75, "x"},
	{"(2) Decode authix / golang-jwt", ratio(med("Decode/authix", "ns/op"), med("Decode/golang-jwt", "ns/op")), 0.60, "x"},
	{"(3) RequireData overhead / jwtauth overhead", ratio(over("authix"), over("jwtauth")), 0.15, "x"},
	{"(4) Open authix allocs", med("Open/authix", "allocs/op"), 0, "allocs/op"},
	{"(4) Decode allocs: authix - json.Unmarshal", diff(med("Decode/authix", "allocs/op"), med("Decode/json", "allocs/op")), 1, "allocs/op"},
	{"(4) Create allocs: authix - json.Marshal", diff(med("Create/authix", "allocs/op"), med("Create/json", "allocs/op")), 2, "allocs/op"},
	{"(6) RequireData sliding overhead / plain-chain overhead", ratio(over("authix-sliding"), over("plain-chain")), 0.70, "x"},
	{"(6) RequireData sliding overhead / jwtauth overhead", ratio(over("authix-sliding"), over("jwtauth")), 0.15, "x"},
	{"(7) RequireData subject-check overhead / plain-chain overhead", ratio(over("authix-subject"), over("plain-chain")), 0.70, "x"},
	{"(7) RequireData subject-check overhead / jwtauth overhead", ratio(over("authix-subject"), over("jwtauth")), 0.15, "x"},
	{"(8) Decode authix / fernet-go (VerifyAndDecrypt + json.Unmarshal)", ratio(med("Decode/authix", "ns/op"), med("Decode/fernet-go", "ns/op")), 0.50, "x"},
	{"(8) Payload decode alone (json/v2) / json.Unmarshal", ratio(med("Decode/payload", "ns/op"), med("Decode/json", "ns/op")), 0.60, "x"},
	{"(8) Payload decode allocs (the payload's one string)", med("Decode/payload", "allocs/op"), 1, "allocs/op"},
	{"(8) Decode authix allocs (the payload's one string)", med("Decode/authix", "allocs/op"), 1, "allocs/op"},
	{"(9) RequireData overhead, sliding + subject / plain-chain overhead", ratio(over("authix-sessions"), over("plain-chain")), 0.55, "x"},
	{"(9) RequireData overhead, sliding + subject / jwtauth overhead", ratio(over("authix-sessions"), over("jwtauth")), 0.06, "x"},
	{"(5) Store IsRevoked hit", med("Store/IsRevoked/hit", "ns/op"), 150, "ns/op"},
	{"(5) Store IsRevoked miss", med("Store/IsRevoked/miss", "ns/op"), 150, "ns/op"},
	{"(5) Store heap per live entry", med("Store/Memory", "B/entry"), 64, "B/entry"},
	{"(5) Store Revoke, amortised with sweeping", med("Store/Revoke", "ns/op"), 500, "ns/op"},
	{"(5) Store longest lock hold (Len's pass over one shard)", med("Store/LockHold", "shard-hold-ns"), 1_000_000, "shard-hold-ns"},
	{"(22) pgstore IsRevoked hit / memory store IsRevoked hit", ratio(med("PgStore/IsRevoked/hit", "ns/op"), med("Store/IsRevoked/hit", "ns/op")), 1.5, "x"},
	{"(22) pgstore IsRevoked miss / memory store IsRevoked miss", ratio(med("PgStore/IsRevoked/miss", "ns/op"), med("Store/IsRevoked/miss", "ns/op")), 1.5, "x"},
	{"(22) pgstore logout propagation p99, LISTEN", med("PgReplicas/Propagation/listen", "p99-ms"), 10, "p99-ms"},
	{"(22) pgstore logout propagation p99, polling every 100ms", med("PgReplicas/Propagation/polling", "p99-ms"), 110, "p99-ms"},
}

// info are ratios without a target, printed for context.
var info = []target{
	{"RequireData / jwtauth (whole request)", ratio(med("Middleware/authix", "ns/op"), med("Middleware/jwtauth", "ns/op")), 0, "x"},
	{"RequireData overhead / golang-jwt middleware overhead", ratio(over("authix"), over("golang-jwt")), 0, "x"},
	{"Decode authix / json.Unmarshal", ratio(med("Decode/authix", "ns/op"), med("Decode/json", "ns/op")), 0, "x"},
	{"Create authix / fernet-go", ratio(med("Create/authix", "ns/op"), med("Create/fernet-go", "ns/op")), 0, "x"},
	{"Create authix / securecookie", ratio(med("Create/authix", "ns/op"), med("Create/securecookie", "ns/op")), 0, "x"},
	{"Create authix / golang-jwt", ratio(med("Create/authix", "ns/op"), med("Create/golang-jwt", "ns/op")), 0, "x"},
	{"Open authix / fernet-go", ratio(med("Open/authix", "ns/op"), med("Open/fernet-go", "ns/op")), 0, "x"},
}

// Report writes the medians, the targets and the context ratios, and
// returns how many targets failed or could not be computed.
func Report(w io.Writer, r *Results) (failed int) {
	cpu := r.CPU
	if cpu == "" {
		cpu = "unknown (no cpu: line)"
	}
	fmt.Fprintf(w, "CPU: %s\n\n", cpu)

	// Numbers align right; names, padded to one width, stay left.
	width := len("benchmark (median)")
	for _, name := range r.Names {
		width = max(width, len(name))
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(tw, "%-*s\tn\tns/op\tB/op\tallocs/op\tother\t\n", width, "benchmark (median)")
	for _, name := range r.Names {
		other := ""
		units := make([]string, 0, len(r.Samples[name]))
		for u := range r.Samples[name] {
			switch u {
			case "ns/op", "B/op", "allocs/op":
			default:
				units = append(units, u)
			}
		}
		slices.Sort(units)
		for _, u := range units {
			v, _ := r.Median(name, u)
			other += fmt.Sprintf(" %s %s", num(v), u)
		}
		fmt.Fprintf(tw, "%-*s\t%d\t%s\t%s\t%s\t%s\t\n", width, name, r.Count(name),
			cell(r, name, "ns/op"), cell(r, name, "B/op"), cell(r, name, "allocs/op"), strings.TrimSpace(other))
	}
	tw.Flush()

	fmt.Fprintln(w)
	tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "target\tmeasured\tgoal\tresult")
	for _, t := range targets {
		v, ok := t.value(r)
		switch {
		case !ok:
			failed++
			fmt.Fprintf(tw, "%s\tn/a\t<= %s\tMISSING\n", t.label, t.format(t.max))
		case v <= t.max:
			fmt.Fprintf(tw, "%s\t%s\t<= %s\tPASS\n", t.label, t.format(v), t.format(t.max))
		default:
			failed++
			fmt.Fprintf(tw, "%s\t%s\t<= %s\tFAIL\n", t.label, t.format(v), t.format(t.max))
		}
	}
	tw.Flush()

	fmt.Fprintln(w)
	tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "for context (no target)\tmeasured")
	for _, t := range info {
		if v, ok := t.value(r); ok {
			fmt.Fprintf(tw, "%s\t%s\n", t.label, t.format(v))
		} else {
			fmt.Fprintf(tw, "%s\tn/a\n", t.label)
		}
	}
	for _, name := range []string{"authix", "plain-chain", "golang-jwt", "jwtauth"} {
		if v, ok := overhead(r, name); ok {
			fmt.Fprintf(tw, "Middleware overhead %s\t%s ns/op\n", name, num(v))
		}
	}
	tw.Flush()
	return failed
}

func cell(r *Results, name, unit string) string {
	if v, ok := r.Median(name, unit); ok {
		return num(v)
	}
	return "-"
}

// num prints v with three significant digits, or as an integer when larger.
func num(v float64) string {
	if v == math.Trunc(v) || math.Abs(v) >= 100 {
		return strconv.FormatFloat(v, 'f', 0, 64)
	}
	return strconv.FormatFloat(v, 'g', 3, 64)
}

func main() {
	strict := flag.Bool("strict", false, "exit 1 when a target fails or a benchmark it needs is missing")
	flag.Usage = func() {
		fmt.Fprintln(flag.CommandLine.Output(), "usage: go test -bench . -benchmem ... | ratios [-strict]")
		flag.PrintDefaults()
	}
	flag.Parse()
	res, err := Parse(os.Stdin)
	if err != nil {
		fmt.Fprintln(os.Stderr, "ratios:", err)
		os.Exit(2)
	}
	failed := Report(os.Stdout, res)
	fmt.Printf("\n%d of %d targets not met\n", failed, len(targets))
	if *strict && failed > 0 {
		os.Exit(1)
	}
}
