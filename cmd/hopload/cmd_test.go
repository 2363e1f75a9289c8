package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

func execute(t *testing.T, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), guard)
	defer cancel()
	var out, errOut bytes.Buffer
	cmd := newCommand()
	cmd.SetArgs(args)
	cmd.SetOut(&out)
	cmd.SetErr(&errOut)
	err = cmd.ExecuteContext(ctx)
	return out.String(), errOut.String(), err
}

func TestHelp(t *testing.T) {
	out, _, err := execute(t, "--help")
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{
		"--to", "--size", "--count", "--duration", "--concurrency", "--window",
		"--rate", "--timeout", "--progress", "--json", "--connections", "--warmup", "--histogram",
		"hopwire node run", "'1#127.0.0.1:4000 => echoer'", "/ip4/127.0.0.1/tcp/4000/service/hop/service/echoer",
		"/node/n1/service/echo", "Open loop", "scheduled time", "Exit status",
	} {
		if !strings.Contains(out, s) {
			t.Errorf("help lacks %q", s)
		}
	}
}

func TestJSONOutput(t *testing.T) {
	srv := startServer(t, false, nil)
	out, _, err := execute(t, "--to", srv.route("hop => echoer"), "--count", "300", "--window", "8", "--json", "--progress", "0")
	if err != nil {
		t.Fatal(err)
	}
	var res Result
	if err := json.Unmarshal([]byte(out), &res); err != nil {
		t.Fatalf("stdout is not one JSON object: %v\n%s", err, out)
	}
	if res.Sent != 300 || res.Received != 300 || res.Lost != 0 || res.Window != 8 || res.Latency.P99 <= 0 {
		t.Errorf("result %+v", res)
	}
	var fields map[string]any
	if err := json.Unmarshal([]byte(out), &fields); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"route", "sent", "received", "lost", "errors", "msgs_per_s", "mb_per_s", "latency_us"} {
		if _, ok := fields[k]; !ok {
			t.Errorf("JSON lacks %q: %s", k, out)
		}
	}
	if strings.Count(strings.TrimSpace(out), "\n") != 0 {
		t.Errorf("JSON is not on one line: %s", out)
	}
}

func TestTextOutput(t *testing.T) {
	srv := startServer(t, false, nil)
	out, progress, err := execute(t, "--to", srv.route("echoer"), "--count", "200", "--progress", "5ms", "--rate", "4000")
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{
		"open loop at 4000 msgs/s", "sent 200, received 200, lost 0, errors 0", "msgs/s", "p99.9",
		"schedule   sent", "sent late", "max lag", "uncorrected p50",
	} {
		if !strings.Contains(out, s) {
			t.Errorf("summary lacks %q:\n%s", s, out)
		}
	}
	for _, s := range []string{"sent", "received", "late", "p50", "p99"} {
		if !strings.Contains(progress, s) {
			t.Errorf("progress lines on stderr lack %q: %q", s, progress)
		}
	}
}

// An open loop's JSON has its schedule and both latencies; --histogram
// writes the HDR percentile distribution of the corrected one.
func TestJSONOpenLoopAndHistogram(t *testing.T) {
	srv := startServer(t, false, nil)
	hist := filepath.Join(t.TempDir(), "lat.hgrm")
	out, _, err := execute(t, "--to", srv.route("echoer"), "--count", "300", "--rate", "3000",
		"--concurrency", "2", "--connections", "2", "--json", "--progress", "0", "--histogram", hist)
	if err != nil {
		t.Fatal(err)
	}
	var res Result
	if err := json.Unmarshal([]byte(out), &res); err != nil {
		t.Fatalf("stdout is not one JSON object: %v\n%s", err, out)
	}
	if res.Mode != "open" || res.Connections != 2 || res.Measured != 300 || res.Schedule == nil || res.Schedule.Scheduled != 300 ||
		res.Uncorrected == nil || res.Uncorrected.P50 <= 0 || res.Latency.P50 < res.Uncorrected.P50 {
		t.Errorf("result %s", out)
	}
	var fields map[string]any
	if err := json.Unmarshal([]byte(out), &fields); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"mode", "connections", "measured", "schedule", "latency_us", "uncorrected_latency_us", "bounced"} {
		if _, ok := fields[k]; !ok {
			t.Errorf("JSON lacks %q: %s", k, out)
		}
	}
	b, err := os.ReadFile(hist)
	if err != nil {
		t.Fatal(err)
	}
	text := string(b)
	if !strings.HasPrefix(text, " Value\tPercentile\tTotalCount\t1/(1-Percentile)") ||
		!regexp.MustCompile(`Total count\s+=\s+300\]`).MatchString(text) || strings.Count(text, "\n") < 10 {
		t.Errorf("histogram file:\n%s", text)
	}
}

// Lost requests: the summary is printed and the command fails with a
// one-line reason.
func TestCommandFailsOnLoss(t *testing.T) {
	srv := startServer(t, false, services{"sink": sink})
	out, _, err := execute(t, "--to", srv.route("sink"), "--count", "3", "--timeout", "50ms", "--progress", "0")
	if err == nil {
		t.Fatal("no error")
	}
	if msg := err.Error(); !strings.Contains(msg, "3 of 3 requests lost") || strings.Contains(msg, "\n") {
		t.Errorf("error %q", msg)
	}
	if !strings.Contains(out, "lost 3") {
		t.Errorf("summary:\n%s", out)
	}
}

func TestCommandRefusesBadFlags(t *testing.T) {
	for _, args := range [][]string{
		{},
		{"--to", "1#127.0.0.1:1 =>"},
		{"--to", "1#127.0.0.1:1 => echoer", "--size", "1"},
		{"--to", "1#127.0.0.1:1 => echoer", "extra"},
		{"--to", "1#127.0.0.1:1 => echoer", "--window", "0x"},
		{"--to", "1#127.0.0.1:1 => echoer", "--window", "0"},
		{"--to", "1#127.0.0.1:1 => echoer", "--timeout", "0"},
		{"--to", "1#127.0.0.1:1 => echoer", "--rate", "100", "--window", "4"},
		{"--to", "1#127.0.0.1:1 => echoer", "--connections", "2"},
		{"--to", "1#127.0.0.1:1 => echoer", "--connections", "0"},
		{"--to", "1#127.0.0.1:1 => echoer", "--duration", "1s", "--warmup", "2s"},
		{"--to", "/ip4/127.0.0.1/tcp/1/servce/echo"},
	} {
		out, _, err := execute(t, args...)
		if err == nil {
			t.Errorf("%q: no error", args)
		}
		if out != "" {
			t.Errorf("%q: printed %q", args, out)
		}
	}
}
