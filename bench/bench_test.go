package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"math"
	"slices"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
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
	want := []string{"local hop", "local hop 64KiB", "cross-loop ping-pong", "3-hop chain pipelined", "10-hop chain pipelined",
		"TCP hop", "TCP pipelined", "UDP hop", "UDP hop busy-poll"}
	scs := Scenarios()
	if got := names(scs); !slices.Equal(got, want) {
		t.Fatalf("scenarios %q, want %q", got, want)
	}
	for _, sc := range scs {
		if sc.Baseline == "" || sc.About == "" || sc.PayloadBytes <= 0 || sc.RunHopwire == nil || sc.RunBaseline == nil {
			t.Errorf("scenario %q is incomplete: %+v", sc.Name, sc)
		}
		if want := sc.Unit == UnitMsgsPerSec; sc.HigherIsBetter != want {
			t.Errorf("scenario %q: unit %s with HigherIsBetter %v", sc.Name, sc.Unit, sc.HigherIsBetter)
		}
	}
}

func TestSelectScenarios(t *testing.T) {
	all := Scenarios()
	for _, tc := range []struct {
		filter string
		want   []string
	}{
		{"", names(all)},
		{"local", []string{"local hop", "local hop 64KiB"}},
		{"chain", []string{"3-hop chain pipelined", "10-hop chain pipelined"}},
		{"10-hop", []string{"10-hop chain pipelined"}},
		{"no such scenario", nil},
	} {
		if got := names(selectScenarios(all, tc.filter)); !slices.Equal(got, tc.want) {
			t.Errorf("filter %q selects %q, want %q", tc.filter, got, tc.want)
		}
	}
}

func TestRunRejects(t *testing.T) {
	ctx := context.Background()
	if _, err := Run(ctx, Options{Filter: "no such scenario"}, nil); !errors.Is(err, ErrNoScenario) {
		t.Errorf("unmatched filter: err %v, want ErrNoScenario", err)
	}
	if _, err := Run(ctx, Options{Rounds: -1}, nil); err == nil {
		t.Error("negative rounds: no error")
	}
	if _, err := Run(ctx, Options{BenchTime: -time.Second}, nil); err == nil {
		t.Error("negative benchtime: no error")
	}
}

func TestOptionsDefaults(t *testing.T) {
	o, err := Options{}.withDefaults()
	if err != nil || o.Rounds != DefaultRounds || o.BenchTime != DefaultBenchTime || o.Filter != "" {
		t.Fatalf("zero Options -> %+v, %v", o, err)
	}
	o, err = Options{Rounds: 5, BenchTime: time.Millisecond, Filter: "x"}.withDefaults()
	if err != nil || o.Rounds != 5 || o.BenchTime != time.Millisecond || o.Filter != "x" {
		t.Fatalf("set Options -> %+v, %v", o, err)
	}
}

// fake returns a scenario whose sides report fixed figures and log which
// side ran into *log.
func fake(name string, hopwire, baseline float64, unit string, log *[]string) Scenario {
	side := func(tag string, v float64) func(*testing.B) {
		return func(b *testing.B) {
			if n := len(*log); n == 0 || (*log)[n-1] != tag {
				*log = append(*log, tag)
			}
			b.ReportMetric(v, unit)
		}
	}
	return Scenario{
		Name: name, Baseline: name + " baseline", Unit: unit, HigherIsBetter: unit == UnitMsgsPerSec,
		PayloadBytes: 64, RunHopwire: side("h", hopwire), RunBaseline: side("b", baseline),
	}
}

func TestRunInterleavesAndSummarises(t *testing.T) {
	var log []string
	scs := []Scenario{
		fake("lat", 10, 25, UnitNsPerHop, &log),
		fake("rate", 2e6, 5e6, UnitMsgsPerSec, &log),
	}
	var progress bytes.Buffer
	rs, err := run(context.Background(), scs, Options{Rounds: 3, BenchTime: time.Millisecond}, &progress)
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"h", "b", "h", "b", "h", "b", "h", "b", "h", "b", "h", "b"}; !slices.Equal(log, want) {
		t.Errorf("sides ran in order %v, want %v", log, want)
	}
	if len(rs) != 2 {
		t.Fatalf("%d results, want 2", len(rs))
	}
	lat, rate := rs[0], rs[1]
	if lat.Name != "lat" || lat.Baseline != "lat baseline" || lat.Unit != UnitNsPerHop || lat.Rounds != 3 ||
		lat.HopwireMetric != 10 || lat.BaselineMetric != 25 || lat.Ratio != 2.5 ||
		!slices.Equal(lat.HopwireSamples, []float64{10, 10, 10}) || len(lat.BaselineSamples) != 3 {
		t.Errorf("lat result %+v", lat)
	}
	if rate.Ratio != 0.4 || !rate.HigherIsBetter || rate.HopwireMetric != 2e6 {
		t.Errorf("rate result %+v", rate)
	}
	for _, s := range []string{"lat (vs lat baseline)", "round 3/3", "rate (vs rate baseline)", "2.00M msgs/s"} {
		if !strings.Contains(progress.String(), s) {
			t.Errorf("progress lacks %q:\n%s", s, progress.String())
		}
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
		_, err := run(ctx, []Scenario{tc.sc}, opts, nil)
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
	_, err := run(ctx, []Scenario{fake("x", 1, 1, UnitNsPerHop, &log)}, Options{}, nil)
	if !errors.Is(err, context.Canceled) || len(log) != 0 {
		t.Fatalf("err %v, ran %v; want context.Canceled before any side ran", err, log)
	}
}

// TestTinyRun runs every real scenario briefly: each completes, reports a
// positive figure on both sides, and the hopwire side allocates nothing.
// It asserts no timing.
func TestTinyRun(t *testing.T) {
	var progress bytes.Buffer
	rs, err := Run(context.Background(), Options{Rounds: 1, BenchTime: 10 * time.Millisecond}, &progress)
	t.Log("\n" + progress.String())
	if err != nil {
		t.Fatal(err)
	}
	if got, want := len(rs), len(Scenarios()); got != want {
		t.Fatalf("%d results, want %d", got, want)
	}
	for _, r := range rs {
		if !(r.HopwireMetric > 0) || !(r.BaselineMetric > 0) || !(r.Ratio > 0) {
			t.Errorf("%s: figures not positive: %+v", r.Name, r)
		}
		if raceEnabled {
			continue // the race detector allocates, and sync.Pool drops items under it
		}
		if r.HopwireAllocs != 0 && allocsNote(r.Name) == "" {
			t.Errorf("%s: hopwire side %d allocs/op, want 0", r.Name, r.HopwireAllocs)
		}
	}
}

func allocsNote(name string) string {
	for _, sc := range Scenarios() {
		if sc.Name == name {
			return sc.AllocsNote
		}
	}
	return ""
}

func sampleResults() []Result {
	return []Result{
		{Name: "local hop", Baseline: "chan ping-pong", Unit: UnitNsPerHop, PayloadBytes: 64,
			HopwireMetric: 40, BaselineMetric: 160, Ratio: 4, Rounds: 3,
			HopwireSamples: []float64{40, 41, 39}, BaselineSamples: []float64{160, 150, 170}},
		{Name: "3-hop chain pipelined", Baseline: "3-stage chan chain", Unit: UnitMsgsPerSec, HigherIsBetter: true,
			PayloadBytes: 64 << 10, HopwireMetric: 7.5e6, BaselineMetric: 2.5e6, Ratio: 3, BaselineAllocs: 1, Rounds: 3},
	}
}

func TestWriteTable(t *testing.T) {
	var b bytes.Buffer
	if err := WriteTable(&b, sampleResults()); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	for _, s := range []string{
		"median of 3 rounds", "SCENARIO", "RATIO", "ALLOCS/OP",
		"local hop", "40.0 ns/hop", "160.0 ns/hop", "(chan ping-pong)", "4.00x", "0 / 0",
		"3-hop chain pipelined", "64 KiB", "7.50M msgs/s", "(3-stage chan chain)", "3.00x", "0 / 1",
		"ratio: how many times better",
	} {
		if !strings.Contains(out, s) {
			t.Errorf("table lacks %q:\n%s", s, out)
		}
	}
}

func TestWriteJSON(t *testing.T) {
	var b bytes.Buffer
	in := sampleResults()
	if err := WriteJSON(&b, in); err != nil {
		t.Fatal(err)
	}
	var out []Result
	if err := json.Unmarshal(b.Bytes(), &out); err != nil {
		t.Fatal(err)
	}
	if len(out) != len(in) || out[0].Name != in[0].Name || out[1].Ratio != in[1].Ratio ||
		!slices.Equal(out[0].HopwireSamples, in[0].HopwireSamples) {
		t.Errorf("round trip: got %+v", out)
	}
	for _, key := range []string{`"name"`, `"baseline"`, `"unit"`, `"hopwire_metric"`, `"baseline_metric"`,
		`"ratio"`, `"hopwire_allocs_per_op"`, `"baseline_allocs_per_op"`, `"payload_bytes"`} {
		if !bytes.Contains(b.Bytes(), []byte(key)) {
			t.Errorf("JSON lacks key %s", key)
		}
	}
	b.Reset()
	if err := WriteJSON(&b, nil); err != nil || strings.TrimSpace(b.String()) != "[]" {
		t.Errorf("no results: %q, %v", b.String(), err)
	}
}

// BenchmarkScenarios runs each side of each scenario as an ordinary Go
// benchmark: go test -run '^$' -bench Scenarios ./bench
func BenchmarkScenarios(b *testing.B) {
	for _, sc := range Scenarios() {
		b.Run(sc.Name+"/hopwire", sc.RunHopwire)
		b.Run(sc.Name+"/baseline", sc.RunBaseline)
	}
}
