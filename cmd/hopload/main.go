// Command hopload is hopwire's load generator: it sends requests to an
// echo service on a node and measures the round trips.
//
// A typical session starts a node with an echo service and a hop,
//
//	$ hopwire node run --name n1 --tcp-listen 127.0.0.1:4000 --echo echoer --hop hop
//	node n1 ready tcp=127.0.0.1:4000
//
// and, in another terminal, loads it through the hop with 32 requests in
// flight (a closed loop: each reply lets the next request go):
//
//	$ hopload --to '1#127.0.0.1:4000 => hop => echoer' --count 100000 --window 32
//	route      1#127.0.0.1:4000 => hop => echoer (tcp)
//	load       64-byte payloads, closed loop, 1 sender(s) x window 32
//	requests   sent 100000, received 100000, lost 0, errors 0
//	throughput 189714 msgs/s, 12.14 MB/s of payload each way, over 0.527s
//	latency    p50 150.7µs  p90 256.9µs  p99 432.1µs  p99.9 2.51ms  max 11.87ms  (min 29.1µs, mean 168.5µs)
//
// or at a fixed rate (an open loop: requests go out on schedule whatever
// comes back, and latency counts from when each was due, so a stall
// shows in every request it held up; the uncorrected figures, from the
// actual sends, are beside it for contrast):
//
//	$ hopload --to /ip4/127.0.0.1/tcp/4000/service/echoer --rate 10000 --count 0 --duration 10s
//	route      /ip4/127.0.0.1/tcp/4000/service/echoer = 1#127.0.0.1:4000 => 0#echoer (tcp)
//	load       64-byte payloads, open loop at 10000 msgs/s from 1 sender(s)
//	requests   sent 100000, received 100000, lost 0, errors 0
//	schedule   sent 10000 msgs/s of 10000 asked; 28 sent late (over 1.00ms behind), max lag 2.41ms
//	throughput 9999 msgs/s, 0.64 MB/s of payload each way, over 10.000s
//	latency    p50 238.7µs  p90 436.2µs  p99 785.4µs  p99.9 2.38ms  max 3.43ms  (min 38.0µs, mean 270.3µs)
//	           (from the scheduled send times)
//	uncorrected p50 134.0µs  p90 332.8µs  p99 519.9µs  p99.9 2.08ms  max 3.35ms  (min 34.9µs, mean 160.4µs)
//	           (from the actual sends: blind to what could not be sent on time)
//
// with a progress line (rate, errors, p50/p99 so far) on stderr every
// second (figures vary by machine). --to also takes /node/NAME for a
// node made with hopwire node create. The exit status is 0 when every
// request came back in time and checked (and every one scheduled was
// sent), 1 otherwise. See hopload --help for the flags, and Run for the
// same from Go.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	go func() {
		<-ctx.Done()
		stop() // a second Ctrl-C kills at once
	}()
	err := newCommand().ExecuteContext(ctx)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "hopload:", err)
		os.Exit(1)
	}
}
