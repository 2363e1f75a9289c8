package bench

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"regexp"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"
)

// The test binary doubles as the baseline processes the process
// scenarios start (ProcMain), as hopbench's proc command does.
const procEnv = "HOPBENCH_TEST_PROC"

func TestMain(m *testing.M) {
	if os.Getenv(procEnv) != "" {
		if err := ProcMain(os.Args[1:]); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	goleak.VerifyTestMain(m,
		// gnet's package-level goroutine pool (ants), started by its init.
		goleak.IgnoreTopFunction("github.com/panjf2000/ants/v2.(*poolCommon).purgeStaleWorkers"),
		goleak.IgnoreTopFunction("github.com/panjf2000/ants/v2.(*poolCommon).ticktock"),
	)
}

func TestMedian(t *testing.T) {
	for _, tc := range []struct {
		in   []float64
		want float64
	}{
		{nil, 0},
		{[]float64{7}, 7},
		{[]float64{3, 1, 2}, 2},
		{[]float64{4, 1, 3, 2}, 2.5},
		{[]float64{5, 5, 100}, 5},
		{[]float64{1, 100, 100, 1, 50}, 50},
	} {
		in := slices.Clone(tc.in)
		if got := median(in); got != tc.want {
			t.Errorf("median(%v) = %v, want %v", tc.in, got, tc.want)
		}
		if !slices.Equal(in, tc.in) {
			t.Errorf("median(%v) reordered its input to %v", tc.in, in)
		}
	}
}

func TestRatio(t *testing.T) {
	for _, tc := range []struct {
		hopwire, baseline float64
		higher            bool
		want              float64
	}{
		{10, 40, false, 4},    // ns/hop: hopwire 4x faster
		{40, 10, false, 0.25}, // ns/hop: hopwire 4x slower
		{300, 100, true, 3},   // msgs/s: hopwire 3x the rate
		{100, 400, true, 0.25},
		{0, 10, false, 0},
		{10, 0, true, 0},
		{-1, 10, false, 0},
		{math.NaN(), 10, true, 0},
		{math.Inf(1), 10, true, 0},
	} {
		if got := ratio(tc.hopwire, tc.baseline, tc.higher); got != tc.want {
			t.Errorf("ratio(%v, %v, higher=%v) = %v, want %v", tc.hopwire, tc.baseline, tc.higher, got, tc.want)
		}
	}
}

func names(scs []Scenario) []string {
	var s []string
	for _, sc := range scs {
		s = append(s, sc.Name)
	}
	return s
}

func TestScenarios(t *testing.T) {
	want := []string{"local hop", "local hop 64KiB", "cross-loop ping-pong",
		"1-hop chain pipelined", "3-hop chain pipelined", "cross-loop chain pipelined", "10-hop chain pipelined"}
	want = append(want, names(scaleScenarios(runtime.GOMAXPROCS(0)))...)
	want = append(want, "TCP hop", "TCP pipelined", "UDP hop", "UDP hop busy-poll",
		"seed route 3 processes", "portal bulk", "portal bulk via relay", "portal ping-pong", "portal ping-pong via relay")
	scs := Scenarios()
	if got := names(scs); !slices.Equal(got, want) {
		t.Fatalf("scenarios %q, want %q", got, want)
	}
	for _, sc := range scs {
		inProcess := sc.RunHopwire != nil && sc.RunBaseline != nil && sc.Setup == nil
		set := sc.Setup != nil && sc.RunHopwire == nil && sc.RunBaseline == nil
		if sc.Baseline == "" || sc.About == "" || sc.PayloadBytes <= 0 || inProcess == set {
			t.Errorf("scenario %q is incomplete: %+v", sc.Name, sc)
		}
		if want := sc.Unit == UnitMsgsPerSec || sc.Unit == UnitMBPerSec; sc.HigherIsBetter != want {
			t.Errorf("scenario %q: unit %s with HigherIsBetter %v", sc.Name, sc.Unit, sc.HigherIsBetter)
		}
	}
}

// There are scaling scenarios for N = 2, 4, 8 … up to GOMAXPROCS.
func TestScaleScenarios(t *testing.T) {
	for _, tc := range []struct {
		procs int
		want  []string
	}{
		{1, nil},
		{2, []string{"scale 2 loops", "scale 2 loops crossing", "scale 2 chan chains"}},
		{3, []string{"scale 2 loops", "scale 2 loops crossing", "scale 2 chan chains"}},
		{8, []string{"scale 2 loops", "scale 2 loops crossing", "scale 2 chan chains",
			"scale 4 loops", "scale 4 loops crossing", "scale 4 chan chains",
			"scale 8 loops", "scale 8 loops crossing", "scale 8 chan chains"}},
	} {
		scs := scaleScenarios(tc.procs)
		if got := names(scs); !slices.Equal(got, tc.want) {
			t.Errorf("GOMAXPROCS %d: scenarios %q, want %q", tc.procs, got, tc.want)
		}
		for _, sc := range scs {
			if !strings.Contains(sc.About, "efficiency") || !strings.Contains(sc.About, "2-core machine shows only N=2") {
				t.Errorf("%s: About does not say what its ratio is, or where it means much: %q", sc.Name, sc.About)
			}
		}
	}
}

// A chain layout's placement: every hop on one loop, or every hop
// crossing loops.
func TestChainLayouts(t *testing.T) {
	const k = 3
	for _, tc := range []struct {
		name  string
		l     chainLayout
		cross bool
	}{
		{"one chain, loop 0 of 2", ownLoops(1, benchLoops), false},
		{"one chain on 1 loop", ownLoops(1, 1), false},
		{"4 chains on 4 loops", ownLoops(4, 4), false},
		{"cross-loop chain", crossLoops(1, 2), true},
		{"4 chains on 4 loops crossing", crossLoops(4, 4), true},
	} {
		for i := range tc.l.chains {
			for j := 0; j <= k+1; j++ {
				loop := tc.l.place(i, j)
				if loop < 0 || loop >= tc.l.loops {
					t.Errorf("%s: chain %d stage %d on loop %d of %d", tc.name, i, j, loop, tc.l.loops)
				}
				if j == 0 {
					continue
				}
				if crosses := loop != tc.l.place(i, j-1); crosses != tc.cross {
					t.Errorf("%s: chain %d stage %d crosses loops: %v, want %v", tc.name, i, j, crosses, tc.cross)
				}
			}
			if !tc.cross && tc.l.place(i, 0) != i {
				t.Errorf("%s: chain %d on loop %d, want its own", tc.name, i, tc.l.place(i, 0))
			}
		}
	}
	// The cross-loop chain pipelined: source 0, h1 1, h2 0, h3 1, sink 0.
	l := crossLoops(1, 2)
	var got []int
	for j := 0; j <= k+1; j++ {
		got = append(got, l.place(0, j))
	}
	if want := []int{0, 1, 0, 1, 0}; !slices.Equal(got, want) {
		t.Errorf("cross-loop chain on loops %v, want %v", got, want)
	}
}

func TestShares(t *testing.T) {
	for _, tc := range []struct {
		total, n int
		want     []int
	}{
		{10, 1, []int{10}},
		{10, 2, []int{5, 5}},
		{11, 4, []int{5, 2, 2, 2}},
		{1, 4, []int{1, 0, 0, 0}},
	} {
		if got := shares(tc.total, tc.n); !slices.Equal(got, tc.want) {
			t.Errorf("shares(%d, %d) = %v, want %v", tc.total, tc.n, got, tc.want)
		}
	}
}

func TestSelectScenarios(t *testing.T) {
	all := Scenarios()
	for _, tc := range []struct {
		only string
		want []string
	}{
		{"", names(all)},
		{"^local", []string{"local hop", "local hop 64KiB"}},
		{"^(1|10)-hop", []string{"1-hop chain pipelined", "10-hop chain pipelined"}},
		{"bulk$", []string{"portal bulk"}},
		{"no such scenario", nil},
	} {
		var re *regexp.Regexp
		if tc.only != "" {
			re = regexp.MustCompile(tc.only)
		}
		if got := names(selectScenarios(all, re)); !slices.Equal(got, tc.want) {
			t.Errorf("only %q selects %q, want %q", tc.only, got, tc.want)
		}
	}
}

func TestRunRejects(t *testing.T) {
	ctx := context.Background()
	if _, err := Run(ctx, Options{Only: regexp.MustCompile("no such scenario")}); !errors.Is(err, ErrNoScenario) {
		t.Errorf("unmatched filter: err %v, want ErrNoScenario", err)
	}
	if _, err := Run(ctx, Options{Rounds: -1}); err == nil {
		t.Error("negative rounds: no error")
	}
	if _, err := Run(ctx, Options{BenchTime: -time.Second}); err == nil {
		t.Error("negative benchtime: no error")
	}
}

func TestOptionsDefaults(t *testing.T) {
	o, err := Options{}.withDefaults()
	if err != nil || o.Rounds != Quick.Rounds || o.BenchTime != Quick.BenchTime || o.Only != nil || o.Progress == nil {
		t.Fatalf("zero Options -> %+v, %v", o, err)
	}
	o, err = Options{Rounds: 5, BenchTime: time.Millisecond}.withDefaults()
	if err != nil || o.Rounds != 5 || o.BenchTime != time.Millisecond {
		t.Fatalf("set Options -> %+v, %v", o, err)
	}
}

// fake returns a scenario whose sides report fixed figures and log
// "name/h" or "name/b" into *log when they run.
func fake(name string, hopwire, baseline float64, unit string, log *[]string) Scenario {
	side := func(tag string, v float64) func(*testing.B) {
		return func(b *testing.B) {
			// testing.Benchmark runs a side more than once.
			if n := len(*log); n == 0 || (*log)[n-1] != tag {
				*log = append(*log, tag)
			}
			b.ReportMetric(v, unit)
		}
	}
	return Scenario{
		Name: name, Baseline: name + " baseline", Unit: unit, HigherIsBetter: unit == UnitMsgsPerSec,
		PayloadBytes: 64, RunHopwire: side(name+"/h", hopwire), RunBaseline: side(name+"/b", baseline),
	}
}

func TestRunInterleavesAndSummarises(t *testing.T) {
	var log []string
	scs := []Scenario{
		fake("lat", 10, 25, UnitNsPerHop, &log),
		fake("rate", 2e6, 5e6, UnitMsgsPerSec, &log),
	}
	var progress bytes.Buffer
	rep, err := run(context.Background(), scs, Options{Rounds: 3, BenchTime: time.Millisecond, Progress: &progress})
	if err != nil {
		t.Fatal(err)
	}
	// Each round measures every scenario; odd rounds hopwire first.
	want := []string{"lat/h", "lat/b", "rate/h", "rate/b", "lat/b", "lat/h", "rate/b", "rate/h", "lat/h", "lat/b", "rate/h", "rate/b"}
	if !slices.Equal(log, want) {
		t.Errorf("sides ran in order %v, want %v", log, want)
	}
	if len(rep.Results) != 2 || rep.Rounds != 3 || rep.RoundsAsked != 3 || rep.Machine.GoVersion == "" || rep.Machine.GOMAXPROCS == 0 {
		t.Fatalf("report %+v", rep)
	}
	lat, rate := rep.Results[0], rep.Results[1]
	if lat.Name != "lat" || lat.Baseline != "lat baseline" || lat.Unit != UnitNsPerHop || lat.Rounds != 3 ||
		lat.HopwireMetric != 10 || lat.BaselineMetric != 25 || lat.Ratio != 2.5 || lat.RatioMin != 2.5 || lat.RatioMax != 2.5 ||
		!slices.Equal(lat.HopwireSamples, []float64{10, 10, 10}) || !slices.Equal(lat.RatioSamples, []float64{2.5, 2.5, 2.5}) ||
		len(lat.BaselineSamples) != 3 || lat.HopwireLatency != nil {
		t.Errorf("lat result %+v", lat)
	}
	if rate.Ratio != 0.4 || !rate.HigherIsBetter || rate.HopwireMetric != 2e6 {
		t.Errorf("rate result %+v", rate)
	}
	for _, s := range []string{"round 1/3  lat: hopwire 10.0 ns/hop, lat baseline 25.0 ns/hop: 2.50x", "round 3/3  rate:", "2.00M msgs/s", "left"} {
		if !strings.Contains(progress.String(), s) {
			t.Errorf("progress lacks %q:\n%s", s, progress.String())
		}
	}
}

func TestLiveProgress(t *testing.T) {
	var log []string
	var progress bytes.Buffer
	_, err := run(context.Background(), []Scenario{fake("x", 1, 2, UnitNsPerHop, &log)},
		Options{Rounds: 2, BenchTime: time.Millisecond, Progress: &progress, Live: true})
	if err != nil {
		t.Fatal(err)
	}
	out := progress.String()
	for _, s := range []string{"\r\x1b[Kround 1/2  x: hopwire", "\r\x1b[Kround 2/2  x: x baseline", "left"} {
		if !strings.Contains(out, s) {
			t.Errorf("live progress lacks %q: %q", s, out)
		}
	}
	if strings.Contains(out, "\n") || !strings.HasSuffix(out, "\r\x1b[K") {
		t.Errorf("live progress is not one line, cleared at the end: %q", out)
	}
}

func TestRunFailures(t *testing.T) {
	ctx := context.Background()
	opts := Options{Rounds: 1, BenchTime: time.Millisecond}
	ok := func(b *testing.B) { b.ReportMetric(1, UnitNsPerHop) }
	for _, tc := range []struct {
		name      string
		sc        Scenario
		wantInErr []string
	}{
		{"fatalf", Scenario{Name: "f", Baseline: "g", Unit: UnitNsPerHop, RunHopwire: func(b *testing.B) { fatalf(b, "boom %d", 42) }, RunBaseline: ok},
			[]string{"f: hopwire side", "boom 42"}},
		{"plain fatal", Scenario{Name: "f", Baseline: "g", Unit: UnitNsPerHop, RunHopwire: ok, RunBaseline: func(b *testing.B) { b.Fatal("x") }},
			[]string{"baseline side (g)", "benchmark failed"}},
		{"no metric", Scenario{Name: "f", Baseline: "g", Unit: UnitNsPerHop, RunHopwire: func(b *testing.B) {}, RunBaseline: ok},
			[]string{"no ns/hop metric"}},
	} {
		_, err := run(ctx, []Scenario{tc.sc}, opts)
		if err == nil {
			t.Errorf("%s: no error", tc.name)
			continue
		}
		for _, s := range tc.wantInErr {
			if !strings.Contains(err.Error(), s) {
				t.Errorf("%s: error %q lacks %q", tc.name, err, s)
			}
		}
	}
}

func TestRunCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	var log []string
	_, err := run(ctx, []Scenario{fake("x", 1, 1, UnitNsPerHop, &log)}, Options{})
	if !errors.Is(err, context.Canceled) || len(log) != 0 {
		t.Fatalf("err %v, ran %v; want context.Canceled before any side ran", err, log)
	}
}

// TestTinyRun runs every in-process and socket scenario briefly: each
// completes, reports a positive figure on both sides, the hopwire side
// allocates nothing, and the round trips come with their distribution.
// Without a hopwire binary the process scenarios are skipped, and say
// so. It asserts no timing.
func TestTinyRun(t *testing.T) {
	scs := Scenarios()
	var progress bytes.Buffer
	rep, err := run(context.Background(), scs, Options{Rounds: 1, BenchTime: 10 * time.Millisecond, Progress: &progress})
	t.Log("\n" + progress.String())
	if err != nil {
		t.Fatal(err)
	}
	var inProcess, processes []string
	for _, sc := range scs {
		if sc.Processes() {
			processes = append(processes, sc.Name)
		} else {
			inProcess = append(inProcess, sc.Name)
		}
	}
	var skipped []string
	for _, s := range rep.Skipped {
		skipped = append(skipped, s.Name)
		if s.Reason != "no hopwire binary" {
			t.Errorf("%s skipped for %q", s.Name, s.Reason)
		}
	}
	if got := names2(rep.Results); !slices.Equal(got, inProcess) || !slices.Equal(skipped, processes) {
		t.Fatalf("ran %q and skipped %q; want %q and %q", got, skipped, inProcess, processes)
	}
	for _, r := range rep.Results {
		checkResult(t, r)
		if raceEnabled {
			continue // the race detector allocates, and sync.Pool drops items under it
		}
		if r.HopwireAllocs != 0 && allocsNote(r.Name) == "" {
			t.Errorf("%s: hopwire side %d allocs/op, want 0", r.Name, r.HopwireAllocs)
		}
	}
}

// checkResult checks that r has positive figures and, for a round-trip
// scenario, a distribution on both sides.
func checkResult(t *testing.T, r Result) {
	t.Helper()
	if !(r.HopwireMetric > 0) || !(r.BaselineMetric > 0) || !(r.Ratio > 0) || len(r.RatioSamples) != r.Rounds {
		t.Errorf("%s: figures not positive: %+v", r.Name, r)
	}
	if r.Unit != UnitP50RTT {
		return
	}
	for _, l := range []*Latency{r.HopwireLatency, r.BaselineLatency} {
		if l == nil || l.Count == 0 || !(l.P50 > 0) || l.P50 > l.P90 || l.P90 > l.P99 || l.P99 > l.P999 || l.P999 > l.Max ||
			l.Histogram() == nil || l.Histogram().TotalCount() != l.Count {
			t.Errorf("%s: latency %+v", r.Name, l)
		}
	}
}

func names2(rs []Result) []string {
	var s []string
	for _, r := range rs {
		s = append(s, r.Name)
	}
	return s
}

func allocsNote(name string) string {
	for _, sc := range Scenarios() {
		if sc.Name == name {
			return sc.AllocsNote
		}
	}
	return ""
}

// BenchmarkScenarios runs each side of each in-process and socket
// scenario as an ordinary Go benchmark: go test -run '^$' -bench Scenarios ./bench
// (the process scenarios need hopbench, which sets them up).
func BenchmarkScenarios(b *testing.B) {
	for _, sc := range Scenarios() {
		if sc.Processes() {
			continue
		}
		b.Run(sc.Name+"/hopwire", sc.RunHopwire)
		b.Run(sc.Name+"/baseline", sc.RunBaseline)
	}
}

// A run cut short reports the rounds it finished, and says so.
func TestRunCutShort(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	sc := Scenario{Name: "x", Baseline: "y", Unit: UnitNsPerHop,
		RunHopwire:  func(b *testing.B) { b.ReportMetric(1, UnitNsPerHop) },
		RunBaseline: func(b *testing.B) { cancel(); b.ReportMetric(2, UnitNsPerHop) },
	}
	rep, err := run(ctx, []Scenario{sc}, Options{Rounds: 3, BenchTime: time.Millisecond})
	if !errors.Is(err, context.Canceled) || rep == nil || rep.Rounds != 1 || rep.RoundsAsked != 3 ||
		len(rep.Results) != 1 || rep.Results[0].Rounds != 1 || rep.Results[0].Ratio != 2 {
		t.Fatalf("err %v, report %+v", err, rep)
	}
	var b bytes.Buffer
	if err := WriteTable(&b, rep); err != nil || !strings.Contains(b.String(), "1 of 3 rounds (cut short)") {
		t.Errorf("table (%v):\n%s", err, b.String())
	}
}
