package bench

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"math"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"
)

const (
	hopwireSide = iota
	baselineSide
)

// measurement is one scenario's rounds so far.
type measurement struct {
	sc     Scenario
	sides  [2]func(*testing.B)
	result Result
	hists  [2]*hdrhistogram.Histogram // every round trip of every round, per side; nil until one is recorded
	took   [2]time.Duration           // each side's last measurement, for the progress line's estimate
	ops    [2]int                     // each side's b.N after its first round; 0 before
}

func newMeasurement(sc Scenario, sides Sides, rounds int) *measurement {
	return &measurement{
		sc:    sc,
		sides: [2]func(*testing.B){sides.Hopwire, sides.Baseline},
		result: Result{
			Name:           sc.Name,
			Baseline:       sc.Baseline,
			Unit:           sc.Unit,
			HigherIsBetter: sc.HigherIsBetter,
			PayloadBytes:   sc.PayloadBytes,
			Processes:      sc.Processes(),
			Bimodal:        sc.Bimodal,
			Rounds:         rounds,
		},
	}
}

// round measures both sides once. Odd rounds run hopwire first, even
// rounds the baseline, so neither side always runs on the heels of the
// other scenario's.
func (m *measurement) round(ctx context.Context, round int, benchTime time.Duration, p *progress) error {
	order := [2]int{hopwireSide, baselineSide}
	if round%2 == 0 {
		order = [2]int{baselineSide, hopwireSide}
	}
	var v [2]float64
	for _, side := range order {
		if err := ctx.Err(); err != nil {
			return err
		}
		p.step(m, side, round)
		t0 := time.Now()
		out, err := measureOnce(m.sides[side], m.sc.Unit, m.ops[side])
		m.took[side] = time.Since(t0)
		if err != nil {
			if side == hopwireSide {
				return fmt.Errorf("bench: %s: hopwire side: %w", m.sc.Name, err)
			}
			return fmt.Errorf("bench: %s: baseline side (%s): %w", m.sc.Name, m.sc.Baseline, err)
		}
		v[side] = out.value
		if m.ops[side] == 0 {
			m.ops[side] = out.ops(max(benchTime, m.sc.MinBenchTime))
		}
		r := &m.result
		if side == hopwireSide {
			r.HopwireAllocs = max(r.HopwireAllocs, out.allocs)
		} else {
			r.BaselineAllocs = max(r.BaselineAllocs, out.allocs)
		}
		if out.hist != nil {
			if m.hists[side] == nil {
				m.hists[side] = newRTTHist()
			}
			m.hists[side].Merge(out.hist)
		}
	}
	r := &m.result
	r.HopwireSamples = append(r.HopwireSamples, v[hopwireSide])
	r.BaselineSamples = append(r.BaselineSamples, v[baselineSide])
	r.RatioSamples = append(r.RatioSamples, ratio(v[hopwireSide], v[baselineSide], m.sc.HigherIsBetter))
	p.finished(m, round, v)
	return nil
}

// summary is the result of the rounds so far.
func (m *measurement) summary() Result {
	r := m.result
	r.Rounds = len(r.HopwireSamples)
	r.HopwireMetric = median(r.HopwireSamples)
	r.BaselineMetric = median(r.BaselineSamples)
	// The median of the rounds' own ratios, not the ratio of the medians:
	// a round's two sides ran seconds apart, so load that drifts over the
	// run cancels out of each round's ratio.
	r.Ratio = median(r.RatioSamples)
	if len(r.RatioSamples) > 0 {
		r.RatioMin, r.RatioMax = slices.Min(r.RatioSamples), slices.Max(r.RatioSamples)
	}
	r.HopwireLatency = latencyOf(m.hists[hopwireSide])
	r.BaselineLatency = latencyOf(m.hists[baselineSide])
	if r.Processes {
		// This process's allocations are a client's, not the nodes'.
		r.HopwireAllocs, r.BaselineAllocs = 0, 0
	}
	return r
}

// outcome is one side's measurement.
type outcome struct {
	value  float64                 // its metric in the scenario's unit
	allocs int64                   // per operation
	hist   *hdrhistogram.Histogram // its round trips, if it recorded them
	n      int                     // operations in the run reported
	t      time.Duration           // and their time
}

// ops is how many operations fill d at the pace o measured.
func (o outcome) ops(d time.Duration) int {
	if o.t <= 0 {
		return max(o.n, 1)
	}
	return max(1, int(float64(o.n)*float64(d)/float64(o.t)))
}

// measureOnce runs f under testing.Benchmark and returns the metric it
// reported in unit, its allocations per operation and the round trips
// its last run recorded. With ops 0, testing.Benchmark runs f with a
// growing b.N until a run fills the benchtime, and reports the last;
// after a side's first round, ops is the b.N that fills it, so a round
// costs that run and testing's first run of one operation, not the
// whole ramp again (which, for a side that sets up sockets or warms up
// a connection each run, cost as much as the measurement itself).
func measureOnce(f func(*testing.B), unit string, ops int) (outcome, error) {
	if ops > 0 {
		restore, err := setBenchTimeFlag(fmt.Sprintf("%dx", ops))
		if err != nil {
			return outcome{}, err
		}
		defer restore()
	}
	var last *testing.B
	var seen []*testing.B
	res := testing.Benchmark(func(b *testing.B) {
		last = b
		seen = append(seen, b)
		f(b)
	})
	var out outcome
	if h, ok := rtts.Load(last); ok {
		out.hist = h.(*hdrhistogram.Histogram)
	}
	for _, b := range seen {
		rtts.Delete(b)
	}
	if res.N == 0 {
		if msg, ok := failures.LoadAndDelete(last); ok {
			return out, errors.New(msg.(string))
		}
		return out, errors.New("benchmark failed (run it with go test -bench to see why)")
	}
	v, ok := res.Extra[unit]
	if !ok {
		return out, fmt.Errorf("benchmark reported no %s metric", unit)
	}
	out.value, out.allocs, out.n, out.t = v, res.AllocsPerOp(), res.N, res.T
	return out, nil
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
	return setBenchTimeFlag(d.String())
}

// setBenchTimeFlag sets testing's -test.benchtime to v: a duration or a
// count of operations ("100x").
func setBenchTimeFlag(v string) (restore func(), err error) {
	f := flag.Lookup("test.benchtime")
	if f == nil {
		testing.Init()
		f = flag.Lookup("test.benchtime")
	}
	if f == nil {
		return nil, errors.New("bench: testing registered no test.benchtime flag")
	}
	old := f.Value.String()
	if err := f.Value.Set(v); err != nil {
		return nil, fmt.Errorf("bench: setting benchtime: %w", err)
	}
	return func() { f.Value.Set(old) }, nil
}
