package main

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"

	"github.com/spf13/cobra"
)

const longHelp = `hopload drives a hopwire node with requests and measures what comes back.

It starts a node of its own, sends requests along --to and expects each
one back unchanged: the route must end at an echo service (hopwire node
run --echo NAME, or the echo service of hopwire node create). --to is a
route ('1#127.0.0.1:4000 => echoer') or a multiaddr
(/ip4/127.0.0.1/tcp/4000/service/echoer, or /node/n1/service/echo for a
node in $HOPWIRE_HOME). Every payload carries the run's id, the sender
and a sequence number, so each reply is matched to its request and
checked byte for byte; a reply that comes after --timeout counts as lost
(and as late), a second reply as a duplicate.

Closed loop (the default): each of --concurrency senders keeps --window
requests in flight and sends the next when a reply comes. Latency counts
from each send; a stall of the node also stops the senders, so it shows
in few samples.

Open loop (--rate R): requests go out on a fixed schedule, R per second
over all senders, however many are in flight, and each latency counts
from the request's scheduled time, whether or not it could be sent then
(wrk2's correction for coordinated omission): a stall shows in every
request it held up. The summary gives the uncorrected latency (from the
actual sends) beside it, how many requests went out late (over 1ms
behind) and the furthest behind one.

The run ends when --count requests are sent or --duration has passed,
whichever comes first; requests still in flight then get up to --timeout.
The first --warmup of it is checked but left out of the figures. Ctrl-C
ends it early and still prints the summary (a second Ctrl-C quits at
once).

It reports round-trip latency (p50, p90, p99, p99.9, max, from an HDR
histogram; --histogram writes the whole distribution), throughput
(replies/s and payload MB/s each way) and every request sent, received,
lost (no reply in time: a refused connection, a dropped reply, a timeout),
refused for backpressure, corrupt or duplicated. Progress lines (rate,
errors, p50/p99 so far) go to stderr, the summary to stdout.

Exit status: 0 if every request came back in time and checked with no
error (and, with --rate, every scheduled one was sent); 1 otherwise,
with a one-line reason on stderr.`

const examples = `  # a node with an echo service and a hop, in one terminal:
  hopwire node run --name n1 --tcp-listen 127.0.0.1:4000 --echo echoer --hop hop

  # ping-pong, 10000 requests of 64 bytes:
  hopload --to '1#127.0.0.1:4000 => echoer'

  # the same as a multiaddr, through the hop, 32 requests in flight:
  hopload --to /ip4/127.0.0.1/tcp/4000/service/hop/service/echoer --count 100000 --window 32

  # open loop: 20000 msgs/s for 30s after a 2s warm-up, 4 senders over 2
  # connections, 1 KiB payloads, as JSON, and the histogram for plotting:
  hopload --to '1#127.0.0.1:4000 => echoer' --count 0 --duration 32s --warmup 2s \
      --rate 20000 --concurrency 4 --connections 2 --size 1024 --json --histogram lat.hgrm

  # a node made with hopwire node create n1 (its echo service is "echo"):
  hopload --to /node/n1/service/echo --rate 1000 --duration 10s`

func newCommand() *cobra.Command {
	cfg := Config{}
	var asJSON, verbose bool
	var histFile string
	cmd := &cobra.Command{
		Use:           "hopload --to ROUTE|MULTIADDR [flags]",
		Short:         "Load a hopwire node with requests and measure the replies",
		Long:          longHelp,
		Example:       examples,
		Args:          cobra.NoArgs,
		SilenceUsage:  true,
		SilenceErrors: true, // main prints the one line
		RunE: func(cmd *cobra.Command, _ []string) error {
			// In Config a zero means the default; on the command line it
			// is a mistake.
			for _, name := range []string{"size", "concurrency", "window", "timeout", "connections"} {
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
			if histFile != "" {
				if werr := writeFile(histFile, res.WriteHistogram); werr != nil && err == nil {
					err = fmt.Errorf("--histogram: %w", werr)
				}
			}
			if err != nil {
				return err
			}
			return res.Err()
		},
	}
	f := cmd.Flags()
	f.StringVar(&cfg.Route, "to", "", "where to send requests, ending at an echo service: a route, '1#127.0.0.1:4000 => echoer', or a multiaddr, /ip4/127.0.0.1/tcp/4000/service/echoer or /node/n1/service/echo (required)")
	f.IntVar(&cfg.Size, "size", DefaultSize, fmt.Sprintf("payload size in bytes, %d..%d (1 MiB); a UDP route is bounded by the datagram size too", MinSize, MaxSize))
	f.Uint64Var(&cfg.Count, "count", DefaultCount, "requests to send over all senders; 0: until --duration")
	f.DurationVar(&cfg.Duration, "duration", DefaultDuration, "send for at most this long; 0: no limit (with --count 0: until Ctrl-C)")
	f.IntVar(&cfg.Concurrency, "concurrency", 1, fmt.Sprintf("independent senders, each with its own app context, 1..%d", MaxConcurrency))
	f.IntVar(&cfg.Window, "window", 1, fmt.Sprintf("closed loop: requests in flight per sender, 1..%d: 1 is ping-pong, more is pipelined", MaxWindow))
	f.Float64Var(&cfg.Rate, "rate", 0, "open loop: requests per second over all senders, sent on schedule whatever is in flight, latency counted from the schedule; 0: closed loop")
	f.IntVar(&cfg.Connections, "connections", 1, "TCP connections to spread the senders over, 1..--concurrency")
	f.DurationVar(&cfg.Warmup, "warmup", 0, "leave the run's first this long out of the figures (--duration and --count include it)")
	f.StringVar(&histFile, "histogram", "", "write the latency histogram to this file as HDR percentile-distribution text (values in ms)")
	f.DurationVar(&cfg.Timeout, "timeout", DefaultTimeout, "how long a reply may take; a later one counts as lost")
	f.DurationVar(&cfg.Progress, "progress", DefaultProgress, "print a progress line to stderr this often; 0: off")
	f.BoolVar(&asJSON, "json", false, "print the summary as one JSON object on stdout instead of text")
	f.BoolVar(&verbose, "verbose", false, "log the embedded node's debug messages to stderr")
	_ = cmd.MarkFlagRequired("to")
	return cmd
}

func isZero(v string) bool { return v == "0" || v == "0s" }

// writeFile creates path and writes it with write.
func writeFile(path string, write func(io.Writer) error) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	werr := write(f)
	return errors.Join(werr, f.Close())
}
