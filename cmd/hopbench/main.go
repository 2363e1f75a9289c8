// Command hopbench runs hopwire's benchmark suite: every scenario beside
// its plain-Go baseline in the same run. See bench.Run.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"regexp"
	"strings"
	"time"

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

// flags are the suite's options as given on the command line.
type flags struct {
	full      bool
	quick     bool
	rounds    int
	benchTime time.Duration
	only      string
	json      string
	plot      string
	hopwire   string
}

func newCommand() *cobra.Command {
	var f flags
	cmd := &cobra.Command{
		Use:          "hopbench",
		Short:        "Measure hopwire against plain-Go baselines in the same run",
		Long:         longHelp(),
		Example:      examples,
		Args:         cobra.NoArgs,
		SilenceUsage: true,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runSuite(cmd, f)
		},
	}
	fs := cmd.Flags()
	fs.BoolVar(&f.quick, "quick", false, fmt.Sprintf("a quick run, the default: %d rounds of %v a side", bench.Quick.Rounds, bench.Quick.BenchTime))
	fs.BoolVar(&f.full, "full", false, fmt.Sprintf("a full run: %d rounds of %v a side", bench.Full.Rounds, bench.Full.BenchTime))
	fs.IntVar(&f.rounds, "rounds", 0, "rounds, overriding --quick or --full")
	fs.DurationVar(&f.benchTime, "benchtime", 0, "time each side's measurement aims at (as go test -benchtime), overriding --quick or --full")
	fs.StringVar(&f.only, "only", "", "run only scenarios whose name matches this regular expression")
	fs.StringVar(&f.json, "json", "", "write the report as JSON to this file (- for standard output, instead of the table)")
	fs.StringVar(&f.plot, "plot", "", "draw the report to this .svg or .png file: ratios as bars, latency CDFs beside their baselines")
	fs.StringVar(&f.hopwire, "hopwire", "", "the hopwire binary the process scenarios run (default: beside hopbench, on PATH, or built from the source tree)")
	cmd.MarkFlagsMutuallyExclusive("quick", "full")
	cmd.CompletionOptions.DisableDefaultCmd = true
	cmd.AddCommand(newCompare(), newPlot(), newProc())
	return cmd
}

func runSuite(cmd *cobra.Command, f flags) error {
	stderr := cmd.ErrOrStderr()
	opts := bench.Options{Rounds: bench.Quick.Rounds, BenchTime: bench.Quick.BenchTime, Progress: stderr, Live: isTerminal(stderr)}
	if f.full {
		opts.Rounds, opts.BenchTime = bench.Full.Rounds, bench.Full.BenchTime
	}
	if f.rounds != 0 {
		opts.Rounds = f.rounds
	}
	if f.benchTime != 0 {
		opts.BenchTime = f.benchTime
	}
	if f.only != "" {
		re, err := regexp.Compile(f.only)
		if err != nil {
			return fmt.Errorf("--only: %w", err)
		}
		opts.Only = re
	}
	var plotFormat string
	if f.plot != "" {
		var err error
		if plotFormat, err = bench.PlotFormat(f.plot); err != nil {
			return err
		}
	}
	if needsProcesses(opts.Only) {
		bin, from, cleanup, err := hopwireBin(f.hopwire)
		defer cleanup()
		if err != nil {
			if f.hopwire != "" {
				return err
			}
			fmt.Fprintf(stderr, "process scenarios skipped: %v\n", err)
		} else {
			fmt.Fprintf(stderr, "hopwire binary: %s (%s)\n", bin, from)
			opts.Hopwire, opts.HopwireFrom, opts.Proc = bin, from, selfProc
			if strings.HasPrefix(from, builtFrom) {
				opts.HopwireCommit = bench.ReadMachine("", "", "").Commit // the tree's, as hopbench's own
			}
		}
	}

	rep, err := bench.Run(cmd.Context(), opts)
	if rep == nil {
		return err
	}
	// What was measured before a failure or an interrupt is still worth
	// its report.
	var errs []error
	errs = append(errs, err)
	if f.json != "-" {
		errs = append(errs, bench.WriteTable(cmd.OutOrStdout(), rep))
	}
	if f.json != "" {
		errs = append(errs, writeTo(cmd.OutOrStdout(), f.json, func(w io.Writer) error { return bench.WriteJSON(w, rep) }))
	}
	if f.plot != "" {
		errs = append(errs, writeTo(cmd.OutOrStdout(), f.plot, func(w io.Writer) error { return bench.WritePlot(w, plotFormat, rep) }))
	}
	return errors.Join(errs...)
}

// needsProcesses reports whether a scenario only selects runs processes.
func needsProcesses(only *regexp.Regexp) bool {
	for _, sc := range bench.Scenarios() {
		if sc.Processes() && (only == nil || only.MatchString(sc.Name)) {
			return true
		}
	}
	return false
}

// selfProc runs this program as a baseline process (the proc command).
func selfProc(args ...string) *exec.Cmd {
	exe, err := os.Executable()
	if err != nil {
		exe = os.Args[0]
	}
	return exec.Command(exe, append([]string{procCommand}, args...)...)
}

const procCommand = "proc"

// newProc is the hidden command the baseline processes run as.
func newProc() *cobra.Command {
	return &cobra.Command{
		Use:                procCommand + " KIND [ARGS]",
		Short:              "Run as a plain Go baseline process (for the suite itself)",
		Hidden:             true,
		DisableFlagParsing: true,
		SilenceUsage:       true,
		RunE: func(_ *cobra.Command, args []string) error {
			return bench.ProcMain(args)
		},
	}
}

// writeTo writes with write to the file path, or to stdout for "-".
func writeTo(stdout io.Writer, path string, write func(io.Writer) error) error {
	if path == "-" {
		return write(stdout)
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := write(f); err != nil {
		f.Close()
		return fmt.Errorf("%s: %w", path, err)
	}
	return f.Close()
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

const examples = `  hopbench                                   # the quick suite: 35-45 s on 2 cores
  hopbench --full --json full.json --plot full.svg
  hopbench --only 'TCP|UDP' --rounds 5
  hopbench --only '^portal' --hopwire ./bin/hopwire
  git stash; hopbench --json old.json; git stash pop; hopbench --json new.json
  hopbench compare old.json new.json`

func longHelp() string {
	var b strings.Builder
	b.WriteString(`hopbench measures hopwire's forwarding engine, its TCP and UDP
transports, nodes as OS processes and TCP portals against plain Go.
Every figure is a ratio against a baseline in the same run.

Each scenario runs hopwire and a baseline that does the same work the
plain-Go way (goroutines and channels moving the same pooled messages in
process; net.Conn and net.UDPConn on the same loopback; plain Go relay
and echo processes; direct TCP between the same client and server). A
run is a number of rounds; each round measures both sides of every
scenario once, alternating which goes first, so the noise of a shared
machine hits both and the rounds' spread shows how much there was. It
reports the median of each side, their ratio and the range of the
rounds' own ratios; for round trips, the distribution (p50, p90, p99,
p99.9, max) of every sample of every round; for rates, msgs/s and MB/s
at the stated payload. An in-process hop (ns/hop) is a mean over many:
reading the clock around each would cost as much as the hop.

Absolute figures depend on the machine and what else runs on it; read
the ratio: how many times better hopwire did than its baseline
(baseline/hopwire for times, hopwire/baseline for rates). Above 1,
hopwire is ahead. Every report records the Go version, GOMAXPROCS, CPU,
kernel, load average, commit and date.

The process scenarios need the hopwire binary: --hopwire, else the one
beside hopbench, else hopwire on PATH, else, run from hopwire's source
tree, one built into a temporary directory; hopbench says which it uses,
and skips those scenarios when it has none. Their nodes are stopped when
the run ends, an interrupted one too (hopwire node delete --all in a
state directory of the run's own). Every socket binds 127.0.0.1.

Scenarios:
`)
	for _, sc := range bench.Scenarios() {
		fmt.Fprintf(&b, "  %-26s vs %s, in %s\n      %s\n", sc.Name, sc.Baseline, sc.Unit, sc.About)
		if sc.Bimodal != "" {
			fmt.Fprintf(&b, "      Bimodal: %s\n", sc.Bimodal)
		}
	}
	b.WriteString(`
hopbench compare OLD.json NEW.json says what changed between two reports
beyond the noise of their rounds.

Progress goes to stderr; the table (or JSON with --json -) to stdout.`)
	return b.String()
}
