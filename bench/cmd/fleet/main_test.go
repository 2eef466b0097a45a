package main

import (
	"strings"
	"testing"
	"time"
)

func TestParseCPU(t *testing.T) {
	info := "# CPU\r\nused_cpu_sys:1.500000\r\nused_cpu_user:2.250000\r\nused_cpu_sys_children:0.125000\r\nused_cpu_user_children:0.000000\r\n"
	got, err := parseCPU(info)
	if err != nil || got != 3875*time.Millisecond {
		t.Fatalf("parseCPU = %v, %v; want 3.875s", got, err)
	}
	if _, err := parseCPU("# CPU\r\n"); err == nil {
		t.Fatal("parseCPU of a reply without used_cpu_* fields: no error")
	}
}

func TestCallRates(t *testing.T) {
	info := "# Commandstats\r\ncmdstat_xread:calls=300,usec=900,usec_per_call=3.00\r\ncmdstat_info:calls=9,usec=1\r\ncmdstat_xrevrange:calls=100,usec=1\r\n"
	after := parseCalls(info)
	before := map[string]int64{"xread": 100, "info": 1, "xrevrange": 100}
	if got := callRates(before, after, 100*time.Second); got != "xread 2.0/s" {
		t.Fatalf("callRates = %q", got)
	}
	if got := callRates(after, after, time.Second); got != "no commands" {
		t.Fatalf("callRates with no change = %q", got)
	}
}

func TestInts(t *testing.T) {
	got, err := ints("100000, 1000000")
	if err != nil || len(got) != 2 || got[1] != 1_000_000 {
		t.Fatalf("ints = %v, %v", got, err)
	}
	for _, bad := range []string{"", "0", "-1", "x"} {
		if _, err := ints(bad); err == nil || !strings.Contains(err.Error(), "positive") {
			t.Errorf("ints(%q): %v", bad, err)
		}
	}
}
