package bench

import (
	"bytes"
	"strings"
	"testing"
	"time"
)

// sampleReport is a report of two rounds: a round-trip scenario with its
// distributions, a bimodal one, a message rate and a process scenario.
func sampleReport(t *testing.T) *Report {
	t.Helper()
	hist := func(us ...int64) *Latency {
		h := newRTTHist()
		for _, v := range us {
			h.RecordValue(v * 1000)
		}
		return latencyOf(h)
	}
	return &Report{
		Machine:   Machine{Date: time.Date(2026, 11, 28, 10, 0, 0, 0, time.UTC), Commit: "abc123", GoVersion: "go1.26.8", OSArch: "linux/amd64", GOMAXPROCS: 2, NumCPU: 2, CPU: "AMD EPYC", Kernel: "Linux 6.18"},
		Rounds:    2,
		BenchTime: "150ms",
		Results: []Result{
			{Name: "TCP hop", Baseline: "raw TCP ping-pong", Unit: UnitP50RTT, PayloadBytes: 64,
				HopwireMetric: 20, BaselineMetric: 19, Ratio: 0.95, RatioMin: 0.9, RatioMax: 1.0, RatioSamples: []float64{0.9, 1.0},
				HopwireLatency: hist(18, 20, 22, 90), BaselineLatency: hist(17, 19, 21, 80), Rounds: 2,
				HopwireSamples: []float64{21, 19}, BaselineSamples: []float64{19, 19}},
			{Name: "UDP hop", Baseline: "raw UDP ping-pong", Unit: UnitNsPerHop, PayloadBytes: 64, Bimodal: "wake-ups",
				HopwireMetric: 40, BaselineMetric: 160, Ratio: 4, RatioMin: 3.9, RatioMax: 4.1, RatioSamples: []float64{3.9, 4.1}, Rounds: 2,
				HopwireSamples: []float64{40, 41}, BaselineSamples: []float64{160, 150}},
			{Name: "3-hop chain pipelined", Baseline: "3-stage chan chain", Unit: UnitMsgsPerSec, HigherIsBetter: true,
				PayloadBytes: 64, HopwireMetric: 7.5e6, BaselineMetric: 2.5e6, Ratio: 3, RatioMin: 2.8, RatioMax: 3.2, RatioSamples: []float64{2.8, 3.2},
				BaselineAllocs: 1, Rounds: 2, HopwireSamples: []float64{7e6, 8e6}, BaselineSamples: []float64{2.5e6, 2.5e6}},
			{Name: "portal bulk", Baseline: "direct TCP", Unit: UnitMBPerSec, HigherIsBetter: true, PayloadBytes: 256 << 10, Processes: true,
				HopwireMetric: 500, BaselineMetric: 2500, Ratio: 0.2, RatioMin: 0.19, RatioMax: 0.21, RatioSamples: []float64{0.19, 0.21}, Rounds: 2,
				HopwireSamples: []float64{480, 520}, BaselineSamples: []float64{2500, 2500}},
		},
		Skipped: []Skipped{{Name: "seed route 3 processes", Reason: "no hopwire binary"}},
	}
}

func TestWriteTable(t *testing.T) {
	var b bytes.Buffer
	if err := WriteTable(&b, sampleReport(t)); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	for _, s := range []string{
		"2026-11-28 10:00 UTC", "commit abc123", "go1.26.8", "GOMAXPROCS=2", "AMD EPYC", "kernel Linux 6.18", "2 rounds",
		"SCENARIO", "RATIO", "ROUNDS", "ALLOCS/OP",
		"TCP hop", "20.0 µs-p50", "(raw TCP ping-pong)", "0.95x", "0.90-1.00",
		"4.00x *", "known to be bimodal",
		"7.50M msgs/s 480 MB/s", "2.50M msgs/s 160 MB/s", "0 / 1",
		"256 KiB", "500 MB/s", "2500 MB/s",
		"p50", "p99.9", "max", "raw TCP ping-pong  19.0  80.1", "90.0",
		"skipped seed route 3 processes: no hopwire binary",
	} {
		if !strings.Contains(out, s) {
			t.Errorf("table lacks %q:\n%s", s, out)
		}
	}
	if line := lineWith(out, "portal bulk"); !strings.HasSuffix(strings.TrimSpace(line), "-") {
		t.Errorf("a process scenario shows allocations: %q", line)
	}
}

func lineWith(s, sub string) string {
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) {
			return l
		}
	}
	return ""
}

func TestJSONRoundTrip(t *testing.T) {
	in := sampleReport(t)
	var b bytes.Buffer
	if err := WriteJSON(&b, in); err != nil {
		t.Fatal(err)
	}
	for _, key := range []string{`"machine"`, `"go_version"`, `"gomaxprocs"`, `"cpu"`, `"kernel"`, `"commit"`, `"date"`,
		`"ratio"`, `"ratio_min"`, `"ratio_max"`, `"p99_9_us"`, `"hdr_histogram"`, `"payload_bytes"`, `"skipped"`} {
		if !bytes.Contains(b.Bytes(), []byte(key)) {
			t.Errorf("JSON lacks key %s", key)
		}
	}
	out, err := ReadJSON(&b)
	if err != nil {
		t.Fatal(err)
	}
	if !out.Machine.Date.Equal(in.Machine.Date) || len(out.Results) != len(in.Results) || out.Results[2].Ratio != 3 {
		t.Fatalf("round trip: %+v", out)
	}
	h := out.Results[0].HopwireLatency.Histogram()
	if h == nil || h.TotalCount() != 4 || h.Max() < 89_000 {
		t.Errorf("histogram after the round trip: %v", h)
	}
	if _, err := ReadJSON(strings.NewReader("not json")); err == nil {
		t.Error("ReadJSON took garbage")
	}
}
