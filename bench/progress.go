package bench

import (
	"fmt"
	"io"
	"time"
)

// progress tells a person what runs and how long the rest will take: on
// a terminal, one line rewritten in place; elsewhere (a log, CI), a line
// per scenario and round.
type progress struct {
	w         io.Writer
	live      bool
	ms        []*measurement
	rounds    int
	benchTime time.Duration
	done      map[*measurement]*[2]int // measurements taken of each side
}

func newProgress(opts Options, ms []*measurement) *progress {
	p := &progress{w: opts.Progress, live: opts.Live, ms: ms, rounds: opts.Rounds, benchTime: opts.BenchTime,
		done: make(map[*measurement]*[2]int, len(ms))}
	for _, m := range ms {
		p.done[m] = new([2]int)
	}
	return p
}

// left estimates the time the measurements not yet taken will take: each
// side as long as its last one did, or, before it has run, twice the
// benchtime (testing.Benchmark runs a side a few times to find its b.N).
func (p *progress) left() time.Duration {
	var d time.Duration
	for _, m := range p.ms {
		for side, n := range p.done[m] {
			est := m.took[side]
			if est == 0 {
				est = 2 * p.benchTime
			}
			d += time.Duration(p.rounds-n) * est
		}
	}
	return d.Round(time.Second)
}

// step says that one side of m is about to be measured.
func (p *progress) step(m *measurement, side, round int) {
	if !p.live {
		return
	}
	what := "hopwire"
	if side == baselineSide {
		what = m.sc.Baseline
	}
	fmt.Fprintf(p.w, "\r\x1b[Kround %d/%d  %s: %s  ~%s left", round, p.rounds, m.sc.Name, what, p.left())
}

// finished says that both sides of m have been measured in round.
func (p *progress) finished(m *measurement, round int, v [2]float64) {
	p.done[m][hopwireSide]++
	p.done[m][baselineSide]++
	if p.live {
		return
	}
	u := m.sc.Unit
	fmt.Fprintf(p.w, "round %d/%d  %s: hopwire %s %s, %s %s %s: %.2fx  ~%s left\n", round, p.rounds, m.sc.Name,
		formatMetric(v[hopwireSide], u), u, m.sc.Baseline, formatMetric(v[baselineSide], u), u,
		ratio(v[hopwireSide], v[baselineSide], m.sc.HigherIsBetter), p.left())
}

// end clears the live line.
func (p *progress) end() {
	if p.live {
		fmt.Fprint(p.w, "\r\x1b[K")
	}
}
