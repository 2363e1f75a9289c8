// Package bench is hopwire's benchmark harness.
//
// Every figure it reports is measured beside a baseline in the same run:
// a scenario pairs what hopwire does (a hop, a ping-pong, a pipelined
// chain, a hop over TCP or UDP) with the plain-Go way of doing the same
// thing (goroutines and channels moving the same pooled messages; plain
// net.Conn and net.UDPConn on the same loopback). Both sides run under
// testing.Benchmark, in rounds interleaved hopwire, baseline, hopwire,
// baseline…, so the noise of a shared machine hits both; the report is the
// median of each side and their ratio. Absolute numbers do not travel
// between machines; ratios do, roughly.
//
// Run is not safe for concurrent use with itself or with other callers of
// testing.Benchmark: it sets testing's benchtime for its duration.
package bench

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// Defaults for a zero Options.
const (
	DefaultRounds    = 3
	DefaultBenchTime = 200 * time.Millisecond
)

// Units the scenarios report in.
const (
	UnitNsPerHop   = "ns/hop" // lower is better
	UnitMsgsPerSec = "msgs/s" // higher is better
	UnitP50RTT     = "µs-p50" // a round trip's median, over sockets; lower is better
)

// ErrNoScenario is returned by Run when Options.Filter matches no scenario.
var ErrNoScenario = errors.New("bench: no scenario matches the filter")

// Scenario is one measurement: hopwire doing something, and the baseline
// it is held against. Both funcs are ordinary Go benchmark bodies; each
// must report its metric with b.ReportMetric(v, Unit).
type Scenario struct {
	Name           string // what hopwire does, e.g. "local hop"
	Baseline       string // what it is measured against, e.g. "chan ping-pong"
	About          string // one line: what exactly runs on each side
	Unit           string // the metric both sides report, e.g. UnitNsPerHop
	HigherIsBetter bool   // true for throughput units (msgs/s)
	PayloadBytes   int    // payload size of hopwire's side
	// AllocsNote, if set, says why hopwire's side allocates per operation
	// (in a dependency); a scenario without one must not.
	AllocsNote string

	RunHopwire  func(b *testing.B)
	RunBaseline func(b *testing.B)
}

// Result is what Run reports for one scenario.
type Result struct {
	Name           string `json:"name"`
	Baseline       string `json:"baseline"`
	Unit           string `json:"unit"`
	HigherIsBetter bool   `json:"higher_is_better"`
	PayloadBytes   int    `json:"payload_bytes"`

	// Medians over the rounds.
	HopwireMetric  float64 `json:"hopwire_metric"`
	BaselineMetric float64 `json:"baseline_metric"`

	// Ratio is how many times better hopwire did than its baseline:
	// baseline/hopwire for a lower-is-better unit, hopwire/baseline for a
	// higher-is-better one, from the medians. Above 1, hopwire is ahead.
	// It is 0 when either median is not positive.
	Ratio float64 `json:"ratio"`

	// Allocations per operation: the most any round saw.
	HopwireAllocs  int64 `json:"hopwire_allocs_per_op"`
	BaselineAllocs int64 `json:"baseline_allocs_per_op"`

	Rounds          int       `json:"rounds"`
	HopwireSamples  []float64 `json:"hopwire_samples"`
	BaselineSamples []float64 `json:"baseline_samples"`
}

// Options configures Run. The zero value means a quick run with defaults.
type Options struct {
	Rounds    int           // measurements of each side; 0 means DefaultRounds
	BenchTime time.Duration // the time each measurement aims at (testing's -benchtime); 0 means DefaultBenchTime
	Filter    string        // run only scenarios whose name contains it; "" runs all
}

func (o Options) withDefaults() (Options, error) {
	if o.Rounds < 0 {
		return o, fmt.Errorf("bench: Options.Rounds %d must not be negative", o.Rounds)
	}
	if o.BenchTime < 0 {
		return o, fmt.Errorf("bench: Options.BenchTime %v must not be negative", o.BenchTime)
	}
	if o.Rounds == 0 {
		o.Rounds = DefaultRounds
	}
	if o.BenchTime == 0 {
		o.BenchTime = DefaultBenchTime
	}
	return o, nil
}

// Run measures every scenario of Scenarios whose name contains
// opts.Filter, writing progress (scenario names and per-round figures) to
// progress, which may be nil. It checks ctx between measurements. On error
// it returns the results of the scenarios finished so far.
func Run(ctx context.Context, opts Options, progress io.Writer) ([]Result, error) {
	return run(ctx, Scenarios(), opts, progress)
}

// runMu serialises runs: they set testing's global benchtime.
var runMu sync.Mutex

func run(ctx context.Context, all []Scenario, opts Options, progress io.Writer) ([]Result, error) {
	opts, err := opts.withDefaults()
	if err != nil {
		return nil, err
	}
	if progress == nil {
		progress = io.Discard
	}
	scs := selectScenarios(all, opts.Filter)
	if len(scs) == 0 {
		return nil, fmt.Errorf("%w %q", ErrNoScenario, opts.Filter)
	}
	runMu.Lock()
	defer runMu.Unlock()
	restore, err := setBenchTime(opts.BenchTime)
	if err != nil {
		return nil, err
	}
	defer restore()

	results := make([]Result, 0, len(scs))
	for _, sc := range scs {
		r, err := measure(ctx, sc, opts.Rounds, progress)
		if err != nil {
			return results, err
		}
		results = append(results, r)
	}
	return results, nil
}

// selectScenarios returns the scenarios whose name contains filter.
func selectScenarios(all []Scenario, filter string) []Scenario {
	var out []Scenario
	for _, sc := range all {
		if strings.Contains(sc.Name, filter) {
			out = append(out, sc)
		}
	}
	return out
}

// measure runs sc's two sides rounds times, interleaved.
func measure(ctx context.Context, sc Scenario, rounds int, progress io.Writer) (Result, error) {
	r := Result{
		Name:           sc.Name,
		Baseline:       sc.Baseline,
		Unit:           sc.Unit,
		HigherIsBetter: sc.HigherIsBetter,
		PayloadBytes:   sc.PayloadBytes,
		Rounds:         rounds,
	}
	fmt.Fprintf(progress, "%s (vs %s)\n", sc.Name, sc.Baseline)
	for i := 0; i < rounds; i++ {
		if err := ctx.Err(); err != nil {
			return r, err
		}
		hv, ha, err := measureOnce(sc.RunHopwire, sc.Unit)
		if err != nil {
			return r, fmt.Errorf("bench: %s: hopwire side: %w", sc.Name, err)
		}
		if err := ctx.Err(); err != nil {
			return r, err
		}
		bv, ba, err := measureOnce(sc.RunBaseline, sc.Unit)
		if err != nil {
			return r, fmt.Errorf("bench: %s: baseline side (%s): %w", sc.Name, sc.Baseline, err)
		}
		r.HopwireSamples = append(r.HopwireSamples, hv)
		r.BaselineSamples = append(r.BaselineSamples, bv)
		r.HopwireAllocs = max(r.HopwireAllocs, ha)
		r.BaselineAllocs = max(r.BaselineAllocs, ba)
		fmt.Fprintf(progress, "  round %d/%d  hopwire %s %s  baseline %s %s\n",
			i+1, rounds, formatMetric(hv, sc.Unit), sc.Unit, formatMetric(bv, sc.Unit), sc.Unit)
	}
	r.HopwireMetric = median(r.HopwireSamples)
	r.BaselineMetric = median(r.BaselineSamples)
	r.Ratio = ratio(r.HopwireMetric, r.BaselineMetric, sc.HigherIsBetter)
	return r, nil
}

// measureOnce runs f under testing.Benchmark and returns the metric it
// reported in unit and its allocations per operation.
func measureOnce(f func(*testing.B), unit string) (float64, int64, error) {
	var last *testing.B
	res := testing.Benchmark(func(b *testing.B) {
		last = b
		f(b)
	})
	if res.N == 0 {
		if msg, ok := failures.LoadAndDelete(last); ok {
			return 0, 0, errors.New(msg.(string))
		}
		return 0, 0, errors.New("benchmark failed (run it with go test -bench to see why)")
	}
	v, ok := res.Extra[unit]
	if !ok {
		return 0, 0, fmt.Errorf("benchmark reported no %s metric", unit)
	}
	return v, res.AllocsPerOp(), nil
}

// failures holds the message of a benchmark that failed through fatalf,
// keyed by its *testing.B: testing.Benchmark discards a benchmark's log.
// measureOnce takes its entry out; one from a failure under go test -bench
// stays (a few bytes, once per failed benchmark).
var failures sync.Map

// fatalf fails b like b.Fatalf, keeping the message for measureOnce.
func fatalf(b *testing.B, format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	failures.Store(b, msg)
	b.Fatal(msg)
}

// median returns the median of xs (the mean of the middle two for an even
// count), or 0 for none. It does not modify xs.
func median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	m := len(s) / 2
	if len(s)%2 == 1 {
		return s[m]
	}
	return (s[m-1] + s[m]) / 2
}

// ratio is how many times better hopwire did than the baseline, or 0 when
// either figure is not a positive number.
func ratio(hopwire, baseline float64, higherIsBetter bool) float64 {
	if !(hopwire > 0) || !(baseline > 0) || math.IsInf(hopwire, 0) || math.IsInf(baseline, 0) {
		return 0
	}
	if higherIsBetter {
		return hopwire / baseline
	}
	return baseline / hopwire
}

// setBenchTime sets the time testing.Benchmark aims each measurement at
// and returns a func that puts the old value back. testing keeps it in its
// -test.benchtime flag, registered by testing.Init in a program that is not
// a test binary.
func setBenchTime(d time.Duration) (restore func(), err error) {
	f := flag.Lookup("test.benchtime")
	if f == nil {
		testing.Init()
		f = flag.Lookup("test.benchtime")
	}
	if f == nil {
		return nil, errors.New("bench: testing registered no test.benchtime flag")
	}
	old := f.Value.String()
	if err := f.Value.Set(d.String()); err != nil {
		return nil, fmt.Errorf("bench: setting benchtime: %w", err)
	}
	return func() { f.Value.Set(old) }, nil
}
