package main

import (
	"fmt"
	"log/slog"

	"github.com/spf13/cobra"
)

const longHelp = `hopload drives a hopwire node with requests and measures what comes back.

It starts a node of its own, sends requests along the route given with
--to and expects each one back unchanged: the route must end at an echo
service (hopwire node run --echo NAME). Every payload carries the run's
id, the sender and a sequence number, so each reply is matched to its
request and checked byte for byte; a reply that comes after --timeout
counts as lost (and as late), a second reply as a duplicate.

The run ends when --count requests are sent or --duration has passed,
whichever comes first; requests still in flight then get up to --timeout.
Ctrl-C ends it early and still prints the summary (a second Ctrl-C quits
at once).

It reports round-trip latency (p50, p90, p99, p99.9, max, from an HDR
histogram), throughput (replies/s and payload MB/s each way) and the
requests sent, received, lost and errors. Progress lines go to stderr,
the summary to stdout.

Exit status: 0 if every request came back in time and checked with no
error; 1 otherwise, with a one-line reason on stderr.`

const examples = `  # a node with an echo service and a hop, in one terminal:
  hopwire node run --name n1 --tcp-listen 127.0.0.1:4000 --echo echoer --hop hop

  # ping-pong, 10000 requests of 64 bytes:
  hopload --to '1#127.0.0.1:4000 => echoer'

  # through the hop, 32 requests in flight, 100000 requests:
  hopload --to '1#127.0.0.1:4000 => hop => echoer' --count 100000 --window 32

  # 4 senders at 20000 msgs/s in all for 30s, 1 KiB payloads, as JSON:
  hopload --to '1#127.0.0.1:4000 => echoer' --count 0 --duration 30s \
      --concurrency 4 --rate 20000 --size 1024 --json`

func newCommand() *cobra.Command {
	cfg := Config{}
	var asJSON, verbose bool
	cmd := &cobra.Command{
		Use:           "hopload --to ROUTE [flags]",
		Short:         "Load a hopwire node with requests and measure the replies",
		Long:          longHelp,
		Example:       examples,
		Args:          cobra.NoArgs,
		SilenceUsage:  true,
		SilenceErrors: true, // main prints the one line
		RunE: func(cmd *cobra.Command, _ []string) error {
			// In Config a zero means the default; on the command line it
			// is a mistake.
			for _, name := range []string{"size", "concurrency", "window", "timeout"} {
				if f := cmd.Flags().Lookup(name); f.Changed && isZero(f.Value.String()) {
					return &FlagError{name, f.Value.String(), "must be more than 0"}
				}
			}
			cfg.ProgressOut = cmd.ErrOrStderr()
			if verbose {
				cfg.Logger = slog.New(slog.NewTextHandler(cmd.ErrOrStderr(), &slog.HandlerOptions{Level: slog.LevelDebug}))
			}
			res, err := Run(cmd.Context(), cfg)
			if res == nil {
				return err
			}
			write := res.WriteText
			if asJSON {
				write = res.WriteJSON
			}
			if werr := write(cmd.OutOrStdout()); werr != nil && err == nil {
				err = fmt.Errorf("writing the summary: %w", werr)
			}
			if err != nil {
				return err
			}
			return res.Err()
		},
	}
	f := cmd.Flags()
	f.StringVar(&cfg.Route, "to", "", "route to send requests along, ending at an echo service, e.g. '1#127.0.0.1:4000 => echoer' (required)")
	f.IntVar(&cfg.Size, "size", DefaultSize, fmt.Sprintf("payload size in bytes, %d..%d (1 MiB); a UDP route is bounded by the datagram size too", MinSize, MaxSize))
	f.Uint64Var(&cfg.Count, "count", DefaultCount, "requests to send over all senders; 0: until --duration")
	f.DurationVar(&cfg.Duration, "duration", DefaultDuration, "send for at most this long; 0: no limit (with --count 0: until Ctrl-C)")
	f.IntVar(&cfg.Concurrency, "concurrency", 1, fmt.Sprintf("independent senders, each with its own app context, 1..%d", MaxConcurrency))
	f.IntVar(&cfg.Window, "window", 1, fmt.Sprintf("requests in flight per sender, 1..%d: 1 is ping-pong, more is pipelined", MaxWindow))
	f.Float64Var(&cfg.Rate, "rate", 0, "target requests per second over all senders; 0: as fast as replies allow")
	f.DurationVar(&cfg.Timeout, "timeout", DefaultTimeout, "how long a reply may take; a later one counts as lost")
	f.DurationVar(&cfg.Progress, "progress", DefaultProgress, "print a progress line to stderr this often; 0: off")
	f.BoolVar(&asJSON, "json", false, "print the summary as one JSON object on stdout instead of text")
	f.BoolVar(&verbose, "verbose", false, "log the embedded node's debug messages to stderr")
	_ = cmd.MarkFlagRequired("to")
	return cmd
}

func isZero(v string) bool { return v == "0" || v == "0s" }
