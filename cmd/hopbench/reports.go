package main

import (
	"fmt"
	"io"
	"os"

	"github.com/spf13/cobra"

	"github.com/hopwire/hopwire/bench"
)

func newCompare() *cobra.Command {
	return &cobra.Command{
		Use:   "compare OLD.json NEW.json",
		Short: "Say what changed between two reports beyond the noise of their rounds",
		Long: `compare reads two reports hopbench --json wrote and prints, for each
scenario, the ratio to its baseline and hopwire's own figure in each,
with the range of its rounds [lowest-highest], and whether it changed.

A figure changed only when the ranges of its rounds in the two reports do
not overlap: every round of one run did better than every round of the
other. The rounds are spread over the whole of each run, so their range
is the noise the machine added, and a change inside it is not told apart
from that noise. A report with fewer than two rounds has no range to
judge by. The ratio travels between machines roughly; hopwire's own
figure only within one machine at a similar load.`,
		Example:      "  hopbench --json old.json; (change something); hopbench --json new.json\n  hopbench compare old.json new.json",
		Args:         cobra.ExactArgs(2),
		SilenceUsage: true,
		RunE: func(cmd *cobra.Command, args []string) error {
			old, err := readReport(args[0])
			if err != nil {
				return err
			}
			new, err := readReport(args[1])
			if err != nil {
				return err
			}
			return bench.WriteCompare(cmd.OutOrStdout(), old, new)
		},
	}
}

func readReport(path string) (*bench.Report, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	rep, err := bench.ReadJSON(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return rep, nil
}

func newPlot() *cobra.Command {
	return &cobra.Command{
		Use:          "plot REPORT.json OUT.svg|OUT.png",
		Short:        "Draw a report hopbench --json wrote, as --plot does",
		Example:      "  hopbench plot new.json new.svg",
		Args:         cobra.ExactArgs(2),
		SilenceUsage: true,
		RunE: func(cmd *cobra.Command, args []string) error {
			format, err := bench.PlotFormat(args[1])
			if err != nil {
				return err
			}
			rep, err := readReport(args[0])
			if err != nil {
				return err
			}
			return writeTo(cmd.OutOrStdout(), args[1], func(w io.Writer) error { return bench.WritePlot(w, format, rep) })
		},
	}
}
