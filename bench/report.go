package bench

import (
	"encoding/json"
	"fmt"
	"io"
	"runtime"
	"strconv"
	"text/tabwriter"
)

// WriteTable writes results as a plain-text table: one row per scenario
// with both medians, the ratio and allocations per operation, and a note
// on how to read the ratio.
func WriteTable(w io.Writer, results []Result) error {
	rounds := 0
	if len(results) > 0 {
		rounds = results[0].Rounds
	}
	fmt.Fprintf(w, "hopwire bench  %s %s/%s  GOMAXPROCS=%d  median of %d rounds\n\n",
		runtime.Version(), runtime.GOOS, runtime.GOARCH, runtime.GOMAXPROCS(0), rounds)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "SCENARIO\tPAYLOAD\tHOPWIRE\tBASELINE\t\tRATIO\tALLOCS/OP")
	for _, r := range results {
		fmt.Fprintf(tw, "%s\t%s\t%s %s\t%s %s\t(%s)\t%.2fx\t%d / %d\n",
			r.Name, formatBytes(r.PayloadBytes),
			formatMetric(r.HopwireMetric, r.Unit), r.Unit,
			formatMetric(r.BaselineMetric, r.Unit), r.Unit, r.Baseline,
			r.Ratio, r.HopwireAllocs, r.BaselineAllocs)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	_, err := fmt.Fprint(w, "\nratio: how many times better hopwire did than its baseline in the same run\n"+
		"(baseline/hopwire for times, hopwire/baseline for msgs/s); above 1, hopwire is ahead.\n"+
		"allocs/op: hopwire / baseline, the most any round saw.\n")
	return err
}

// WriteJSON writes results as an indented JSON array of Result.
func WriteJSON(w io.Writer, results []Result) error {
	if results == nil {
		results = []Result{}
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(results)
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
	return strconv.FormatFloat(v, 'f', 1, 64)
}

func formatBytes(n int) string {
	if n >= 1<<10 && n%(1<<10) == 0 {
		return strconv.Itoa(n>>10) + " KiB"
	}
	return strconv.Itoa(n) + " B"
}
