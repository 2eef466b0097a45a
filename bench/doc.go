// Package bench measures authix against peer libraries on one payload, so
// that ratios from a single run can be compared on any machine.
//
// Everything lives in the test files: run
//
//	go test -run '^$' -bench . -benchmem -count 6 .
//
// or bash bench/run.sh from the repository root, which also prints the
// ratio table (see cmd/ratios). cmd/fleet measures what redisstore costs
// Redis for a fleet of replicas, on a redis-server of its own: go run
// ./bench/cmd/fleet. The module is separate from authix itself so that the
// peers it imports never become dependencies of authix.
package bench
