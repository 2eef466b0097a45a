// Command fleet measures what redisstore costs Redis for a fleet of
// replicas: it starts a redis-server of its own on loopback, puts L live
// revocations in it, starts R Stores, and prints, for each L and R:
//
//   - how long a cold Store takes to start (New), and the Redis CPU it costs;
//   - Redis's CPU per minute while no logout happens, over -idle (at least
//     70s, longer than the one-minute resync of earlier versions), and the
//     commands Redis served meanwhile, beside the same with no Store at all
//     (Redis's own upkeep: its timers and the expiry of keys);
//   - the Redis CPU that the reconnect of every Store costs, after each
//     Store's connections are killed while a logout happens on another
//     Store, and whether every Store then refuses that token;
//   - how long a logout takes to reach another replica (median, p99),
//     through announcements and the log as deployed, and through the log
//     alone (a Store whose Redis user may not subscribe), with the other
//     Stores closed: on this machine they would compete with the replica
//     for its cores, which on a fleet they do not.
//
// Run it from the repository root:
//
//	go run ./bench/cmd/fleet                              # L = 100k and 1M, R = 1 and 10
//	go run ./bench/cmd/fleet -revocations 200000 -stores 5
//
// Redis CPU is read from INFO CPU (used_cpu_sys + used_cpu_user, children
// included) before and after each window. Every Store has a client of its
// own, as a replica would; all traffic stays on 127.0.0.1.
package main

import (
	"bufio"
	"context"
	"crypto/sha256"
	"errors"
	"flag"
	"fmt"
	"log"
	"net"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/authix-go/authix/redisstore"
)

func main() {
	var (
		revocations = flag.String("revocations", "100000,1000000", "comma-separated numbers of live revocations (L)")
		stores      = flag.String("stores", "1,10", "comma-separated numbers of Stores (R)")
		idle        = flag.Duration("idle", 70*time.Second, "length of the idle window")
		logouts     = flag.Int("logouts", 1000, "logouts timed for the propagation latency")
		syncTimeout = flag.Duration("sync-timeout", time.Minute, "redisstore.WithSyncTimeout for the Stores")
	)
	flag.Parse()
	log.SetFlags(0)
	log.SetPrefix("fleet: ")
	ls, err := ints(*revocations)
	if err != nil {
		log.Fatalf("-revocations: %v", err)
	}
	rs, err := ints(*stores)
	if err != nil {
		log.Fatalf("-stores: %v", err)
	}
	if *idle <= 0 || *logouts <= 0 {
		log.Fatal("-idle and -logouts must be positive")
	}
	cfg := config{idle: *idle, logouts: *logouts, syncTimeout: *syncTimeout}

	var rows []row
	for _, l := range ls {
		srv, err := startRedis()
		if err != nil {
			log.Fatal(err)
		}
		log.Printf("redis-server on %s: filling %d live revocations", srv.addr, l)
		if err := fill(srv.admin, l); err != nil {
			srv.stop()
			log.Fatal(err)
		}
		base, err := idleCPU(srv.admin, cfg.idle)
		if err != nil {
			srv.stop()
			log.Fatal(err)
		}
		log.Printf("L=%d, no Store: idle %v CPU/min (%.3f%% of a core): Redis's own upkeep, included in every idle figure below", l, ms(base), pct(base))
		for _, r := range rs {
			res, err := measure(srv, l, r, cfg)
			res.baseline = base
			if err != nil {
				srv.stop()
				log.Fatalf("L=%d R=%d: %v", l, r, err)
			}
			rows = append(rows, res)
			log.Print(res.line())
		}
		srv.stop()
	}
	printTable(os.Stdout, rows)
}

type config struct {
	idle        time.Duration
	logouts     int
	syncTimeout time.Duration
}

// row is one measurement of L revocations behind R Stores.
type row struct {
	l, r           int
	baseline       time.Duration // idle Redis CPU per minute with no Store
	coldStart      time.Duration // the first Store's New
	coldStartMax   time.Duration
	coldCPU        time.Duration // Redis CPU per cold start
	coldCommands   string        // Redis's time in each command, per cold start
	idleCPUPerMin  time.Duration
	idleCalls      string // commands Redis served while idle, per second
	reconnectCPU   time.Duration
	reconnectTook  time.Duration
	refusedByAll   bool
	p50, p99       time.Duration // as deployed
	logP50, logP99 time.Duration // through the log alone; 0 when not measured
}

func (r row) line() string {
	return fmt.Sprintf("L=%d R=%d: cold start %v (max %v, Redis CPU %v each, in commands: %s); idle %v CPU/min (%.3f%% of a core; %s); "+
		"reconnect of all %v CPU over %v, token refused by all: %v; logout p50 %v p99 %v; log alone p50 %v p99 %v",
		r.l, r.r, ms(r.coldStart), ms(r.coldStartMax), ms(r.coldCPU), r.coldCommands, ms(r.idleCPUPerMin), pct(r.idleCPUPerMin), r.idleCalls,
		ms(r.reconnectCPU), ms(r.reconnectTook), r.refusedByAll, us(r.p50), us(r.p99), us(r.logP50), us(r.logP99))
}

func measure(srv *server, l, r int, cfg config) (row, error) {
	ctx := context.Background()
	res := row{l: l, r: r}
	opts := []redisstore.Option{redisstore.WithSyncTimeout(cfg.syncTimeout)}

	// Cold starts, one after another.
	cpu0, err := redisCPU(srv.admin)
	if err != nil {
		return res, err
	}
	stats0, err := srv.admin.Info(ctx, "commandstats").Result()
	if err != nil {
		return res, err
	}
	var fleet []*redisstore.Store
	defer func() {
		for _, s := range fleet {
			_ = s.Close()
		}
	}()
	var starts []time.Duration
	for i := range r {
		start := time.Now()
		s, err := redisstore.New(srv.client(fmt.Sprintf("fleet-store-%d", i), ""), opts...)
		if err != nil {
			return res, fmt.Errorf("store %d: %w", i, err)
		}
		starts = append(starts, time.Since(start))
		fleet = append(fleet, s)
		if n := s.Len(); n < l {
			return res, fmt.Errorf("store %d holds %d revocations, want %d", i, n, l)
		}
	}
	cpu1, err := redisCPU(srv.admin)
	if err != nil {
		return res, err
	}
	res.coldStart, res.coldStartMax, res.coldCPU = starts[0], slices.Max(starts), (cpu1-cpu0)/time.Duration(r)
	stats1, err := srv.admin.Info(ctx, "commandstats").Result()
	if err != nil {
		return res, err
	}
	res.coldCommands = commandTimes(parseUsec(stats0), parseUsec(stats1), r)

	// Idle.
	time.Sleep(3 * time.Second)
	calls0, err := commandCalls(srv.admin)
	if err != nil {
		return res, err
	}
	cpu0, _ = redisCPU(srv.admin)
	time.Sleep(cfg.idle)
	cpu1, _ = redisCPU(srv.admin)
	calls1, err := commandCalls(srv.admin)
	if err != nil {
		return res, err
	}
	idleRate := float64(cpu1-cpu0) / float64(cfg.idle) // CPU seconds per second
	res.idleCPUPerMin = time.Duration(idleRate * float64(time.Minute))
	res.idleCalls = callRates(calls0, calls1, cfg.idle)

	// A writer outside the fleet.
	writer, err := redisstore.New(srv.client("fleet-writer", ""), opts...)
	if err != nil {
		return res, fmt.Errorf("writer: %w", err)
	}
	defer writer.Close()

	// Every Store's connections are killed while a logout happens on the
	// writer; the catch-up costs what Redis spends until it is idle again,
	// less the idle rate.
	token := sha256.Sum256([]byte(fmt.Sprintf("logged out during the reconnect %d %d", l, r)))
	cpu0, _ = redisCPU(srv.admin)
	killed := time.Now()
	if err := killStores(srv.admin); err != nil {
		return res, err
	}
	if err := writer.Revoke(ctx, token, time.Now().Add(time.Hour)); err != nil {
		return res, fmt.Errorf("logout during the reconnect: %w", err)
	}
	res.refusedByAll = true
	for i, s := range fleet {
		if !waitRevoked(s, token, time.Minute) {
			res.refusedByAll = false
			log.Printf("store %d does not refuse the token logged out during the reconnect", i)
		}
	}
	cpu1, took := settle(srv.admin, killed, idleRate)
	res.reconnectCPU = cpu1 - cpu0 - time.Duration(idleRate*float64(took))
	res.reconnectTook = took

	// Propagation to one replica, the others closed as if they ran on
	// machines of their own: on this machine they would compete with the
	// reader for its cores, not for Redis.
	for _, s := range fleet[1:] {
		_ = s.Close()
	}
	fleet = fleet[:1]
	runtime.GC() // the closed Stores' mirrors, so that collecting them does not fall among the timings
	if res.p50, res.p99, err = latency(writer, fleet[0], cfg.logouts, "deployed"); err != nil {
		return res, err
	}
	// Through the log alone: a Store whose user may not subscribe.
	if err := srv.admin.Do(ctx, "ACL", "SETUSER", "fleet-log-only", "reset", "on", ">pw", "~*", "resetchannels", "+@all").Err(); err != nil {
		return res, err
	}
	logOnly, err := redisstore.New(srv.client("fleet-log-only", "fleet-log-only"), opts...)
	if err != nil {
		log.Printf("a Store that may not subscribe does not start (%v): no latency through the log alone", err)
		return res, nil
	}
	defer logOnly.Close()
	res.logP50, res.logP99, err = latency(writer, logOnly, cfg.logouts, "log")
	return res, err
}

// idleCPU returns Redis's CPU per minute over d.
func idleCPU(admin *redis.Client, d time.Duration) (time.Duration, error) {
	cpu0, err := redisCPU(admin)
	if err != nil {
		return 0, err
	}
	time.Sleep(d)
	cpu1, err := redisCPU(admin)
	if err != nil {
		return 0, err
	}
	return time.Duration(float64(cpu1-cpu0) / d.Minutes()), nil
}

// latency revokes n tokens on w and times how long each takes to be
// reported revoked by r, which asks its mirror alone while it is fresh.
func latency(w, r *redisstore.Store, n int, tag string) (p50, p99 time.Duration, err error) {
	ctx := context.Background()
	exp := time.Now().Add(time.Hour)
	lat := make([]time.Duration, 0, n)
	for i := range n {
		id := sha256.Sum256([]byte(fmt.Sprintf("latency %s %p %d", tag, r, i)))
		start := time.Now()
		if err := w.Revoke(ctx, id, exp); err != nil {
			return 0, 0, err
		}
		if !waitRevoked(r, id, 30*time.Second) {
			return 0, 0, fmt.Errorf("logout %d did not reach the other Store", i)
		}
		lat = append(lat, time.Since(start))
		time.Sleep(time.Millisecond)
	}
	slices.Sort(lat)
	return lat[len(lat)/2], lat[len(lat)*99/100], nil
}

// waitRevoked spins until s reports id revoked, up to limit.
func waitRevoked(s *redisstore.Store, id [32]byte, limit time.Duration) bool {
	deadline := time.Now().Add(limit)
	for {
		if ok, err := s.IsRevoked(context.Background(), id); err == nil && ok {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		runtime.Gosched()
	}
}

// settle waits until Redis has been back at its idle CPU rate for two
// seconds, and returns its CPU then and how long after since that was.
func settle(admin *redis.Client, since time.Time, idleRate float64) (time.Duration, time.Duration) {
	const step = time.Second
	prev, _ := redisCPU(admin)
	quiet := 0
	for time.Since(since) < 5*time.Minute {
		time.Sleep(step)
		cur, _ := redisCPU(admin)
		if float64(cur-prev) <= idleRate*float64(step)+float64(5*time.Millisecond) {
			quiet++
		} else {
			quiet = 0
		}
		prev = cur
		if quiet >= 2 && time.Since(since) >= 3*time.Second {
			break
		}
	}
	return prev, time.Since(since)
}

// killStores kills every connection of the fleet's Stores (their clients
// are named fleet-store-N), and none of the writer's or the admin's.
func killStores(admin *redis.Client) error {
	list, err := admin.ClientList(context.Background()).Result()
	if err != nil {
		return err
	}
	for _, line := range strings.Split(list, "\n") {
		var id, name string
		for _, f := range strings.Fields(line) {
			k, v, _ := strings.Cut(f, "=")
			switch k {
			case "id":
				id = v
			case "name":
				name = v
			}
		}
		if strings.HasPrefix(name, "fleet-store-") {
			n, _ := strconv.ParseInt(id, 10, 64)
			if err := admin.ClientKillByFilter(context.Background(), "ID", strconv.FormatInt(n, 10)).Err(); err != nil {
				return err
			}
		}
	}
	return nil
}

// fill stores n live revocations as redisstore writes them, with expiries
// spread over the next 30 days.
func fill(admin *redis.Client, n int) error {
	ctx := context.Background()
	now := time.Now()
	const batch = 10_000
	for i := 0; i < n; i += batch {
		_, err := admin.Pipelined(ctx, func(p redis.Pipeliner) error {
			for j := i; j < min(i+batch, n); j++ {
				id := sha256.Sum256([]byte("fleet " + strconv.Itoa(j)))
				life := time.Hour + time.Duration(j%720)*time.Hour
				exp := now.Add(life).UnixMilli()
				p.Set(ctx, fmt.Sprintf("%s%x", redisstore.DefaultKeyPrefix, id[:]), exp, life+redisstore.ClockMargin)
			}
			return nil
		})
		if err != nil {
			return fmt.Errorf("fill: %w", err)
		}
	}
	return nil
}

// redisCPU returns the CPU time Redis has used, children included.
func redisCPU(c *redis.Client) (time.Duration, error) {
	info, err := c.Info(context.Background(), "cpu").Result()
	if err != nil {
		return 0, err
	}
	return parseCPU(info)
}

// parseCPU sums used_cpu_sys, used_cpu_user and their children's from an
// INFO CPU reply.
func parseCPU(info string) (time.Duration, error) {
	var total float64
	found := 0
	for _, line := range strings.Split(info, "\n") {
		k, v, ok := strings.Cut(strings.TrimSpace(line), ":")
		if !ok {
			continue
		}
		switch k {
		case "used_cpu_sys", "used_cpu_user", "used_cpu_sys_children", "used_cpu_user_children":
			f, err := strconv.ParseFloat(v, 64)
			if err != nil {
				return 0, fmt.Errorf("INFO CPU: %s: %w", k, err)
			}
			total += f
			found++
		}
	}
	if found == 0 {
		return 0, errors.New("INFO CPU: no used_cpu_* fields")
	}
	return time.Duration(total * float64(time.Second)), nil
}

// commandCalls returns the calls of each command from INFO COMMANDSTATS.
func commandCalls(c *redis.Client) (map[string]int64, error) {
	info, err := c.Info(context.Background(), "commandstats").Result()
	if err != nil {
		return nil, err
	}
	return parseCalls(info), nil
}

// parseCalls reads "cmdstat_<name>:calls=N,..." lines.
func parseCalls(info string) map[string]int64 { return parseStat(info, "calls=") }

// parseUsec reads "cmdstat_<name>:...,usec=N,..." lines: Redis's time in
// each command, in microseconds.
func parseUsec(info string) map[string]int64 { return parseStat(info, "usec=") }

func parseStat(info, field string) map[string]int64 {
	calls := make(map[string]int64)
	for _, line := range strings.Split(info, "\n") {
		name, rest, ok := strings.Cut(strings.TrimSpace(line), ":")
		if !ok || !strings.HasPrefix(name, "cmdstat_") {
			continue
		}
		for _, f := range strings.Split(rest, ",") {
			if v, ok := strings.CutPrefix(f, field); ok {
				calls[strings.TrimPrefix(name, "cmdstat_")], _ = strconv.ParseInt(v, 10, 64)
			}
		}
	}
	return calls
}

// callRates describes the commands served between two snapshots, per
// second, leaving out the ones this command sends (info).
func callRates(before, after map[string]int64, d time.Duration) string {
	var parts []string
	for name, n := range after {
		if delta := n - before[name]; delta > 0 && name != "info" {
			parts = append(parts, fmt.Sprintf("%s %.1f/s", name, float64(delta)/d.Seconds()))
		}
	}
	slices.Sort(parts)
	if len(parts) == 0 {
		return "no commands"
	}
	return strings.Join(parts, ", ")
}

// commandTimes describes Redis's time in each command between two
// snapshots, divided by n.
func commandTimes(before, after map[string]int64, n int) string {
	var parts []string
	for name, usec := range after {
		if delta := usec - before[name]; delta > 0 && name != "info" {
			parts = append(parts, fmt.Sprintf("%s %v", name, ms(time.Duration(delta/int64(n))*time.Microsecond)))
		}
	}
	slices.Sort(parts)
	return strings.Join(parts, ", ")
}

// server is a redis-server process of this command's own.
type server struct {
	addr  string
	cmd   *exec.Cmd
	dir   string
	admin *redis.Client
}

// startRedis starts redis-server on a free loopback port, without
// persistence, and waits until it answers.
func startRedis() (*server, error) {
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		return nil, errors.New("redis-server not found on PATH; apt-get install redis-server")
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	dir, err := os.MkdirTemp("", "authix-fleet-")
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(bin, "--port", strconv.Itoa(port), "--bind", "127.0.0.1", "--dir", dir,
		"--save", "", "--appendonly", "no", "--daemonize", "no", "--logfile", "redis.log")
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	s := &server{addr: net.JoinHostPort("127.0.0.1", strconv.Itoa(port)), cmd: cmd, dir: dir}
	s.admin = redis.NewClient(&redis.Options{Addr: s.addr, ClientName: "fleet-admin"})
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if s.admin.Ping(context.Background()).Err() == nil {
			return s, nil
		}
		if time.Now().After(deadline) {
			s.stop()
			return nil, fmt.Errorf("redis-server on %s does not answer", s.addr)
		}
	}
}

// client returns a new client named name, as user (default user when
// empty).
func (s *server) client(name, user string) *redis.Client {
	o := &redis.Options{Addr: s.addr, ClientName: name}
	if user != "" {
		o.Username, o.Password = user, "pw"
	}
	return redis.NewClient(o)
}

func (s *server) stop() {
	_ = s.admin.Close()
	_ = s.cmd.Process.Kill()
	_ = s.cmd.Wait()
	_ = os.RemoveAll(s.dir)
}

func printTable(w *os.File, rows []row) {
	b := bufio.NewWriter(w)
	defer b.Flush()
	fmt.Fprintln(b, "| L | R | cold start (Redis CPU) | idle Redis CPU per minute (% of a core) | the same with no Store | reconnect of all Stores, Redis CPU | logout p50 / p99 | through the log alone |")
	fmt.Fprintln(b, "|---:|---:|---|---|---|---|---|---|")
	for _, r := range rows {
		logAlone := "n/a"
		if r.logP99 > 0 {
			logAlone = us(r.logP50) + " / " + us(r.logP99)
		}
		fmt.Fprintf(b, "| %d | %d | %s (%s) | %s (%.3f %%) | %s (%.3f %%) | %s | %s / %s | %s |\n", r.l, r.r, ms(r.coldStart), ms(r.coldCPU),
			ms(r.idleCPUPerMin), pct(r.idleCPUPerMin), ms(r.baseline), pct(r.baseline), ms(r.reconnectCPU), us(r.p50), us(r.p99), logAlone)
	}
}

func ms(d time.Duration) string { return d.Round(time.Millisecond).String() }
func us(d time.Duration) string { return d.Round(10 * time.Microsecond).String() }

// pct returns a CPU time per minute as a share of one core, in percent.
func pct(perMin time.Duration) float64 { return 100 * perMin.Seconds() / 60 }

func ints(s string) ([]int, error) {
	var out []int
	for _, f := range strings.Split(s, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n <= 0 {
			return nil, fmt.Errorf("%q is not a positive number", f)
		}
		out = append(out, n)
	}
	return out, nil
}
