// Package bench is hopwire's benchmark harness.
//
// Every figure it reports is measured beside a baseline in the same run:
// a scenario pairs what hopwire does (a hop, a ping-pong, a pipelined
// chain, a hop over TCP or UDP, nodes as OS processes, a portal) with the
// plain-Go way of doing the same thing (goroutines and channels moving the
// same pooled messages; plain net.Conn and net.UDPConn on the same
// loopback; plain Go relay and echo processes; direct TCP). Both sides run
// under testing.Benchmark, in rounds: each round measures every scenario's
// two sides once, so a round spans the whole run and the spread of the
// rounds shows how much the machine drifted. The report is the median of
// each side, their ratio, the range of the per-round ratios and, for round
// trips, the distribution of every sample the rounds took. Absolute
// numbers do not travel between machines; ratios do, roughly.
//
// Run is not safe for concurrent use with itself or with other callers of
// testing.Benchmark: it sets testing's benchtime for its duration.
package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"regexp"
	"sync"
	"testing"
	"time"
)

// Units the scenarios report in.
const (
	UnitNsPerHop   = "ns/hop" // lower is better
	UnitMsgsPerSec = "msgs/s" // higher is better
	UnitMBPerSec   = "MB/s"   // higher is better; 10^6 bytes
	UnitP50RTT     = "µs-p50" // a round trip's median; lower is better
)

// ErrNoScenario is returned by Run when Options.Only matches no scenario.
var ErrNoScenario = errors.New("bench: no scenario matches")

// Scenario is one measurement: hopwire doing something, and the baseline
// it is held against. A side is an ordinary Go benchmark body that
// reports its metric with b.ReportMetric(v, Unit); a round-trip side also
// records every round trip with recordRTT.
type Scenario struct {
	Name           string // what hopwire does, e.g. "local hop"
	Baseline       string // what it is measured against, e.g. "chan ping-pong"
	About          string // one line: what exactly runs on each side
	Unit           string // the metric both sides report, e.g. UnitNsPerHop
	HigherIsBetter bool   // true for throughput units
	PayloadBytes   int    // payload size of hopwire's side (a write's size for a stream)
	// AllocsNote, if set, says why hopwire's side allocates per operation
	// (in a dependency); an in-process scenario without one must not.
	AllocsNote string
	// Bimodal, if set, says why the scenario's figure flips between two
	// levels from run to run: its ratio is not held to the suite's
	// run-to-run agreement.
	Bimodal string
	// MinBenchTime, if set, is the least time a side's measurement takes
	// from its second round on, whatever Options.BenchTime: a stream
	// (pipelined messages, a bulk transfer) spends its first milliseconds
	// filling queues and socket buffers, so a short measurement of one
	// reports the ramp, and two runs disagree by a third.
	MinBenchTime time.Duration

	// An in-process scenario sets RunHopwire and RunBaseline.
	RunHopwire  func(b *testing.B)
	RunBaseline func(b *testing.B)

	// A scenario whose sides share processes sets Setup instead: Run
	// calls it once before the first round and the Sides' Stop after the
	// last. Such a scenario runs only when Options.Hopwire names a binary
	// and Options.Proc is set; allocations in this process say nothing
	// about it and are not reported.
	Setup func(env *Env) (Sides, error)
}

// Sides are a set-up scenario's two benchmark bodies.
type Sides struct {
	Hopwire, Baseline func(b *testing.B)
}

// Processes reports whether sc runs nodes or baselines as OS processes.
func (sc Scenario) Processes() bool { return sc.Setup != nil }

// Options configures Run. The zero value is a quick run of every
// in-process and socket scenario, without progress.
type Options struct {
	Rounds    int            // rounds; 0 means Quick's
	BenchTime time.Duration  // the time each side's measurement aims at (testing's -benchtime); 0 means Quick's
	Only      *regexp.Regexp // run only scenarios whose name it matches; nil runs all

	// Hopwire is the path of the hopwire binary the process scenarios run
	// as nodes; "" skips them. HopwireFrom says where it was found and
	// HopwireCommit, if set, the commit it was built from, when the binary
	// does not record it (go build -buildvcs=false).
	Hopwire, HopwireFrom, HopwireCommit string
	// Proc returns a command that runs this program as the baseline
	// process ProcMain(args) describes; nil skips the process scenarios.
	Proc func(args ...string) *exec.Cmd

	Progress io.Writer // where progress goes; nil for none
	Live     bool      // progress as one line rewritten in place (a terminal), not a line per step
}

// Presets: Quick is the default (the whole suite in under a minute on
// two cores); Full takes more rounds of longer measurements.
var (
	Quick = Preset{Rounds: 21, BenchTime: 25 * time.Millisecond}
	Full  = Preset{Rounds: 7, BenchTime: time.Second}
)

// Preset is a number of rounds and a measurement time.
type Preset struct {
	Rounds    int
	BenchTime time.Duration
}

func (o Options) withDefaults() (Options, error) {
	if o.Rounds < 0 {
		return o, fmt.Errorf("bench: Options.Rounds %d must not be negative", o.Rounds)
	}
	if o.BenchTime < 0 {
		return o, fmt.Errorf("bench: Options.BenchTime %v must not be negative", o.BenchTime)
	}
	if o.Rounds == 0 {
		o.Rounds = Quick.Rounds
	}
	if o.BenchTime == 0 {
		o.BenchTime = Quick.BenchTime
	}
	if o.Progress == nil {
		o.Progress = io.Discard
	}
	return o, nil
}

// Run measures the scenarios of Scenarios that opts.Only matches. It
// checks ctx between measurements. On error it returns the report of
// the rounds finished so far.
func Run(ctx context.Context, opts Options) (*Report, error) {
	return run(ctx, Scenarios(), opts)
}

// runMu serialises runs: they set testing's global benchtime.
var runMu sync.Mutex

func run(ctx context.Context, all []Scenario, opts Options) (rep *Report, err error) {
	opts, err = opts.withDefaults()
	if err != nil {
		return nil, err
	}
	scs := selectScenarios(all, opts.Only)
	if len(scs) == 0 {
		return nil, fmt.Errorf("%w %q", ErrNoScenario, opts.Only)
	}
	rep = &Report{Machine: ReadMachine(opts.Hopwire, opts.HopwireFrom, opts.HopwireCommit), RoundsAsked: opts.Rounds, BenchTime: opts.BenchTime.String()}
	if opts.Only != nil {
		rep.Only = opts.Only.String()
	}
	runMu.Lock()
	defer runMu.Unlock()
	restore, err := setBenchTime(opts.BenchTime)
	if err != nil {
		return nil, err
	}
	defer restore()

	env := newEnv(ctx, opts)
	defer func() {
		if e := env.stop(); e != nil && err == nil {
			err = e
		}
	}()
	ms, skipped, err := prepare(env, scs, opts)
	if err != nil {
		return rep, err
	}
	rep.Skipped = skipped
	for _, m := range ms {
		rep.Results = append(rep.Results, m.result)
	}
	p := newProgress(opts, ms)
	defer p.end()
	defer func() { rep.Machine.Load[1] = loadAverage() }()
	for round := 1; round <= opts.Rounds; round++ {
		for i, m := range ms {
			if err := m.round(ctx, round, opts.BenchTime, p); err != nil {
				return rep, err
			}
			rep.Results[i] = m.summary()
		}
		rep.Rounds = round
	}
	return rep, nil
}

// selectScenarios returns the scenarios whose name only matches.
func selectScenarios(all []Scenario, only *regexp.Regexp) []Scenario {
	var out []Scenario
	for _, sc := range all {
		if only == nil || only.MatchString(sc.Name) {
			out = append(out, sc)
		}
	}
	return out
}

// prepare sets up the scenarios that share processes. Without a hopwire
// binary (or a way to start baseline processes) those are skipped, with
// the reason in the report; a setup that fails fails the run before
// anything is measured.
func prepare(env *Env, scs []Scenario, opts Options) ([]*measurement, []Skipped, error) {
	var ms []*measurement
	var skipped []Skipped
	for _, sc := range scs {
		sides := Sides{Hopwire: sc.RunHopwire, Baseline: sc.RunBaseline}
		if sc.Processes() {
			switch {
			case opts.Hopwire == "":
				skipped = append(skipped, Skipped{Name: sc.Name, Reason: "no hopwire binary"})
				continue
			case opts.Proc == nil:
				skipped = append(skipped, Skipped{Name: sc.Name, Reason: "no way to start baseline processes"})
				continue
			}
			fmt.Fprintf(opts.Progress, "setting up %s\n", sc.Name)
			var err error
			if sides, err = sc.Setup(env); err != nil {
				return nil, nil, fmt.Errorf("bench: setting up %s: %w", sc.Name, err)
			}
		}
		ms = append(ms, newMeasurement(sc, sides, opts.Rounds))
	}
	return ms, skipped, nil
}
