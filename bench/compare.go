package bench

import (
	"fmt"
	"io"
	"slices"
	"text/tabwriter"
)

// Comparing two reports. A figure changed only when the ranges of its
// rounds in the two reports do not overlap: every round of one run did
// better than every round of the other. Rounds are spread over the whole
// of each run, so their range is the noise the machine added; a change
// inside it is not told apart from that noise. With fewer than two rounds
// in either report there is no range to judge by.

// Verdicts of a comparison.
const (
	Better   = "better"
	Worse    = "worse"
	Same     = "within noise"
	TooFew   = "too few rounds"
	OnlyOld  = "only in old"
	OnlyNew  = "only in new"
	NotAlike = "units differ"
)

// Change is how one scenario moved from an old report to a new one: its
// ratio to the baseline (the headline) and hopwire's own figure (which
// also moves with the machine's load).
type Change struct {
	Name     string
	Old, New *Result // nil for a scenario in one report only
	Ratio    string  // the ratio's verdict
	Hopwire  string  // hopwire's figure's verdict
}

// Compare compares every scenario of old and new, in new's order, then
// those only in old.
func Compare(old, new *Report) []Change {
	var out []Change
	byName := func(rs []Result, name string) *Result {
		for i := range rs {
			if rs[i].Name == name {
				return &rs[i]
			}
		}
		return nil
	}
	for i := range new.Results {
		n := &new.Results[i]
		c := Change{Name: n.Name, New: n, Old: byName(old.Results, n.Name)}
		switch {
		case c.Old == nil:
			c.Ratio, c.Hopwire = OnlyNew, OnlyNew
		case c.Old.Unit != n.Unit:
			c.Ratio, c.Hopwire = NotAlike, NotAlike
		default:
			c.Ratio = verdict(c.Old.RatioSamples, n.RatioSamples, true)
			c.Hopwire = verdict(c.Old.HopwireSamples, n.HopwireSamples, n.HigherIsBetter)
		}
		out = append(out, c)
	}
	for i := range old.Results {
		if o := &old.Results[i]; byName(new.Results, o.Name) == nil {
			out = append(out, Change{Name: o.Name, Old: o, Ratio: OnlyOld, Hopwire: OnlyOld})
		}
	}
	return out
}

// verdict judges new rounds against old ones by the rule above.
func verdict(old, new []float64, higherIsBetter bool) string {
	if len(old) < 2 || len(new) < 2 {
		return TooFew
	}
	oMin, oMax, nMin, nMax := slices.Min(old), slices.Max(old), slices.Min(new), slices.Max(new)
	switch {
	case nMin > oMax:
		if higherIsBetter {
			return Better
		}
		return Worse
	case nMax < oMin:
		if higherIsBetter {
			return Worse
		}
		return Better
	}
	return Same
}

// WriteCompare writes the comparison of old and new as a table, with
// what differs between the machines and a count of what changed.
func WriteCompare(w io.Writer, old, new *Report) error {
	fmt.Fprintf(w, "old: %s\nnew: %s\n", old.Machine, new.Machine)
	om, nm := old.Machine, new.Machine
	if om.CPU != nm.CPU || om.NumCPU != nm.NumCPU || om.GOMAXPROCS != nm.GOMAXPROCS || om.GoVersion != nm.GoVersion || om.Kernel != nm.Kernel {
		fmt.Fprintln(w, "note: the machines or Go versions differ; ratios travel between them roughly, hopwire's own figures do not")
	}
	fmt.Fprintln(w)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "SCENARIO\tRATIO OLD\tRATIO NEW\tCHANGE\t\tHOPWIRE OLD\tHOPWIRE NEW\t")
	better, worse := 0, 0
	for _, c := range Compare(old, new) {
		ratios := func(r *Result) string {
			if r == nil || len(r.RatioSamples) == 0 {
				return "-"
			}
			return fmt.Sprintf("%.2fx [%.2f-%.2f]", r.Ratio, r.RatioMin, r.RatioMax)
		}
		own := func(r *Result) string {
			if r == nil || len(r.HopwireSamples) == 0 {
				return "-"
			}
			return fmt.Sprintf("%s [%s-%s] %s", formatMetric(r.HopwireMetric, r.Unit),
				formatMetric(slices.Min(r.HopwireSamples), r.Unit), formatMetric(slices.Max(r.HopwireSamples), r.Unit), r.Unit)
		}
		change := "-"
		if c.Old != nil && c.New != nil && c.Old.Ratio > 0 {
			change = fmt.Sprintf("%+.0f%%", (c.New.Ratio/c.Old.Ratio-1)*100)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", c.Name, ratios(c.Old), ratios(c.New), change, c.Ratio, own(c.Old), own(c.New), c.Hopwire)
		switch c.Ratio {
		case Better:
			better++
		case Worse:
			worse++
		}
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	_, err := fmt.Fprintf(w, "\nratio changed beyond the noise: %d better, %d worse.\n"+
		"A figure changed only when the ranges of its rounds [lowest-highest] in the two reports do not overlap.\n", better, worse)
	return err
}
