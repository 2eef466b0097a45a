#!/usr/bin/env bash
# End-to-end benchmark: requests per second over loopback HTTP with
# keep-alive, through each route of cmd/e2e (bare: authix's request, read by
# nothing; authix with sliding sessions and the subject check; a fernet-go
# chain; jwtauth). The server
# runs on CPU 0 and wrk (Debian's package: apt-get install wrk) on CPU 1;
# every round runs every route once, so a burst of load on the shared
# machine spreads over all of them, and the medians of the rounds are
# compared as ratios to the bare route.
#
#   bash bench/e2e.sh                 # 6 rounds of 3 s per route
#   ROUNDS=3 DURATION=2s bash bench/e2e.sh
#   PROFILE=/tmp/e2e.prof bash bench/e2e.sh   # and a CPU profile of the server
set -euo pipefail
cd "$(dirname "$0")"
rounds="${ROUNDS:-6}"
duration="${DURATION:-3s}"
conns="${CONNS:-32}"
command -v wrk >/dev/null || { echo "e2e.sh: wrk not found; apt-get install wrk" >&2; exit 2; }
command -v taskset >/dev/null || { echo "e2e.sh: taskset not found (util-linux)" >&2; exit 2; }

dir=$(mktemp -d)
trap 'kill "$srv" 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$dir"' EXIT
profile=()
[ -n "${PROFILE:-}" ] && profile=(-cpuprofile "$PROFILE")
go build -o "$dir/e2e" ./cmd/e2e
port=$((20000 + RANDOM % 20000))
taskset -c 0 "$dir/e2e" -addr "127.0.0.1:$port" "${profile[@]}" >"$dir/routes" &
srv=$!
for _ in $(seq 100); do grep -q '^ready$' "$dir/routes" 2>/dev/null && break; sleep 0.1; done
grep -q '^ready$' "$dir/routes" || { echo "e2e.sh: the server did not start" >&2; exit 1; }
routes="bare authix fernet-go jwtauth"

: >"$dir/results"
for ((i = 1; i <= rounds; i++)); do
	for route in $routes; do
		header=$(grep "^$route " "$dir/routes" | cut -d' ' -f2-)
		args=(-t1 -c"$conns" -d"$duration" --latency)
		[ "$header" != "-" ] && args+=(-H "$header")
		out=$(taskset -c 1 wrk "${args[@]}" "http://127.0.0.1:$port/$route")
		if grep -q 'Non-2xx' <<<"$out"; then
			echo "e2e.sh: $route answered with errors:" >&2; echo "$out" >&2; exit 1
		fi
		rps=$(awk '/^Requests\/sec:/ {print $2}' <<<"$out")
		echo "round $i: $route $rps req/s"
		echo "$route $rps" >>"$dir/results"
	done
done

echo
echo "==> medians of $rounds rounds ($conns connections, $duration each, server on CPU 0, wrk on CPU 1)"
awk -v routes="$routes" '
	{ v[$1] = v[$1] " " $2 }
	function median(list,   a, n, i, j, t) {
		n = split(list, a, " ")
		for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) if (a[j] < a[i]) { t = a[i]; a[i] = a[j]; a[j] = t }
		return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
	}
	END {
		split(routes, r, " ")
		bare = median(v["bare"])
		for (k = 1; k in r; k++) {
			m = median(v[r[k]])
			printf "  %-10s %9.0f req/s  %.2f x bare\n", r[k], m, m / bare
		}
		a = median(v["authix"]) / bare
		printf "\ntarget (10) end to end: authix / bare requests per second: %.2f x, goal >= 0.90: %s\n", a, (a >= 0.90 ? "PASS" : "FAIL")
	}' "$dir/results"
