package bench

import (
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
)

// Report is what a run measured, and where.
type Report struct {
	Machine     Machine   `json:"machine"`
	Rounds      int       `json:"rounds"`       // finished
	RoundsAsked int       `json:"rounds_asked"` // more than Rounds when the run was cut short
	BenchTime   string    `json:"benchtime"`
	Only        string    `json:"only,omitempty"`
	Results     []Result  `json:"results"`
	Skipped     []Skipped `json:"skipped,omitempty"`
}

// Skipped is a scenario a run left out, and why.
type Skipped struct {
	Name   string `json:"name"`
	Reason string `json:"reason"`
}

// Result is what Run reports for one scenario.
type Result struct {
	Name           string `json:"name"`
	Baseline       string `json:"baseline"`
	Unit           string `json:"unit"`
	HigherIsBetter bool   `json:"higher_is_better"`
	PayloadBytes   int    `json:"payload_bytes"`
	Processes      bool   `json:"processes,omitempty"` // nodes or baselines ran as OS processes
	Bimodal        string `json:"bimodal,omitempty"`   // why its figure flips between two levels

	// Medians over the rounds.
	HopwireMetric  float64 `json:"hopwire_metric"`
	BaselineMetric float64 `json:"baseline_metric"`

	// Ratio is how many times better hopwire did than its baseline:
	// baseline/hopwire for a lower-is-better unit, hopwire/baseline for a
	// higher-is-better one; above 1, hopwire is ahead. Each round has its
	// own (0 where a figure is not positive); Ratio is their median, and
	// RatioMin and RatioMax their range: the run's noise.
	Ratio        float64   `json:"ratio"`
	RatioMin     float64   `json:"ratio_min"`
	RatioMax     float64   `json:"ratio_max"`
	RatioSamples []float64 `json:"ratio_samples"`

	// Allocations per operation in this process: the most any round saw.
	// Zero for a process scenario, where they would be a client's.
	HopwireAllocs  int64 `json:"hopwire_allocs_per_op"`
	BaselineAllocs int64 `json:"baseline_allocs_per_op"`

	// Round trips of every round, for a round-trip scenario.
	HopwireLatency  *Latency `json:"hopwire_latency,omitempty"`
	BaselineLatency *Latency `json:"baseline_latency,omitempty"`

	Rounds          int       `json:"rounds"`
	HopwireSamples  []float64 `json:"hopwire_samples"`
	BaselineSamples []float64 `json:"baseline_samples"`
}

// WriteTable writes rep as plain text: the machine, one row per scenario
// with both medians, the ratio and its range over the rounds, and the
// latency distributions of the round-trip scenarios.
func WriteTable(w io.Writer, rep *Report) error {
	fmt.Fprintf(w, "hopwire bench  %s\n", rep.Machine)
	rounds := fmt.Sprintf("%d rounds", rep.Rounds)
	if rep.RoundsAsked > rep.Rounds {
		rounds = fmt.Sprintf("%d of %d rounds (cut short)", rep.Rounds, rep.RoundsAsked)
	}
	fmt.Fprintf(w, "%s, each side measured for about %s a round; figures and ratio: medians of the rounds\n\n", rounds, rep.BenchTime)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "SCENARIO\tPAYLOAD\tHOPWIRE\tBASELINE\t\tRATIO\tROUNDS\tALLOCS/OP")
	bimodal := false
	for _, r := range rep.Results {
		mark := ""
		if r.Bimodal != "" {
			mark, bimodal = " *", true
		}
		allocs := fmt.Sprintf("%d / %d", r.HopwireAllocs, r.BaselineAllocs)
		if r.Processes {
			allocs = "-"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t(%s)\t%.2fx%s\t%.2f-%.2f\t%s\n",
			r.Name, formatBytes(r.PayloadBytes), formatFigure(r.HopwireMetric, r), formatFigure(r.BaselineMetric, r),
			r.Baseline, r.Ratio, mark, r.RatioMin, r.RatioMax, allocs)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if err := writeLatencies(w, rep.Results); err != nil {
		return err
	}
	fmt.Fprint(w, "\nratio: how many times better hopwire did than its baseline in the same round\n"+
		"(baseline/hopwire for times, hopwire/baseline for rates), the median of the rounds; above 1, hopwire is ahead.\n"+
		"rounds: the lowest and highest ratio of a single round, the run's noise.\n"+
		"allocs/op: hopwire / baseline in this process, the most any round saw (- for process scenarios).\n")
	if bimodal {
		fmt.Fprintln(w, "* known to be bimodal: its figure flips between two levels from run to run (see hopbench --help).")
	}
	for _, s := range rep.Skipped {
		fmt.Fprintf(w, "skipped %s: %s\n", s.Name, s.Reason)
	}
	return nil
}

// writeLatencies writes the distribution of each round-trip scenario's
// two sides.
func writeLatencies(w io.Writer, results []Result) error {
	var rows []Result
	for _, r := range results {
		if r.HopwireLatency != nil && r.BaselineLatency != nil {
			rows = append(rows, r)
		}
	}
	if len(rows) == 0 {
		return nil
	}
	fmt.Fprintln(w, "\nround trips, µs, every sample of every round")
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "SCENARIO\tSIDE\tp50\tp90\tp99\tp99.9\tmax\tsamples\t")
	for _, r := range rows {
		for i, l := range []*Latency{r.HopwireLatency, r.BaselineLatency} {
			name, side := r.Name, "hopwire"
			if i == 1 {
				name, side = "", r.Baseline
			}
			fmt.Fprintf(tw, "%s\t%s\t%.1f\t%.1f\t%.1f\t%.1f\t%.1f\t%d\t\n", name, side, l.P50, l.P90, l.P99, l.P999, l.Max, l.Count)
		}
	}
	return tw.Flush()
}

// WriteJSON writes rep as indented JSON.
func WriteJSON(w io.Writer, rep *Report) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(rep)
}

// ReadJSON reads a report WriteJSON wrote.
func ReadJSON(r io.Reader) (*Report, error) {
	var rep Report
	if err := json.NewDecoder(r).Decode(&rep); err != nil {
		return nil, fmt.Errorf("bench: reading a report: %w", err)
	}
	return &rep, nil
}

// formatFigure prints a result's figure with its unit; a message rate
// also in MB/s at the scenario's payload.
func formatFigure(v float64, r Result) string {
	s := formatMetric(v, r.Unit) + " " + r.Unit
	if r.Unit == UnitMsgsPerSec && r.PayloadBytes > 0 {
		s += " " + strconv.FormatFloat(v*float64(r.PayloadBytes)/1e6, 'f', 0, 64) + " MB/s"
	}
	return s
}

// formatMetric prints v for unit: rates in k or M, times with one decimal.
func formatMetric(v float64, unit string) string {
	if unit == UnitMsgsPerSec {
		switch {
		case v >= 1e6:
			return strconv.FormatFloat(v/1e6, 'f', 2, 64) + "M"
		case v >= 1e3:
			return strconv.FormatFloat(v/1e3, 'f', 1, 64) + "k"
		}
	}
	if unit == UnitMBPerSec {
		return strconv.FormatFloat(v, 'f', 0, 64)
	}
	return strconv.FormatFloat(v, 'f', 1, 64)
}

func formatBytes(n int) string {
	if n >= 1<<10 && n%(1<<10) == 0 {
		return strconv.Itoa(n>>10) + " KiB"
	}
	return strconv.Itoa(n) + " B"
}

// String is the machine in one line.
func (m Machine) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s  commit %s  %s %s  GOMAXPROCS=%d  %d CPUs %s  kernel %s  load %.1f-%.1f",
		m.Date.Format("2006-01-02 15:04 MST"), m.Commit, m.GoVersion, m.OSArch, m.GOMAXPROCS, m.NumCPU, m.CPU, m.Kernel, m.Load[0], m.Load[1])
	if m.Hopwire != "" {
		fmt.Fprintf(&b, "\nhopwire binary %s (%s, commit %s)", m.Hopwire, m.HopwireFrom, m.HopwireCommit)
	}
	return b.String()
}
