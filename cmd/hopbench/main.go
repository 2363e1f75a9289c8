// Command hopbench runs hopwire's benchmark suite: in-process scenarios,
// each measured beside its baseline in the same run. See bench.Run.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"strings"

	"github.com/spf13/cobra"

	"github.com/hopwire/hopwire/bench"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	err := newCommand().ExecuteContext(ctx)
	stop()
	if err != nil {
		os.Exit(1)
	}
}

func newCommand() *cobra.Command {
	var opts bench.Options
	var asJSON bool
	cmd := &cobra.Command{
		Use:          "hopbench",
		Short:        "Measure hopwire against plain-Go baselines in the same run",
		Long:         longHelp(),
		Args:         cobra.NoArgs,
		SilenceUsage: true,
		RunE: func(cmd *cobra.Command, _ []string) error {
			results, err := bench.Run(cmd.Context(), opts, cmd.ErrOrStderr())
			if err != nil {
				return err
			}
			if asJSON {
				return bench.WriteJSON(cmd.OutOrStdout(), results)
			}
			return bench.WriteTable(cmd.OutOrStdout(), results)
		},
	}
	f := cmd.Flags()
	f.IntVar(&opts.Rounds, "rounds", bench.DefaultRounds, "measurements of each side of a scenario, interleaved; the median is reported")
	f.DurationVar(&opts.BenchTime, "benchtime", bench.DefaultBenchTime, "time each measurement aims at (as go test -benchtime)")
	f.StringVar(&opts.Filter, "filter", "", "run only scenarios whose name contains this")
	f.BoolVar(&asJSON, "json", false, "print the results as JSON instead of a table")
	return cmd
}

func longHelp() string {
	var b strings.Builder
	b.WriteString(`hopbench measures hopwire's forwarding engine and its TCP and UDP
transports against plain Go.
Every figure is a ratio against a baseline in the same run.

Each scenario runs hopwire and a baseline that does the same work the
plain-Go way (goroutines and channels moving the same pooled messages in
process; net.Conn and net.UDPConn on the same loopback over sockets), in
rounds interleaved hopwire, baseline, hopwire, baseline..., so the noise of
a shared machine hits both. It reports the median of each side, their
ratio and allocations per operation. The socket scenarios bind 127.0.0.1
only.

Absolute figures depend on the machine and what else runs on it; read the
ratio: how many times better hopwire did than its baseline (baseline/hopwire
for times, hopwire/baseline for msgs/s). Above 1, hopwire is ahead.

Scenarios:
`)
	for _, sc := range bench.Scenarios() {
		fmt.Fprintf(&b, "  %-24s vs %s, in %s\n      %s\n", sc.Name, sc.Baseline, sc.Unit, sc.About)
	}
	b.WriteString("\nProgress goes to stderr; the table (or JSON) to stdout.")
	return b.String()
}
